package dev.attention4j.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code bench nabla}: see {@link SparseBenchCommand} and {@link SparseOptions.NablaOptions}. */
@Command(name = "nabla", mixinStandardHelpOptions = true, sortOptions = false,
    description = {
        "Times nabla attention on seeded random float32 inputs.",
        "Median and min of --reps calls after a warm-up; GFLOP/s counts 2 * (D + Dv) flops per",
        "visible (query, key) pair of the kernel's mask; max_abs_err is against the float64",
        "reference under the same mask on sampled rows. Progress notes go to stderr."})
final class NablaBenchCommand extends SparseBenchCommand {

  @Mixin
  SparseOptions.NablaOptions kernel;

  NablaBenchCommand(Console console) {
    super(console);
  }

  @Override
  String kernelName() {
    return "nabla";
  }

  @Override
  SparseSpec spec() {
    return kernel.spec();
  }
}
