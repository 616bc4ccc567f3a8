package dev.attention4j.linear;

import java.util.Arrays;
import java.util.Locale;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * A feature map {@code phi} of linear attention, applied per head to query and key vectors
 * (SEMANTICS.md, "Linear attention"). No {@code 1/sqrt(D)} is applied inside.
 *
 * <ul>
 *   <li>{@code identity}: {@code phi(x) = x} (only for unnormalised attention: its weights can be
 *       negative); feature dim D.
 *   <li>{@code elu1}: {@code elu(x) + 1}, i.e. {@code x + 1} for {@code x > 0}, else {@code e^x};
 *       feature dim D.
 *   <li>{@code relu}: {@code max(x, 0)}; feature dim D.
 *   <li>{@code hedgehog}: {@code u = x W_h} ({@code W_h} is {@code [D, F]}, separate weights for
 *       queries and keys), {@code phi = max(concat(softmax(u), softmax(-u)), 1e-12)}: feature dim
 *       {@code 2F}, the features sum to 2 (LoLCATs {@code softmax_dim}).
 *   <li>{@code hedgehog-exp}: {@code max(concat(exp(u - max u), exp(-u + min u)), 1e-12)}, same
 *       weights (LoLCATs {@code exp_dim}).
 * </ul>
 */
public final class FeatureMap {

  /** The clamp of the Hedgehog maps. */
  public static final double CLAMP = 1e-12;

  /** The kinds of feature map. */
  public enum Kind {
    IDENTITY("identity"), ELU1("elu1"), RELU("relu"), HEDGEHOG("hedgehog"),
    HEDGEHOG_EXP("hedgehog-exp");

    private final String label;

    Kind(String label) {
      this.label = label;
    }

    /** The name used by the command line and the docs, e.g. {@code hedgehog-exp}. */
    public String label() {
      return label;
    }

    /** Whether the map needs {@link FeatureWeights}. */
    public boolean needsWeights() {
      return this == HEDGEHOG || this == HEDGEHOG_EXP;
    }

    /**
     * The kind named {@code name} (as {@link #label()}).
     *
     * @throws IllegalArgumentException for an unknown name, listing the known ones
     */
    public static Kind parse(String name) {
      for (Kind k : values()) {
        if (k.label.equals(name)) {
          return k;
        }
      }
      throw new IllegalArgumentException("unknown feature map '" + name + "' (expected "
          + Arrays.stream(values()).map(Kind::label).collect(Collectors.joining(", ")) + ")");
    }
  }

  private static final FeatureMap IDENTITY = new FeatureMap(Kind.IDENTITY, null);
  private static final FeatureMap ELU1 = new FeatureMap(Kind.ELU1, null);
  private static final FeatureMap RELU = new FeatureMap(Kind.RELU, null);

  private final Kind kind;
  private final FeatureWeights weights;

  private FeatureMap(Kind kind, FeatureWeights weights) {
    this.kind = kind;
    this.weights = weights;
  }

  /** {@code phi(x) = x}; only for unnormalised attention (weights can be negative). */
  public static FeatureMap identity() {
    return IDENTITY;
  }

  /** {@code phi(x) = elu(x) + 1}: {@code x + 1} for {@code x > 0}, else {@code e^x}. */
  public static FeatureMap elu1() {
    return ELU1;
  }

  /** {@code phi(x) = max(x, 0)}. */
  public static FeatureMap relu() {
    return RELU;
  }

  /** Hedgehog: {@code max(concat(softmax(x W), softmax(-x W)), 1e-12)}, feature dim {@code 2F}. */
  public static FeatureMap hedgehog(FeatureWeights weights) {
    return new FeatureMap(Kind.HEDGEHOG, Objects.requireNonNull(weights, "weights"));
  }

  /** Hedgehog with unnormalised exponentials: {@code exp(u - max u)}, {@code exp(-u + min u)}, {@code u = x W}. */
  public static FeatureMap hedgehogExp(FeatureWeights weights) {
    return new FeatureMap(Kind.HEDGEHOG_EXP, Objects.requireNonNull(weights, "weights"));
  }

  /**
   * The map of a kind.
   *
   * @param weights required for the Hedgehog kinds, must be null for the others
   * @throws IllegalArgumentException if weights are missing or not expected
   */
  public static FeatureMap of(Kind kind, FeatureWeights weights) {
    Objects.requireNonNull(kind, "kind");
    if (kind.needsWeights() && weights == null) {
      throw new IllegalArgumentException("feature map " + kind.label() + " needs feature weights"
          + " (wq [Hq, D, F], wk [Hkv, D, F])");
    }
    if (!kind.needsWeights() && weights != null) {
      throw new IllegalArgumentException("feature map " + kind.label() + " takes no feature"
          + " weights (only hedgehog and hedgehog-exp do)");
    }
    return switch (kind) {
      case IDENTITY -> IDENTITY;
      case ELU1 -> ELU1;
      case RELU -> RELU;
      case HEDGEHOG -> hedgehog(weights);
      case HEDGEHOG_EXP -> hedgehogExp(weights);
    };
  }

  public Kind kind() {
    return kind;
  }

  /** The Hedgehog weights, or null. */
  public FeatureWeights weights() {
    return weights;
  }

  /** The feature dim for head dim {@code d}: {@code d}, or {@code 2F} for the Hedgehog maps. */
  public int featureDim(int d) {
    return weights == null ? d : 2 * weights.features();
  }

  /**
   * Checks the map against an attention call (weights heads and head dim).
   *
   * @throws IllegalArgumentException naming the numbers
   */
  public void check(int qHeads, int kvHeads, int headDim) {
    if (weights != null) {
      weights.check(qHeads, kvHeads, headDim);
    }
  }

  /**
   * {@code phi} of one vector in float64: {@code out[o0 .. o0 + featureDim)} from
   * {@code x[x0 .. x0 + d)}. A vector with a NaN or Inf entry gives NaN features (so a query or
   * key holding one makes the rows that see it NaN, as SEMANTICS.md asks, even where a map such
   * as {@code elu1} would turn {@code -inf} into a finite 0).
   *
   * @param query whether {@code x} is a query (selects {@code wq}) or a key ({@code wk})
   * @param head the query head (for queries) or KV head (for keys)
   */
  public void apply(boolean query, int head, double[] x, int x0, int d, double[] out, int o0) {
    for (int e = 0; e < d; e++) {
      if (!Double.isFinite(x[x0 + e])) {
        java.util.Arrays.fill(out, o0, o0 + featureDim(d), Double.NaN);
        return;
      }
    }
    switch (kind) {
      case IDENTITY -> System.arraycopy(x, x0, out, o0, d);
      case ELU1 -> {
        for (int e = 0; e < d; e++) {
          double v = x[x0 + e];
          out[o0 + e] = v > 0 ? v + 1 : Math.exp(v);
        }
      }
      case RELU -> {
        for (int e = 0; e < d; e++) {
          double v = x[x0 + e];
          out[o0 + e] = v > 0 ? v : v == v ? 0 : v;
        }
      }
      case HEDGEHOG, HEDGEHOG_EXP -> {
        int f = weights.features();
        double[] w = weights.headUnsafe(query, head);
        double[] u = new double[f];
        for (int e = 0; e < d; e++) {
          double xe = x[x0 + e];
          for (int j = 0; j < f; j++) {
            u[j] += xe * w[e * f + j];
          }
        }
        double max = Double.NEGATIVE_INFINITY;
        double min = Double.POSITIVE_INFINITY;
        boolean nan = false;
        for (int j = 0; j < f; j++) {
          max = Math.max(max, u[j]);
          min = Math.min(min, u[j]);
          nan |= Double.isNaN(u[j]);
        }
        double s1 = 0;
        double s2 = 0;
        for (int j = 0; j < f; j++) {
          double p = Math.exp(u[j] - max);
          double n = Math.exp(min - u[j]);
          out[o0 + j] = p;
          out[o0 + f + j] = n;
          s1 += p;
          s2 += n;
        }
        boolean normalise = kind == Kind.HEDGEHOG;
        for (int j = 0; j < f; j++) {
          double p = normalise ? out[o0 + j] / s1 : out[o0 + j];
          double n = normalise ? out[o0 + f + j] / s2 : out[o0 + f + j];
          out[o0 + j] = nan ? Double.NaN : Math.max(p, CLAMP);
          out[o0 + f + j] = nan ? Double.NaN : Math.max(n, CLAMP);
        }
      }
    }
  }

  @Override
  public String toString() {
    return weights == null ? kind.label()
        : String.format(Locale.ROOT, "%s(F=%d)", kind.label(), weights.features());
  }
}
