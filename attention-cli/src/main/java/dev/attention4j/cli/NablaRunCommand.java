package dev.attention4j.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code run nabla}: see {@link SparseOptions.NablaOptions}. */
@Command(name = "nabla", mixinStandardHelpOptions = true, sortOptions = false,
    description = {
        "NABLA: block-sparse attention over the blocks keeping thr of the pooled softmax mass.",
        "Inputs: <f4, <f2, <f8, or <u2 read as bfloat16 with --bf16; any byte order and layout."},
    footer = {"", "Exit status: 0 success, 2 bad input (one 'error:' line on stderr, no file"
        + " written), 1 internal failure."})
final class NablaRunCommand extends SparseRunCommand {

  @Mixin
  SparseOptions.NablaOptions kernel;

  NablaRunCommand(Console console) {
    // run prints nothing on stdout and reports failures through exceptions
  }

  @Override
  SparseSpec spec() {
    return kernel.spec();
  }
}
