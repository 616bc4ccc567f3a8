package dev.attention4j.cli;

import dev.attention4j.core.AttentionOptions;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code bench dense}: times dense softmax attention on random inputs. */
@Command(name = "dense", mixinStandardHelpOptions = true, sortOptions = false,
    description = {
        "Times dense softmax attention on seeded random float32 inputs.",
        "Median and min of --reps calls after a warm-up; GFLOP/s counts 2 * (D + Dv) flops per",
        "visible (query, key) pair; max_abs_err is against the float64 reference on a run with",
        "Sq and Sk capped at 256 (and fewer heads). Progress notes go to stderr."})
final class DenseBenchCommand implements Callable<Integer> {

  private final Console console;

  @Mixin
  BenchShapeOptions size;

  @Mixin
  DenseMaskOptions mask;

  @Mixin
  BenchRunOptions how;

  DenseBenchCommand(Console console) {
    this.console = console;
  }

  @Override
  public Integer call() {
    BenchRunner.Shape shape = size.shape();
    AttentionOptions.Builder b = AttentionOptions.builder().returnLse(true);
    if (how.scale != null) {
      b.scale(OptionValues.scale(how.scale));
    }
    SoftmaxRunCommand.invalidArgument(() -> mask.applyTo(b));
    AttentionOptions options = SoftmaxRunCommand.invalidArgument(b::build);
    BenchRunner.Result r = BenchRunner.run(console, "dense", shape, options, how,
        threads -> KernelRunner.dense(how.impl(), threads));
    BenchRunner.print(console, r, how.json);
    return Main.OK;
  }
}
