/**
 * attention4j linear attention: feature maps (identity, elu1, relu, Hedgehog), the chunked causal
 * and non-causal kernels, the recurrent decode state, the LoLCATs hybrid, the float64 reference
 * and the Hedgehog fitter. Built on the tile products of {@code dev.attention4j.simd}.
 */
module dev.attention4j.linear {
  requires transitive dev.attention4j.core;
  requires dev.attention4j.simd;
  requires jdk.incubator.vector;

  exports dev.attention4j.linear;
}
