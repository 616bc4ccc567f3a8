package dev.attention4j.cli;

import dev.attention4j.core.AttentionOptions;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * The dense kernel's mask and logit options, shared by {@code run dense} and {@code bench dense}
 * (CLI.md lists them once, for both).
 */
final class DenseMaskOptions {

  @Option(names = "--causal", description = "causal mask (key j visible iff j <= i + off)")
  boolean causal;

  @Option(names = "--align", paramLabel = "bottom-right|top-left", defaultValue = "bottom-right",
      description = "diagonal of causal, window and ALiBi (default bottom-right)")
  String align;

  @Option(names = "--window", paramLabel = "LEFT,RIGHT",
      description = "sliding window, -1 = unbounded on that side")
  String window;

  @Option(names = "--softcap", paramLabel = "C", defaultValue = "0",
      description = "logit softcap c * tanh(s / c) (0 = off)")
  double softcap;

  @Option(names = "--alibi", paramLabel = "SLOPES.npy",
      description = "ALiBi slopes [Hq], float32 or float64: s -= slope_h * |i + off - j|")
  Path alibi;

  @Option(names = "--kv-lens", paramLabel = "LENS.npy",
      description = "valid key length per batch [B], int32 or int64 (0 <= len <= Sk)")
  Path kvLens;

  /** Checks the values and sets them on {@code b}, reading the slope and length files. */
  void applyTo(AttentionOptions.Builder b) {
    b.causal(causal);
    b.alignment(OptionValues.alignment(align));
    if (window != null) {
      int[] w = OptionValues.window(window);
      b.window(w[0], w[1]);
    }
    b.softcap(OptionValues.softcap(softcap));
    if (alibi != null) {
      b.alibiSlopes(TensorFiles.readSlopes("--alibi", alibi));
    }
    if (kvLens != null) {
      b.kvLens(TensorFiles.readLengths("--kv-lens", kvLens));
    }
  }

  /** A short description of the mask for tables, such as {@code causal window=128,-1}. */
  static String describe(AttentionOptions o) {
    StringBuilder sb = new StringBuilder(o.causal() ? "causal" : "full");
    if (o.windowLeft() >= 0 || o.windowRight() >= 0) {
      sb.append(" window=").append(o.windowLeft()).append(',').append(o.windowRight());
    }
    if (o.softcap() > 0) {
      sb.append(" softcap=").append(fmt(o.softcap()));
    }
    if (o.hasAlibi()) {
      sb.append(" alibi");
    }
    if (o.kvLens() != null) {
      sb.append(" kv-lens");
    }
    if (o.causal() || o.windowLeft() >= 0 || o.windowRight() >= 0 || o.hasAlibi()) {
      sb.append(' ').append(OptionValues.alignmentName(o.alignment()));
    }
    return sb.toString();
  }

  private static String fmt(double x) {
    return x == Math.rint(x) && Math.abs(x) < 1e15 ? Long.toString((long) x) : Double.toString(x);
  }
}
