package dev.attention4j.cli;

import dev.attention4j.cli.OptionValues.Impl;
import picocli.CommandLine.Option;

/** How {@code bench KERNEL} runs: threads, repetitions, warm-up, seed, output format. */
final class BenchRunOptions {

  @Option(names = "--threads", paramLabel = "N", description = "threads (default 1)")
  Integer threads;

  @Option(names = "--reps", paramLabel = "R", defaultValue = "7",
      description = "timed calls (default 7)")
  int reps;

  @Option(names = "--warmup", paramLabel = "SECONDS", defaultValue = "3",
      description = "untimed warm-up: at least 3 calls and at least this long (default 3;"
          + " the JIT needs about that to compile the kernels)")
  double warmup;

  @Option(names = "--seed", paramLabel = "S", defaultValue = "42",
      description = "seed of the random inputs (default 42)")
  long seed;

  @Option(names = "--scale", paramLabel = "S", description = "softmax scale (default 1/sqrt(D))")
  Double scale;

  @Option(names = "--impl", paramLabel = "fast|reference", defaultValue = "fast",
      description = "time the fast kernel (default) or the float64 reference")
  String impl;

  @Option(names = "--json", description = "one JSON object per result line instead of a table")
  boolean json;

  int threads() {
    return OptionValues.threads(threads, 1);
  }

  int reps() {
    return OptionValues.atLeast("--reps", reps, 1);
  }

  double warmupSeconds() {
    if (!Double.isFinite(warmup) || warmup < 0 || warmup > 3600) {
      throw new UsageException("--warmup " + warmup + ": must be between 0 and 3600 seconds");
    }
    return warmup;
  }

  Impl impl() {
    return Impl.parse(impl);
  }
}
