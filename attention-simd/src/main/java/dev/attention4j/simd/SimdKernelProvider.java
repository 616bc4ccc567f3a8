package dev.attention4j.simd;

import dev.attention4j.core.AttentionKernel;
import dev.attention4j.core.KernelProvider;

/**
 * The SIMD kernels, found by {@link dev.attention4j.core.Kernels} through
 * {@link java.util.ServiceLoader} (module path and class path).
 */
public final class SimdKernelProvider implements KernelProvider {

  /** Used by {@link java.util.ServiceLoader}. */
  public SimdKernelProvider() {
  }

  @Override
  public String name() {
    return "simd";
  }

  /** A shared {@link SimdAttention} of the preferred width on the common pool. */
  @Override
  public AttentionKernel dense() {
    return Holder.DENSE;
  }

  private static final class Holder {
    static final SimdAttention DENSE = new SimdAttention();
  }
}
