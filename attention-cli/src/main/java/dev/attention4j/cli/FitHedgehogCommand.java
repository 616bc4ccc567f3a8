package dev.attention4j.cli;

import dev.attention4j.core.Tensor;
import dev.attention4j.linear.HedgehogFitter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code fit-hedgehog}: fits Hedgehog feature-map weights by attention distillation. */
@Command(name = "fit-hedgehog", mixinStandardHelpOptions = true, sortOptions = false,
    description = {
        "Fits Hedgehog feature-map weights for every head by attention distillation on captured",
        "Q [B, Hq, S, D] and K [B, Hkv, S, D]: cross-entropy between the softmax attention",
        "weights (scale 1/sqrt(D)) and the normalised linear attention weights, Adam, one",
        "progress line per epoch on stderr. Writes wq [Hq, D, F] and wk [Hkv, D, F] as float32",
        "safetensors (final loss in __metadata__) for run linear --feature-map hedgehog",
        "--feature-weights W.safetensors."},
    footer = {"", "Exit status: 0 success, 2 bad input (one 'error:' line on stderr, no file"
        + " written), 1 internal failure."})
final class FitHedgehogCommand implements Callable<Integer> {

  private final Console console;

  @Option(names = "--q", required = true, paramLabel = "Q.npy",
      description = "captured queries [B, Hq, S, D]")
  Path q;

  @Option(names = "--k", required = true, paramLabel = "K.npy",
      description = "captured keys [B, Hkv, S, D]")
  Path k;

  @Option(names = "--features", required = true, paramLabel = "F",
      description = "projection width F (the feature dim is 2F)")
  int features;

  @Option(names = "--out", required = true, paramLabel = "W.safetensors",
      description = "output weights (replaced atomically)")
  Path out;

  @Option(names = "--epochs", paramLabel = "E", defaultValue = "100",
      description = "epochs (default 100)")
  int epochs;

  @Option(names = "--seed", paramLabel = "S", defaultValue = "0",
      description = "seed of the initial weights (default 0)")
  long seed;

  @Option(names = "--causal", description = "distil over causal pairs only (s <= t)")
  boolean causal;

  @Option(names = "--lr", paramLabel = "RATE", description = "Adam learning rate (default "
      + HedgehogFitter.Config.DEFAULT_LEARNING_RATE + ")")
  Double lr;

  @Option(names = "--bf16", description = "read every <u2 input as bfloat16 bits")
  boolean bf16;

  FitHedgehogCommand(Console console) {
    this.console = console;
  }

  @Override
  public Integer call() {
    OptionValues.atLeast("--features", features, 1);
    OptionValues.atLeast("--epochs", epochs, 1);
    double rate = lr == null ? HedgehogFitter.Config.DEFAULT_LEARNING_RATE : lr;
    if (!(rate > 0) || !Double.isFinite(rate)) {
      throw new UsageException("--lr " + rate + ": must be finite and > 0");
    }
    OutputFiles.check("--out", out);
    Tensor qt = TensorFiles.readTensor("--q", q, bf16);
    Tensor kt = TensorFiles.readTensor("--k", k, bf16);
    HedgehogFitter.Config config = new HedgehogFitter.Config(features, epochs, seed, causal,
        rate);
    // shapes are checked before the first epoch
    HedgehogFitter.Result r = SoftmaxRunCommand.invalidArgument(
        () -> HedgehogFitter.fit(qt, kt, config, console::note));
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put("format", "hedgehog");
    meta.put("feature_map", "hedgehog");
    meta.put("features", Integer.toString(features));
    meta.put("loss", String.format(Locale.ROOT, "%.9g", r.loss()));
    meta.put("kl", String.format(Locale.ROOT, "%.9g", r.kl()));
    meta.put("epochs", Integer.toString(epochs));
    meta.put("seed", Long.toString(seed));
    meta.put("causal", Boolean.toString(causal));
    try {
      // Safetensors.write goes through a temporary file and a rename
      r.weights().write(out, meta);
    } catch (IOException e) {
      throw new UsageException("cannot write --out " + out + ": " + e, e);
    }
    // stderr has one progress line per epoch and nothing else (CLI.md); the final loss is in the
    // file's __metadata__
    return Main.OK;
  }
}
