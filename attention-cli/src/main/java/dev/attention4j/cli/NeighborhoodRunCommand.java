package dev.attention4j.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code run neighborhood}: see {@link SparseOptions.NeighborhoodOptions}. */
@Command(name = "neighborhood", mixinStandardHelpOptions = true, sortOptions = false,
    description = {
        "Neighborhood attention (NATTEN rules) on a 1-3-D grid: writes O (and LSE).",
        "Inputs: <f4, <f2, <f8, or <u2 read as bfloat16 with --bf16; any byte order and layout."},
    footer = {"", "Exit status: 0 success, 2 bad input (one 'error:' line on stderr, no file"
        + " written), 1 internal failure."})
final class NeighborhoodRunCommand extends SparseRunCommand {

  @Mixin
  SparseOptions.NeighborhoodOptions kernel;

  NeighborhoodRunCommand(Console console) {
    // run prints nothing on stdout and reports failures through exceptions
  }

  @Override
  SparseSpec spec() {
    return kernel.spec();
  }
}
