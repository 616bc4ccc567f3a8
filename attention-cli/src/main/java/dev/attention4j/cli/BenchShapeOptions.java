package dev.attention4j.cli;

import picocli.CommandLine.Option;

/** The problem size of {@code bench KERNEL}; unset {@code --kv-heads}, {@code --kv-seq} and
 * {@code --dim-v} follow {@code --heads}, {@code --seq} and {@code --dim}. */
final class BenchShapeOptions {

  @Option(names = "--batch", paramLabel = "B", defaultValue = "1", description = "batch (default 1)")
  int batch;

  @Option(names = "--heads", paramLabel = "H", defaultValue = "8",
      description = "query heads (default 8)")
  int heads;

  @Option(names = "--kv-heads", paramLabel = "H", description = "KV heads (default: --heads)")
  Integer kvHeads;

  @Option(names = "--seq", paramLabel = "N", defaultValue = "2048",
      description = "query length (default 2048)")
  int seq;

  @Option(names = "--kv-seq", paramLabel = "N", description = "key length (default: --seq)")
  Integer kvSeq;

  @Option(names = "--dim", paramLabel = "D", defaultValue = "128",
      description = "head dim of Q and K (default 128)")
  int dim;

  @Option(names = "--dim-v", paramLabel = "D", description = "head dim of V (default: --dim)")
  Integer dimV;

  /**
   * The checked shape.
   *
   * @throws UsageException for sizes below 1 or heads that are not a multiple of the KV heads
   */
  BenchRunner.Shape shape() {
    int hkv = kvHeads == null ? heads : kvHeads;
    BenchRunner.Shape s = new BenchRunner.Shape(
        OptionValues.atLeast("--batch", batch, 1),
        OptionValues.atLeast("--heads", heads, 1),
        OptionValues.atLeast("--kv-heads", hkv, 1),
        OptionValues.atLeast("--seq", seq, 1),
        OptionValues.atLeast("--kv-seq", kvSeq == null ? seq : kvSeq, 1),
        OptionValues.atLeast("--dim", dim, 1),
        OptionValues.atLeast("--dim-v", dimV == null ? dim : dimV, 1));
    if (s.qHeads() % s.kvHeads() != 0) {
      throw new UsageException("query heads " + s.qHeads() + " are not a multiple of KV heads "
          + s.kvHeads() + " (--heads, --kv-heads)");
    }
    return s;
  }
}
