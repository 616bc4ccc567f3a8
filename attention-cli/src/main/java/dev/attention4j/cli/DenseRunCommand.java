package dev.attention4j.cli;

import dev.attention4j.cli.OptionValues.Impl;
import dev.attention4j.core.AttentionOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code run dense}: dense softmax attention with causal, window, softcap, ALiBi and key lengths. */
@Command(name = "dense", mixinStandardHelpOptions = true, sortOptions = false,
    description = {
        "Dense softmax attention: writes O (and LSE); prints nothing on stdout on success.",
        "Inputs: <f4, <f2, <f8, or <u2 read as bfloat16 with --bf16; any byte order and layout."},
    footer = {"", "Exit status: 0 success, 2 bad input (one 'error:' line on stderr, no file"
        + " written), 1 internal failure."})
final class DenseRunCommand extends SoftmaxRunCommand {

  @Mixin
  DenseMaskOptions mask;

  DenseRunCommand(Console console) {
    // run prints nothing on stdout and reports failures through exceptions
  }

  @Override
  void configure(AttentionOptions.Builder b) {
    mask.applyTo(b);
  }

  @Override
  KernelRunner kernel(Impl impl, int threads) {
    return KernelRunner.dense(impl, threads);
  }
}
