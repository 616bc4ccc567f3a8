/**
 * Reading and writing tensors as NumPy {@code .npy} files ({@link dev.attention4j.core.io.Npy})
 * and as safetensors files ({@link dev.attention4j.core.io.Safetensors}).
 *
 * <p>Readers validate everything before they allocate: a file can never make them allocate more
 * than its own size implies, and every problem is a
 * {@link dev.attention4j.core.io.TensorFileException} whose message names the file and the
 * numbers. Writers are atomic: they write a temporary file in the target's directory and rename
 * it over the target, so a failed write leaves no partial file and an existing target untouched.
 */
package dev.attention4j.core.io;
