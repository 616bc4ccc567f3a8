/** attention4j sparse kernels, built on the dense engine of {@code dev.attention4j.simd}. */
module dev.attention4j.sparse {
  requires transitive dev.attention4j.core;
  requires transitive dev.attention4j.simd;

  exports dev.attention4j.sparse;
}
