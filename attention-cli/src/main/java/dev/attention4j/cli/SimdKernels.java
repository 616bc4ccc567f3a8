package dev.attention4j.cli;

import dev.attention4j.core.AttentionKernel;
import dev.attention4j.core.Kernels;
import dev.attention4j.simd.SimdAttention;
import java.util.concurrent.ForkJoinPool;

/**
 * The SIMD dense kernel on a given pool. Kept apart from {@link KernelRunner} so that the SIMD
 * classes are only loaded when the provider in use is the SIMD one (on a class path without
 * {@code --add-modules jdk.incubator.vector} the scalar fallback runs and this class is never
 * touched).
 */
final class SimdKernels {

  private SimdKernels() {
  }

  /** True when {@link Kernels#dense()} is the SIMD kernel. */
  static boolean inUse() {
    return Kernels.dense().getClass().getName().equals("dev.attention4j.simd.SimdAttention");
  }

  /** The SIMD kernel of the preferred vector width (as {@link Kernels#dense()}) on {@code pool}. */
  static AttentionKernel dense(ForkJoinPool pool) {
    return new SimdAttention(pool);
  }
}
