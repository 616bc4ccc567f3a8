/**
 * attention4j command line ({@code bin/attention}): {@code run} a kernel on {@code .npy} files,
 * {@code bench} it on random inputs, and {@code demo} every kernel family against the float64
 * reference. The contract is {@code CLI.md}; picocli parses the arguments.
 */
module dev.attention4j.cli {
  requires dev.attention4j.core;
  requires dev.attention4j.simd;
  requires dev.attention4j.sparse;
  requires dev.attention4j.linear;
  requires dev.attention4j.quant;
  requires info.picocli;
  requires java.desktop;

  opens dev.attention4j.cli to info.picocli;
}
