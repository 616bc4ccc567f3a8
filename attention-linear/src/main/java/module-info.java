/** attention4j linear kernels, built on the dense engine of {@code dev.attention4j.simd}. */
module dev.attention4j.linear {
  requires transitive dev.attention4j.core;
  requires dev.attention4j.simd;
}
