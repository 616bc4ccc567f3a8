package dev.attention4j.quant;

import dev.attention4j.core.AttentionKernel;
import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionShape;
import dev.attention4j.core.SpareFloats;
import dev.attention4j.core.Tensor;
import dev.attention4j.simd.SimdAttention;
import dev.attention4j.simd.TileMatmul;
import java.util.Objects;
import java.util.concurrent.ForkJoinPool;
import java.util.stream.IntStream;

/**
 * SageAttention (SEMANTICS.md "Quantized"; kernel-notes §7): quantized softmax attention with
 * bit-exact emulation of the formats of each {@link SageVariant}. Masks: causal, in both
 * alignments; GQA/MQA as everywhere; the scale defaults to {@code 1 / sqrt(D)}. Windows, softcap,
 * ALiBi, score and mask modifiers, document masks and key lengths are rejected.
 *
 * <pre>{@code
 * AttentionKernel sage = SageAttention.builder(SageVariant.SAGE2_INT8).build();
 * AttentionResult r = sage.forward(q, k, v, AttentionOptions.builder().causal(true).build());
 * }</pre>
 *
 * <p><b>Implementations.</b> Both start from the same quantized operands ({@code SagePrep}), so
 * they differ only in accumulation rounding (and in the rare P code that a last-bit difference of
 * a logit moves across a rounding boundary):
 *
 * <ul>
 *   <li>{@link Impl#REFERENCE}: a scalar pipeline accumulating in float64, one query row at a
 *       time, key tiles of {@link SageVariant#P_TILE} keys aligned to multiples of 128, the online
 *       softmax's running max per tile, P quantized per tile; LSE with the K-smoothing
 *       correction;
 *   <li>{@link Impl#FAST}: the dense SIMD engine, multi-threaded like the dense kernel, on the
 *       dequantized operands (INT8 codes times their scales are exact in float32, so the only
 *       difference to an INT32 dot product followed by the scales is float32 rounding). For
 *       sage2 and sage3 a {@link dev.attention4j.simd.TileHook} adds the Q-smoothing logits
 *       {@code scale * <qbar, K~>} (precomputed per 128-token Q block and key) and quantizes
 *       P per 128-key tile with the running max (the row sums use the unquantized P, as in the
 *       reference). These variants never split the keys (split-KV would start a new running
 *       max per chunk and quantize P differently).
 * </ul>
 *
 * <p>{@link Accumulation#FP22} emulates the FP22 accumulator of FP8 tensor cores (the P·V
 * partial sum of each key tile rounded to 13 mantissa bits before it joins the float32 buffer);
 * it always runs the reference pipeline.
 */
public final class SageAttention implements AttentionKernel {

  /** Which pipeline computes the result. */
  public enum Impl {
    /** The fast kernel (see the class documentation). */
    FAST,
    /** The scalar float64-accumulating pipeline with the same quantization. */
    REFERENCE
  }

  /** The accumulation of P·V. */
  public enum Accumulation {
    /** float32 (fast) or float64 (reference) throughout: the default. */
    FLOAT32,
    /** Per-tile partial sums rounded to 13 mantissa bits (FP8 MMA accumulator), then float32. */
    FP22
  }

  private final SageVariant variant;
  private final Impl impl;
  private final Accumulation accumulation;
  private final boolean identity;
  private final boolean smoothV;
  private final ForkJoinPool pool;
  private final SimdAttention dense;
  /** Buffers kept between calls: the prep's, the Q-smoothing logits and an LSE. */
  private final SpareFloats[] spares = new SpareFloats[SagePrep.BUFFERS];
  private final SpareFloats spareLogits = new SpareFloats();
  private final SpareFloats spareLse = new SpareFloats();

  private SageAttention(Builder b) {
    this.variant = b.variant;
    this.impl = b.impl;
    this.accumulation = b.accumulation;
    this.identity = b.identity;
    this.smoothV = b.smoothV;
    this.pool = b.pool;
    this.dense = new SimdAttention(pool);
    for (int i = 0; i < spares.length; i++) {
      spares[i] = new SpareFloats();
    }
  }

  /** A builder for {@code variant}: fast, float32 accumulation, real quantizers, common pool. */
  public static Builder builder(SageVariant variant) {
    return new Builder(variant);
  }

  public SageVariant variant() {
    return variant;
  }

  public Impl impl() {
    return impl;
  }

  /** Whether this configuration runs on the dense SIMD engine (otherwise the scalar pipeline). */
  public boolean usesEngine() {
    return impl == Impl.FAST && accumulation == Accumulation.FLOAT32;
  }

  @Override
  public String name() {
    return variant.id() + (impl == Impl.REFERENCE ? "-reference" : "")
        + (identity ? "-identity" : "");
  }

  /** The kernel and its parameters, for logs. */
  @Override
  public String toString() {
    return "SageAttention[" + name() + ", impl=" + impl + ", accumulation=" + accumulation
        + ", smoothV=" + smoothV + "]";
  }

  @Override
  public void forward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
      AttentionOptions options) {
    if (out == null) {
      throw new IllegalArgumentException("out must not be null");
    }
    AttentionShape shape = AttentionShape.of(q, k, v, out, lse, options);
    checkOptions(options);
    int reach = SagePrep.keyReach(shape, options);
    float[] lseBuf = lse != null ? null : spareLse.take(shape.batch() * shape.qHeads()
        * (long) shape.qLen());
    Tensor l = lse != null ? lse
        : SpareFloats.view(lseBuf, 0, shape.batch(), shape.qHeads(), shape.qLen());
    SagePrep prep = null;
    float[][] logits = new float[1][];
    try {
      if (usesEngine()) {
        float scale = (float) options.scale(shape.headDim());
        prep = new SagePrep(shape, variant, q, k, v, identity, smoothV, reach, false, spares,
            variant.smoothsQ() ? p -> logits[0] = smoothingLogits(p, scale, pool, spareLogits)
                : null);
        engineForward(prep, options, logits[0], out, l);
      } else {
        prep = new SagePrep(shape, variant, q, k, v, identity, smoothV, reach, true, spares,
            null);
        new ReferenceSage(prep, options, accumulation == Accumulation.FP22).run(pool, out, l);
      }
    } finally {
      if (prep != null) {
        prep.release();
      }
      if (logits[0] != null) {
        spareLogits.give(logits[0]);
      }
      if (lseBuf != null) {
        spareLse.give(lseBuf);
      }
    }
  }

  /** Rejects the options the Sage kernels do not implement. */
  static void checkOptions(AttentionOptions o) {
    String bad = null;
    if (o.windowLeft() >= 0 || o.windowRight() >= 0) {
      bad = "a sliding window";
    } else if (o.softcap() > 0) {
      bad = "softcap";
    } else if (o.hasAlibi()) {
      bad = "ALiBi";
    } else if (o.scoreMod() != null) {
      bad = "a score modifier";
    } else if (o.userMask() != null) {
      bad = "a mask modifier";
    } else if (o.documentIds() != null) {
      bad = "document masks";
    } else if (o.kvLens() != null) {
      bad = "key lengths";
    }
    if (bad != null) {
      throw new IllegalArgumentException("sage kernels support causal masks only, not " + bad);
    }
  }

  /**
   * The dense engine on the dequantized operands, with the Sage tile hook for sage2/sage3
   * ({@code logits}: their Q-smoothing logits, see {@link #smoothingLogits}).
   */
  private void engineForward(SagePrep p, AttentionOptions options, float[] logits, Tensor out,
      Tensor lse) {
    AttentionShape s = p.shape;
    Tensor qd = Tensor.of(p.qd, s.batch(), s.qHeads(), s.qLen(), p.d);
    Tensor kd = Tensor.of(p.kd, s.batch(), s.kvHeads(), s.kvLen(), p.d);
    Tensor vd = Tensor.of(p.vd, s.batch(), s.kvHeads(), s.kvLen(), p.dv);
    if (variant == SageVariant.SAGE1) {
      dense.forward(qd, kd, vd, out, lse, options);
    } else {
      SageHook hook = new SageHook(variant, !identity, logits, s.qHeads(), s.kvHeads(),
          s.qLen(), s.kvLen());
      dense.engine(qd, kd, vd, options).withHook(hook, SageVariant.P_TILE)
          .forwardSplit(pool, out, lse, 0);
    }
    finish(p, options, out, lse);
  }

  /**
   * The Q-smoothing logits {@code scale * <qbar[b, h, blk], K~[b, g, j]>} as
   * {@code [B, Hq, Sk, blocks]} ({@link SageHook#blocks}: Q blocks padded to whole vectors),
   * computed with the tile matmul (float32, fused multiply-adds in a fixed order), in an array
   * taken from {@code spare} (it may be longer).
   */
  static float[] smoothingLogits(SagePrep p, float scale, ForkJoinPool pool, SpareFloats spare) {
    AttentionShape s = p.shape;
    int d = p.d;
    int sk = s.kvLen();
    int nb = SageHook.blocks(p.qBlocks);
    int bq = s.batch() * s.qHeads();
    float[] ds = spare.take(Math.multiplyExact(Math.multiplyExact((long) bq, sk), nb));
    pool.submit(() -> IntStream.range(0, bq).parallel().forEach(bh -> {
      int b = bh / s.qHeads();
      int g = s.kvHead(bh % s.qHeads());
      // qbar of this head, transposed and pre-scaled: [d, nb]
      float[] qt = new float[d * nb];
      for (int blk = 0; blk < p.qBlocks; blk++) {
        for (int e = 0; e < d; e++) {
          qt[e * nb + blk] = scale * p.qbar[(bh * p.qBlocks + blk) * d + e];
        }
      }
      int k0 = (b * s.kvHeads() + g) * sk * d;
      TileMatmul.multiply(sk, nb, d, p.ks, k0, d, 1, qt, 0, nb, ds, bh * sk * nb, nb, false);
    })).join();
    return ds;
  }

  /**
   * Adds the K-smoothing term {@code scale * <q_i, kbar>} to the LSE and the V mean (if V was
   * smoothed) to the non-empty output rows.
   */
  static void finish(SagePrep p, AttentionOptions options, Tensor out, Tensor lse) {
    AttentionShape s = p.shape;
    double scale = options.scale(s.headDim());
    for (int b = 0; b < s.batch(); b++) {
      for (int h = 0; h < s.qHeads(); h++) {
        int g = s.kvHead(h);
        int kb = (b * s.kvHeads() + g) * p.d;
        for (int i = 0; i < s.qLen(); i++) {
          long qa = p.q.offset() + b * p.q.stride(0) + h * p.q.stride(1) + i * p.q.stride(2);
          long la = lse.offset() + b * lse.stride(0) + h * lse.stride(1) + i * lse.stride(2);
          double l = lse.getDoubleAt(la);
          if (l == Double.NEGATIVE_INFINITY) {
            continue;
          }
          double dot = 0;
          for (int c = 0; c < p.d; c++) {
            dot += (double) p.q.getFloatAt(qa + c * p.q.stride(3)) * p.kbar[kb + c];
          }
          lse.setAt(la, l + scale * dot);
          if (p.vbar != null) {
            int vb = (b * s.kvHeads() + g) * p.dv;
            long oa = out.offset() + b * out.stride(0) + h * out.stride(1) + i * out.stride(2);
            for (int c = 0; c < p.dv; c++) {
              long at = oa + c * out.stride(3);
              out.setAt(at, out.getDoubleAt(at) + p.vbar[vb + c]);
            }
          }
        }
      }
    }
  }

  /** Builder of a {@link SageAttention}. */
  public static final class Builder {
    private final SageVariant variant;
    private Impl impl = Impl.FAST;
    private Accumulation accumulation = Accumulation.FLOAT32;
    private boolean identity;
    private boolean smoothV;
    private ForkJoinPool pool = ForkJoinPool.commonPool();

    private Builder(SageVariant variant) {
      this.variant = Objects.requireNonNull(variant, "variant");
    }

    /** {@link Impl#FAST} (default, the dense engine) or {@link Impl#REFERENCE} (float64 sums). */
    public Builder impl(Impl impl) {
      this.impl = Objects.requireNonNull(impl, "impl");
      return this;
    }

    /** How the P V partial sums are rounded ({@link Accumulation#FLOAT32} by default). */
    public Builder accumulation(Accumulation accumulation) {
      this.accumulation = Objects.requireNonNull(accumulation, "accumulation");
      return this;
    }

    /** Replace every quantizer by the identity (smoothing stays): a test of the plumbing. */
    public Builder identityQuantizers(boolean identity) {
      this.identity = identity;
      return this;
    }

    /** Subtract the per-channel V mean before quantizing V and add it back to O. */
    public Builder smoothV(boolean smoothV) {
      this.smoothV = smoothV;
      return this;
    }

    /** The pool the query rows or tiles run on. */
    public Builder pool(ForkJoinPool pool) {
      this.pool = Objects.requireNonNull(pool, "pool");
      return this;
    }

    /** The kernel. */
    public SageAttention build() {
      return new SageAttention(this);
    }
  }
}
