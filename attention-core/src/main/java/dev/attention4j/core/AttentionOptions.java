package dev.attention4j.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Everything about a softmax-attention call except the tensors: scale, causal masking and its
 * alignment, sliding window, softcap, ALiBi slopes, per-batch key lengths, document ids, user
 * score and mask modifiers, and whether to return the LSE. Immutable and validated once by
 * {@link Builder#build()}; checks that need the tensor shapes happen in
 * {@link AttentionShape#of}. Safe to share between threads.
 *
 * <p>The logit of query {@code i} and key {@code j} is, in this order (SEMANTICS.md):
 * {@code s = scale * <q_i, k_j>}; softcap {@code s = c * tanh(s / c)}; bias
 * {@code s -= slope_h * |i + off_b - j|} (ALiBi) and then {@code s = scoreMod(s, b, h, i, j)};
 * then the mask (causal, window, key lengths, documents, user mask) gives invisible keys weight 0.
 */
public final class AttentionOptions {

  private static final AttentionOptions DEFAULTS = builder().build();

  private final double scale;
  private final boolean causal;
  private final Alignment alignment;
  private final int windowLeft;
  private final int windowRight;
  private final double softcap;
  private final double[] alibiSlopes;
  private final int[] kvLens;
  private final int[][] documentIds;
  private final ScoreMod scoreMod;
  private final Mask userMask;
  private final boolean returnLse;
  private final Mask mask;

  private AttentionOptions(Builder b) {
    this.scale = b.scale;
    this.causal = b.causal;
    this.alignment = b.alignment;
    this.windowLeft = b.windowLeft;
    this.windowRight = b.windowRight;
    this.softcap = b.softcap;
    this.alibiSlopes = b.alibiSlopes == null ? null : b.alibiSlopes.clone();
    this.kvLens = b.kvLens == null ? null : b.kvLens.clone();
    this.documentIds = b.documentIds == null ? null : deepCopy(b.documentIds);
    this.scoreMod = b.scoreMod;
    this.userMask = b.userMask;
    this.returnLse = b.returnLse;
    this.mask = combineMasks();
  }

  /** The default options: scale {@code 1/sqrt(D)}, no mask, no bias, LSE returned. */
  public static AttentionOptions defaults() {
    return DEFAULTS;
  }

  /** A builder starting from {@link #defaults()}. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder starting from these options. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.scale = scale;
    b.causal = causal;
    b.alignment = alignment;
    b.windowLeft = windowLeft;
    b.windowRight = windowRight;
    b.softcap = softcap;
    b.alibiSlopes = alibiSlopes;
    b.kvLens = kvLens;
    b.documentIds = documentIds;
    b.scoreMod = scoreMod;
    b.userMask = userMask;
    b.returnLse = returnLse;
    return b;
  }

  /**
   * The scale for head dim {@code d}: the explicit scale, or {@code 1/sqrt(d)}.
   *
   * @throws IllegalArgumentException for {@code d == 0} without an explicit scale (the default
   *     would be infinite, and every logit {@code inf * 0})
   */
  public double scale(int headDim) {
    if (Double.isNaN(scale) && headDim == 0) {
      throw new IllegalArgumentException("head dim D = 0 has no default scale (1/sqrt(D) is"
          + " infinite): give a scale, or use D >= 1");
    }
    return Double.isNaN(scale) ? 1.0 / Math.sqrt(headDim) : scale;
  }

  /** True when a scale was set explicitly. */
  public boolean hasExplicitScale() {
    return !Double.isNaN(scale);
  }

  /** Whether the causal mask is on. */
  public boolean causal() {
    return causal;
  }

  /** The alignment of the causal mask, the window and ALiBi ({@code BOTTOM_RIGHT} by default). */
  public Alignment alignment() {
    return alignment;
  }

  /** Left window bound, {@code -1} = unbounded. */
  public int windowLeft() {
    return windowLeft;
  }

  /** Right window bound, {@code -1} = unbounded. */
  public int windowRight() {
    return windowRight;
  }

  /** Softcap {@code c}; {@code 0} = off. */
  public double softcap() {
    return softcap;
  }

  /** ALiBi slopes per query head, or null. */
  public double[] alibiSlopes() {
    return alibiSlopes == null ? null : alibiSlopes.clone();
  }

  /** Slope of query head {@code h} (0 without ALiBi). */
  public double alibiSlope(int h) {
    return alibiSlopes == null ? 0.0 : alibiSlopes[h];
  }

  /** True when ALiBi slopes are set. */
  public boolean hasAlibi() {
    return alibiSlopes != null;
  }

  /** Valid key length per batch, or null (all keys valid). */
  public int[] kvLens() {
    return kvLens == null ? null : kvLens.clone();
  }

  /** Valid key length of batch {@code b} given the tensor's key length. */
  public int kvLen(int b, int kvLength) {
    return kvLens == null ? kvLength : kvLens[b];
  }

  /** Document ids per batch and position, or null. */
  public int[][] documentIds() {
    return documentIds == null ? null : deepCopy(documentIds);
  }

  /** The score modifier, or null. */
  public ScoreMod scoreMod() {
    return scoreMod;
  }

  /** The user mask, or null. */
  public Mask userMask() {
    return userMask;
  }

  /** Whether the allocating forward also returns the LSE (default true). */
  public boolean returnLse() {
    return returnLse;
  }

  /**
   * The combined mask (causal, window, documents, user mask), or null when every key below the
   * valid length is visible. Kernels classify tiles with it.
   */
  public Mask mask() {
    return mask;
  }

  /** True when a logit needs more than scale and softcap (ALiBi or a score modifier). */
  public boolean hasBias() {
    return alibiSlopes != null || scoreMod != null;
  }

  /**
   * Steps 2 and 3 of the logit (SEMANTICS.md) for one pair: softcap, ALiBi, then the score
   * modifier, applied to the scaled dot product {@code scaled = scale * <q_i, k_j>}.
   *
   * @param diag the diagonal offset {@code off_b} of the batch ({@link #diagonal})
   */
  public double logit(double scaled, int b, int h, int i, int j, long diag) {
    return Logits.finish(scaled, this, b, h, i, j, diag);
  }

  int[] kvLensUnsafe() {
    return kvLens;
  }

  double[] alibiSlopesUnsafe() {
    return alibiSlopes;
  }

  /** Document ids without a copy, for validation in this package. */
  int[][] documentIdsUnsafe() {
    return documentIds;
  }

  /** The diagonal offset {@code off_b} of batch {@code b}. */
  public long diagonal(int b, int qLen, int kvLength) {
    return alignment.offset(qLen, kvLen(b, kvLength));
  }

  private Mask combineMasks() {
    List<Mask> parts = new ArrayList<>();
    boolean windowed = windowLeft >= 0 || windowRight >= 0;
    if (causal || windowed) {
      long right = causal ? 0 : windowRight;
      if (causal && windowRight == -1) {
        right = 0;
      }
      parts.add(new Mask.Band(windowLeft, right));
    }
    if (documentIds != null) {
      parts.add(new Mask.Documents(documentIds));
    }
    if (userMask != null) {
      parts.add(userMask);
    }
    if (parts.isEmpty()) {
      return null;
    }
    return parts.size() == 1 ? parts.get(0) : new Mask.And(parts);
  }

  private static int[][] deepCopy(int[][] a) {
    int[][] c = a.clone();
    for (int i = 0; i < c.length; i++) {
      c[i] = c[i].clone();
    }
    return c;
  }

  @Override
  public String toString() {
    return "AttentionOptions[scale=" + (Double.isNaN(scale) ? "1/sqrt(D)" : scale)
        + ", causal=" + causal + ", alignment=" + alignment + ", window=(" + windowLeft + ", "
        + windowRight + "), softcap=" + softcap + ", alibi=" + Arrays.toString(alibiSlopes)
        + ", kvLens=" + Arrays.toString(kvLens) + ", documents=" + (documentIds != null)
        + ", scoreMod=" + (scoreMod != null) + ", mask=" + (userMask != null) + ", lse="
        + returnLse + "]";
  }

  /** Builds validated {@link AttentionOptions}. Not thread-safe. */
  public static final class Builder {
    private double scale = Double.NaN;
    private boolean causal;
    private Alignment alignment = Alignment.BOTTOM_RIGHT;
    private int windowLeft = -1;
    private int windowRight = -1;
    private double softcap;
    private double[] alibiSlopes;
    private int[] kvLens;
    private int[][] documentIds;
    private ScoreMod scoreMod;
    private Mask userMask;
    private boolean returnLse = true;

    private Builder() {
    }

    /**
     * Softmax scale: any finite value (zero gives uniform weights over the visible keys, and a
     * negative scale favours the keys least aligned with the query). Default {@code 1/sqrt(D)}.
     */
    public Builder scale(double scale) {
      if (!Double.isFinite(scale)) {
        throw new IllegalArgumentException("scale must be finite, got " + scale);
      }
      this.scale = scale;
      return this;
    }

    /** Goes back to the default scale {@code 1/sqrt(D)}. */
    public Builder defaultScale() {
      this.scale = Double.NaN;
      return this;
    }

    /** The causal mask: key {@code j} visible iff {@code j <= i + off} (see {@link #alignment}). */
    public Builder causal(boolean causal) {
      this.causal = causal;
      return this;
    }

    /** Where the causal mask, the window and ALiBi put the diagonal; not null. */
    public Builder alignment(Alignment alignment) {
      if (alignment == null) {
        throw new IllegalArgumentException("alignment must not be null");
      }
      this.alignment = alignment;
      return this;
    }

    /** Sliding window {@code (left, right)}; {@code -1} = unbounded; {@code (-1, -1)} = off. */
    public Builder window(int left, int right) {
      if (left < -1 || right < -1) {
        throw new IllegalArgumentException("window (" + left + ", " + right
            + "): each bound must be >= 0, or -1 for unbounded");
      }
      this.windowLeft = left;
      this.windowRight = right;
      return this;
    }

    /** Softcap {@code c >= 0}; {@code 0} = off. */
    public Builder softcap(double softcap) {
      if (!(softcap >= 0) || Double.isInfinite(softcap)) {
        throw new IllegalArgumentException("softcap must be finite and >= 0 (0 = off), got "
            + softcap);
      }
      this.softcap = softcap;
      return this;
    }

    /** ALiBi slopes, one per query head (finite); null = off. */
    public Builder alibiSlopes(double... slopes) {
      if (slopes != null) {
        for (int h = 0; h < slopes.length; h++) {
          if (!Double.isFinite(slopes[h])) {
            throw new IllegalArgumentException("alibi slope of head " + h + " is " + slopes[h]);
          }
        }
      }
      this.alibiSlopes = slopes == null ? null : slopes.clone();
      return this;
    }

    /** Valid key length per batch ({@code 0 <= kvLens[b] <= Sk}); null = all keys valid. */
    public Builder kvLens(int... kvLens) {
      if (kvLens != null) {
        for (int b = 0; b < kvLens.length; b++) {
          if (kvLens[b] < 0) {
            throw new IllegalArgumentException("kvLens[" + b + "] = " + kvLens[b] + " < 0");
          }
        }
      }
      this.kvLens = kvLens == null ? null : kvLens.clone();
      return this;
    }

    /** Document id per batch and position (packed sequences, {@code Sq == Sk}); null = off. */
    public Builder documentIds(int[][] ids) {
      if (ids != null) {
        for (int b = 0; b < ids.length; b++) {
          if (ids[b] == null) {
            throw new IllegalArgumentException("documentIds[" + b + "] is null");
          }
        }
      }
      this.documentIds = ids == null ? null : deepCopy(ids);
      return this;
    }

    /** A FlexAttention-style score modifier, or null for none. */
    public Builder scoreMod(ScoreMod scoreMod) {
      this.scoreMod = scoreMod;
      return this;
    }

    /** A user mask predicate, classified per block by evaluation. */
    public Builder maskMod(MaskMod maskMod) {
      this.userMask = maskMod == null ? null : Mask.custom(maskMod);
      return this;
    }

    /** A user mask predicate with its own block classifier. */
    public Builder maskMod(MaskMod maskMod, TileClassifier classifier) {
      this.userMask = maskMod == null ? null : Mask.custom(maskMod, classifier);
      return this;
    }

    /** Any {@link Mask}, intersected with causal, window and documents. */
    public Builder mask(Mask mask) {
      this.userMask = mask;
      return this;
    }

    /** Whether the allocating forward returns the LSE (default true). */
    public Builder returnLse(boolean returnLse) {
      this.returnLse = returnLse;
      return this;
    }

    /** The options; shape-dependent checks happen when a kernel is called. */
    public AttentionOptions build() {
      return new AttentionOptions(this);
    }
  }
}
