package dev.attention4j.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code attention}: the root command; without a subcommand it is an error. */
@Command(name = "attention", mixinStandardHelpOptions = true,
    version = "attention4j 0.1.0-SNAPSHOT",
    description = {
        "Attention kernels for the JVM: run a kernel on .npy files, benchmark it, or run the demo.",
        "Without arguments, runs the demo."},
    footer = {"", "Exit status: 0 success, 2 bad input (one 'error:' line on stderr),"
        + " 1 internal failure."})
final class RootCommand implements Callable<Integer> {

  @Override
  public Integer call() {
    throw new UsageException("missing command (commands: run, bench, demo, fit-hedgehog, render-masks; see --help)");
  }
}
