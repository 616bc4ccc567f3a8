package dev.attention4j.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code attention bench KERNEL ...}: the kernels are added by {@link KernelCatalog}. */
@Command(name = "bench", mixinStandardHelpOptions = true,
    description = {
        "Times a kernel on random inputs and checks it against the float64 reference.",
        "Median and min of --reps calls after a warm-up; the error is measured on a smaller run",
        "of the same configuration. A table on stdout, or one JSON object per line with --json."})
final class BenchCommand implements Callable<Integer>, KernelGroup {

  @Override
  public Integer call() {
    throw new UsageException("missing kernel: bench KERNEL [options] (kernels: "
        + KernelCatalog.names(true) + ")");
  }
}
