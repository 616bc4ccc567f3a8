package dev.attention4j.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code run moba}: see {@link SparseOptions.MobaOptions}. */
@Command(name = "moba", mixinStandardHelpOptions = true, sortOptions = false,
    description = {
        "MoBA: each query attends causally to its current block and its topk-1 best past blocks.",
        "Inputs: <f4, <f2, <f8, or <u2 read as bfloat16 with --bf16; any byte order and layout."},
    footer = {"", "Exit status: 0 success, 2 bad input (one 'error:' line on stderr, no file"
        + " written), 1 internal failure."})
final class MobaRunCommand extends SparseRunCommand {

  @Mixin
  SparseOptions.MobaOptions kernel;

  MobaRunCommand(Console console) {
    // run prints nothing on stdout and reports failures through exceptions
  }

  @Override
  SparseSpec spec() {
    return kernel.spec();
  }
}
