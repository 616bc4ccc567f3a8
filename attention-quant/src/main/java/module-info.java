/**
 * attention4j quantized kernels: bit-exact INT8/INT4/FP8/FP4/NVFP4/MXFP4 codecs (scalar and
 * Vector API), packed tensors with explicit scale layouts and their safetensors files, and the
 * SageAttention family built on the dense engine of {@code dev.attention4j.simd}.
 */
module dev.attention4j.quant {
  requires transitive dev.attention4j.core;
  requires transitive dev.attention4j.simd;
  requires jdk.incubator.vector;

  exports dev.attention4j.quant;
}
