/**
 * attention4j SIMD kernels on the JDK Vector API: the dense FlashAttention-2 engine (tile loop,
 * microkernels, exp) that the sparse, linear and quantized kernels reuse.
 */
module dev.attention4j.simd {
  requires transitive dev.attention4j.core;
  requires jdk.incubator.vector;

  exports dev.attention4j.simd;

  provides dev.attention4j.core.KernelProvider with dev.attention4j.simd.SimdKernelProvider;
}
