package dev.attention4j.cli;

import dev.attention4j.core.Tensor;
import dev.attention4j.core.io.TensorFileException;
import dev.attention4j.linear.FeatureMap;
import dev.attention4j.linear.FeatureWeights;
import dev.attention4j.linear.LinearOptions;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import picocli.CommandLine.Option;

/** The options of {@code run linear} and {@code bench linear} (CLI.md). */
final class LinearKernelOptions {

  @Option(names = "--feature-map", required = true,
      paramLabel = "identity|elu1|relu|hedgehog|hedgehog-exp",
      description = "feature map phi (identity needs --no-normalize)")
  String featureMap;

  @Option(names = "--feature-weights", paramLabel = "WQ.npy,WK.npy|W.safetensors",
      description = "Hedgehog weights wq [Hq, D, F] and wk [Hkv, D, F] (hedgehog and"
          + " hedgehog-exp only)")
  String featureWeights;

  @Option(names = "--causal", description = "causal, bottom-right: key s visible iff"
      + " s <= t + Sk - Sq")
  boolean causal;

  @Option(names = "--no-normalize", description = "unnormalised: o_t = sum w_ts v_s")
  boolean noNormalize;

  @Option(names = "--decay", paramLabel = "SLOPES.npy",
      description = "per-head decay slopes [Hq] (lambda = exp(-slope)); needs --causal"
          + " --no-normalize")
  Path decay;

  @Option(names = "--hybrid-window", paramLabel = "W",
      description = "LoLCATs hybrid: softmax over the last W keys, linear over older ones")
  Integer hybridWindow;

  @Option(names = "--mix", paramLabel = "G[,G...]",
      description = "hybrid mixing factor 0 < g < 1, one value or one per query head")
  String mix;

  @Option(names = "--chunk-size", paramLabel = "C",
      description = "chunk size of the chunked kernel (default 64; results do not depend on it"
          + " beyond rounding)")
  Integer chunkSize;

  /** The feature map kind, checked. */
  FeatureMap.Kind kind() {
    try {
      return FeatureMap.Kind.parse(featureMap);
    } catch (IllegalArgumentException e) {
      throw new UsageException("--feature-map: " + e.getMessage(), e);
    }
  }

  /** Reads {@code --feature-weights} (null when not given), checking it fits the map. */
  FeatureWeights weights(FeatureMap.Kind kind) {
    return weights(kind, false);
  }

  /**
   * Reads {@code --feature-weights} (null when not given), checking it fits the map; with
   * {@code bf16}, {@code <u2} {@code .npy} weights are read as bfloat16 bits, as every other
   * {@code <u2} input.
   */
  FeatureWeights weights(FeatureMap.Kind kind, boolean bf16) {
    if (featureWeights == null) {
      return null;
    }
    if (!kind.needsWeights()) {
      throw new UsageException("--feature-weights: feature map " + kind.label()
          + " takes no weights (only hedgehog and hedgehog-exp do)");
    }
    return readWeights("--feature-weights", featureWeights, bf16);
  }

  /**
   * {@code WQ.npy,WK.npy} (any float dtype, or {@code <u2} bfloat16 bits with {@code bf16}) or
   * {@code W.safetensors}, with every problem a usage error.
   */
  static FeatureWeights readWeights(String option, String spec, boolean bf16) {
    String[] parts = spec.split(",", -1);
    if (parts.length > 2 || parts[0].isBlank()) {
      throw new UsageException(option + " '" + spec + "': expected WQ.npy,WK.npy or"
          + " W.safetensors");
    }
    Path[] paths = new Path[parts.length];
    for (int i = 0; i < parts.length; i++) {
      paths[i] = Path.of(parts[i].strip());
      if (!Files.exists(paths[i])) {
        throw new UsageException(option + " " + paths[i] + ": no such file");
      }
      if (Files.isDirectory(paths[i])) {
        throw new UsageException(option + " " + paths[i] + ": is a directory");
      }
    }
    try {
      if (parts.length == 2) {
        Tensor wq = TensorFiles.readTensor(option, paths[0], bf16);
        Tensor wk = TensorFiles.readTensor(option, paths[1], bf16);
        return FeatureWeights.of(wq, wk);
      }
      if (isNpy(paths[0])) {
        throw new UsageException(option + " " + spec + ": is an .npy file: give WQ.npy,WK.npy"
            + " (two files) or one W.safetensors holding wq and wk");
      }
      return FeatureWeights.read(paths[0]);
    } catch (TensorFileException e) {
      String msg = e.getMessage() == null ? e.toString() : e.getMessage();
      throw new UsageException(option + " " + msg, e);
    } catch (IllegalArgumentException e) {
      throw new UsageException(option + " " + spec + ": " + e.getMessage(), e);
    }
  }

  /** True when the file starts with the {@code .npy} magic {@code \x93NUMPY}. */
  private static boolean isNpy(Path p) {
    byte[] magic = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    try (InputStream in = Files.newInputStream(p)) {
      return Arrays.equals(in.readNBytes(magic.length), magic);
    } catch (IOException e) {
      return false;
    }
  }

  /** Builds the options; the map's weights are checked against the tensors by the kernel. */
  LinearOptions options(FeatureMap map, Double scale, int qHeads) {
    if (map.kind().needsWeights() && map.weights() == null) {
      throw new UsageException("--feature-map " + map.kind().label() + " needs"
          + " --feature-weights WQ.npy,WK.npy or W.safetensors");
    }
    LinearOptions.Builder b = LinearOptions.builder(map).causal(causal).normalize(!noNormalize);
    if (chunkSize != null) {
      b.chunkSize(OptionValues.atLeast("--chunk-size", chunkSize, 1));
    }
    if (decay != null) {
      if (!causal || !noNormalize) {
        throw new UsageException("--decay needs --causal --no-normalize (decay is for causal,"
            + " unnormalised linear attention)");
      }
      b.decaySlopes(TensorFiles.readSlopes("--decay", decay));
    }
    if (hybridWindow != null || mix != null) {
      if (hybridWindow == null) {
        throw new UsageException("--mix needs --hybrid-window W");
      }
      if (mix == null) {
        throw new UsageException("--hybrid-window needs --mix G (0 < g < 1)");
      }
      OptionValues.atLeast("--hybrid-window", hybridWindow, 1);
      if (!causal) {
        throw new UsageException("--hybrid-window needs --causal");
      }
      b.hybrid(hybridWindow, mixValues());
    }
    if (scale != null) {
      b.scale(OptionValues.scale(scale));
    }
    return SoftmaxRunCommand.invalidArgument(b::build);
  }

  private double[] mixValues() {
    String[] parts = mix.split(",", -1);
    double[] g = new double[parts.length];
    for (int i = 0; i < parts.length; i++) {
      try {
        g[i] = Double.parseDouble(parts[i].strip());
      } catch (NumberFormatException e) {
        throw new UsageException("--mix '" + mix + "': '" + parts[i].strip()
            + "' is not a number");
      }
      if (!(g[i] > 0 && g[i] < 1)) {
        throw new UsageException("--mix '" + mix + "': " + g[i] + " must be 0 < g < 1");
      }
    }
    return g;
  }

  /** A short description of the options for tables. */
  static String describe(LinearOptions o) {
    StringBuilder sb = new StringBuilder(o.featureMap().kind().label());
    sb.append(o.causal() ? " causal" : " full");
    if (!o.normalize()) {
      sb.append(" unnorm");
    }
    if (o.hasDecay()) {
      sb.append(" decay");
    }
    if (o.isHybrid()) {
      sb.append(" hybrid W=").append(o.hybridWindow());
    }
    return sb.toString();
  }
}
