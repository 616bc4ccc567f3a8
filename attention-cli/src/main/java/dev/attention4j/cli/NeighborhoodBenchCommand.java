package dev.attention4j.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code bench neighborhood}: see {@link SparseBenchCommand} and {@link SparseOptions.NeighborhoodOptions}. */
@Command(name = "neighborhood", mixinStandardHelpOptions = true, sortOptions = false,
    description = {
        "Times neighborhood attention on seeded random float32 inputs.",
        "Median and min of --reps calls after a warm-up; GFLOP/s counts 2 * (D + Dv) flops per",
        "visible (query, key) pair of the kernel's mask; max_abs_err is against the float64",
        "reference under the same mask on sampled rows. Progress notes go to stderr."})
final class NeighborhoodBenchCommand extends SparseBenchCommand {

  @Mixin
  SparseOptions.NeighborhoodOptions kernel;

  NeighborhoodBenchCommand(Console console) {
    super(console);
  }

  @Override
  String kernelName() {
    return "neighborhood";
  }

  @Override
  SparseSpec spec() {
    return kernel.spec();
  }

  @Spec
  CommandSpec commandSpec;

  /** Without --seq (and --kv-seq), the lengths are the grid's token count. */
  @Override
  BenchRunner.Shape shape() {
    BenchRunner.Shape s = size.shape();
    if (commandSpec.commandLine().getParseResult().hasMatchedOption("--seq")
        || commandSpec.commandLine().getParseResult().hasMatchedOption("--kv-seq")) {
      return s;
    }
    long tokens = 1;
    for (int x : kernel.grid()) {
      tokens *= x;
    }
    if (tokens > Integer.MAX_VALUE) {
      throw new UsageException("--grid " + kernel.grid + ": too many tokens");
    }
    return new BenchRunner.Shape(s.batch(), s.qHeads(), s.kvHeads(), (int) tokens, (int) tokens,
        s.dim(), s.dimV());
  }
}
