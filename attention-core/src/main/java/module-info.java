/**
 * attention4j core: tensors, options and masks, the float64 reference oracle, the scalar
 * fallback kernel, the LSE merge, error metrics and {@code .npy}/safetensors I/O. Never reads the
 * Vector API; the SIMD kernels come in through {@link dev.attention4j.core.KernelProvider}.
 */
module dev.attention4j.core {
  requires commons.math3;
  requires com.fasterxml.jackson.core;

  exports dev.attention4j.core;
  exports dev.attention4j.core.io;

  uses dev.attention4j.core.KernelProvider;
}
