package dev.attention4j.linear;

import java.util.Objects;

/**
 * The options of a linear-attention call (SEMANTICS.md, "Linear attention"). Immutable; build with
 * {@link #builder(FeatureMap)}. {@link Builder#build()} checks every rule that does not need the
 * tensors; the kernels check the rest (head counts, weights shapes).
 *
 * <ul>
 *   <li>{@code normalize} (default true): {@code o_t = sum w_ts v_s / (sum w_ts + 1e-12)}. The
 *       {@code identity} map is only allowed unnormalised.
 *   <li>{@code causal}: key {@code s} visible to query {@code t} iff {@code s <= t + Sk - Sq}
 *       (bottom-right).
 *   <li>{@code decaySlopes} (one per query head, {@code >= 0}): {@code lambda_h = exp(-slope_h)};
 *       needs causal and unnormalised.
 *   <li>{@code hybridWindow W > 0} with {@code mix g} (one value or one per query head,
 *       {@code 0 < g < 1}): the LoLCATs hybrid, softmax over the last W keys, linear attention
 *       over the older ones; needs causal and normalised, no decay. {@code scale} is the softmax
 *       scale of the window part (default {@code 1/sqrt(D)}).
 *   <li>{@code chunkSize} (default 64): the chunk of the chunked causal form and the tile of the
 *       non-causal form; results do not depend on it beyond rounding.
 * </ul>
 */
public final class LinearOptions {

  /** The denominator guard of the normalised form. */
  public static final double EPS = 1e-12;

  /** The default chunk size. */
  public static final int DEFAULT_CHUNK = 64;

  private final FeatureMap featureMap;
  private final boolean causal;
  private final boolean normalize;
  private final double[] decaySlopes;
  private final int hybridWindow;
  private final double[] mix;
  private final Double scale;
  private final int chunkSize;

  private LinearOptions(Builder b) {
    this.featureMap = b.featureMap;
    this.causal = b.causal;
    this.normalize = b.normalize;
    this.decaySlopes = b.decaySlopes == null ? null : b.decaySlopes.clone();
    this.hybridWindow = b.hybridWindow;
    this.mix = b.mix == null ? null : b.mix.clone();
    this.scale = b.scale;
    this.chunkSize = b.chunkSize;
  }

  /** A builder for {@code featureMap}: non-causal, normalised, no decay, chunk 64. */
  public static Builder builder(FeatureMap featureMap) {
    return new Builder(featureMap);
  }

  /** A builder starting from these options. */
  public Builder toBuilder() {
    return toBuilder(featureMap);
  }

  /** A builder holding these options with another feature map. */
  public Builder toBuilder(FeatureMap map) {
    Builder b = new Builder(map).causal(causal).normalize(normalize)
        .chunkSize(chunkSize);
    b.decaySlopes = decaySlopes;
    b.hybridWindow = hybridWindow;
    b.mix = mix;
    b.scale = scale;
    return b;
  }

  /** The feature map phi. */
  public FeatureMap featureMap() {
    return featureMap;
  }

  /** Whether the kernel is causal (bottom-right). */
  public boolean causal() {
    return causal;
  }

  /** Whether the output is divided by the sum of the weights. */
  public boolean normalize() {
    return normalize;
  }

  /** True when decay slopes are set. */
  public boolean hasDecay() {
    return decaySlopes != null;
  }

  /** The decay slope of query head {@code h} (0 without decay). */
  public double decaySlope(int h) {
    return decaySlopes == null ? 0 : decaySlopes[h];
  }

  /** The hybrid window W (0 = plain linear attention). */
  public int hybridWindow() {
    return hybridWindow;
  }

  /** True for the LoLCATs hybrid (a window {@code W >= 1}). */
  public boolean isHybrid() {
    return hybridWindow > 0;
  }

  /** The mixing factor g of query head {@code h} (hybrid only). */
  public double mix(int h) {
    return mix.length == 1 ? mix[0] : mix[h];
  }

  /** The softmax scale of the hybrid window for head dim {@code d}. */
  public double scale(int d) {
    return scale == null ? 1 / Math.sqrt(d) : scale;
  }

  /** Keys per chunk of the causal kernel. */
  public int chunkSize() {
    return chunkSize;
  }

  /**
   * The options in one line, for example {@code LinearOptions[map=elu1, causal=true,
   * normalize=true, decay=null, hybridWindow=0, mix=null, scale=1/sqrt(D), chunk=64]}.
   */
  @Override
  public String toString() {
    return "LinearOptions[map=" + featureMap + ", causal=" + causal + ", normalize=" + normalize
        + ", decay=" + java.util.Arrays.toString(decaySlopes) + ", hybridWindow=" + hybridWindow
        + ", mix=" + java.util.Arrays.toString(mix) + ", scale="
        + (scale == null ? "1/sqrt(D)" : scale) + ", chunk=" + chunkSize + "]";
  }

  /**
   * Checks the per-head arrays against the query heads.
   *
   * @throws IllegalArgumentException naming the numbers
   */
  void checkHeads(int qHeads) {
    if (decaySlopes != null && decaySlopes.length != qHeads) {
      throw new IllegalArgumentException("decay slopes have " + decaySlopes.length
          + " entries, expected one per query head (" + qHeads + ")");
    }
    if (mix != null && mix.length != 1 && mix.length != qHeads) {
      throw new IllegalArgumentException("mix has " + mix.length + " entries, expected 1 or one"
          + " per query head (" + qHeads + ")");
    }
  }

  /** Builder; every setter returns {@code this}. */
  public static final class Builder {
    private final FeatureMap featureMap;
    private boolean causal;
    private boolean normalize = true;
    private double[] decaySlopes;
    private int hybridWindow;
    private double[] mix;
    private Double scale;
    private int chunkSize = DEFAULT_CHUNK;

    private Builder(FeatureMap featureMap) {
      this.featureMap = Objects.requireNonNull(featureMap, "featureMap");
    }

    /** Causal: query {@code t} sees keys {@code s <= t + Sk - Sq}. */
    public Builder causal(boolean causal) {
      this.causal = causal;
      return this;
    }

    /** Divide by the sum of the weights (default true); false is needed for decay and identity. */
    public Builder normalize(boolean normalize) {
      this.normalize = normalize;
      return this;
    }

    /** Per-query-head decay slopes ({@code lambda = exp(-slope)}), or null for none. Copied. */
    public Builder decaySlopes(double... slopes) {
      this.decaySlopes = slopes == null ? null : slopes.clone();
      return this;
    }

    /** The LoLCATs hybrid: a softmax window of {@code window} keys mixed with factor(s) {@code g}. */
    public Builder hybrid(int window, double... g) {
      this.hybridWindow = window;
      this.mix = g == null ? null : g.clone();
      return this;
    }

    /** Softmax scale of the hybrid window (default {@code 1/sqrt(D)}). */
    public Builder scale(double scale) {
      this.scale = scale;
      return this;
    }

    /** Keys per chunk of the causal kernel ({@code >= 1}, default 64); a tuning knob. */
    public Builder chunkSize(int chunkSize) {
      this.chunkSize = chunkSize;
      return this;
    }

    /**
     * Checks and builds.
     *
     * @throws IllegalArgumentException for a rule of SEMANTICS.md that the options break
     */
    public LinearOptions build() {
      if (featureMap.kind() == FeatureMap.Kind.IDENTITY && normalize) {
        throw new IllegalArgumentException("feature map identity is only allowed unnormalised"
            + " (normalize = false, --no-normalize): its weights can be negative");
      }
      if (chunkSize < 1) {
        throw new IllegalArgumentException("chunk size " + chunkSize + " must be >= 1");
      }
      if (decaySlopes != null) {
        if (!causal || normalize) {
          throw new IllegalArgumentException("decay needs causal, unnormalised linear attention"
              + " (causal = " + causal + ", normalize = " + normalize + ")");
        }
        for (int h = 0; h < decaySlopes.length; h++) {
          double s = decaySlopes[h];
          if (!Double.isFinite(s) || s < 0) {
            throw new IllegalArgumentException("decay slope of head " + h + " is " + s
                + " (must be finite and >= 0)");
          }
        }
      }
      if (scale != null && !Double.isFinite(scale)) {
        throw new IllegalArgumentException("scale " + scale + " must be finite");
      }
      if (hybridWindow < 0) {
        throw new IllegalArgumentException("hybrid window " + hybridWindow + " must be >= 1"
            + " (or 0 for none)");
      }
      if (hybridWindow > 0) {
        if (!causal || !normalize || decaySlopes != null) {
          throw new IllegalArgumentException("the hybrid (sliding window + linear) needs causal,"
              + " normalised attention without decay");
        }
        if (mix == null || mix.length == 0) {
          throw new IllegalArgumentException("the hybrid needs a mixing factor g (0 < g < 1)");
        }
        for (int h = 0; h < mix.length; h++) {
          if (!(mix[h] > 0 && mix[h] < 1)) {
            throw new IllegalArgumentException("mixing factor " + (mix.length == 1 ? ""
                : "of head " + h + " ") + "is " + mix[h] + " (must be 0 < g < 1)");
          }
        }
      } else if (mix != null) {
        throw new IllegalArgumentException("a mixing factor needs a hybrid window >= 1, got "
            + hybridWindow);
      }
      return new LinearOptions(this);
    }
  }
}
