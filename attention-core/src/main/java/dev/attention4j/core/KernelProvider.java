package dev.attention4j.core;

/**
 * A source of fast kernels, found with {@link java.util.ServiceLoader}. The SIMD module provides
 * one; when none is found, or the Vector API is not readable, {@link Kernels} falls back to the
 * scalar kernels of this module.
 */
public interface KernelProvider {

  /** A short name, such as {@code "simd"}. */
  String name();

  /** The dense softmax-attention kernel. */
  AttentionKernel dense();
}
