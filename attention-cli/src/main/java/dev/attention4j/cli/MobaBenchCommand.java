package dev.attention4j.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code bench moba}: see {@link SparseBenchCommand} and {@link SparseOptions.MobaOptions}. */
@Command(name = "moba", mixinStandardHelpOptions = true, sortOptions = false,
    description = {
        "Times moba attention on seeded random float32 inputs.",
        "Median and min of --reps calls after a warm-up; GFLOP/s counts 2 * (D + Dv) flops per",
        "visible (query, key) pair of the kernel's mask; max_abs_err is against the float64",
        "reference under the same mask on sampled rows. Progress notes go to stderr."})
final class MobaBenchCommand extends SparseBenchCommand {

  @Mixin
  SparseOptions.MobaOptions kernel;

  MobaBenchCommand(Console console) {
    super(console);
  }

  @Override
  String kernelName() {
    return "moba";
  }

  @Override
  SparseSpec spec() {
    return kernel.spec();
  }
}
