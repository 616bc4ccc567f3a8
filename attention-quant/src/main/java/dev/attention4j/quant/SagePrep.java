package dev.attention4j.quant;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionShape;
import dev.attention4j.core.SpareFloats;
import dev.attention4j.core.Tensor;

/**
 * The quantization that every implementation of a Sage variant shares (so the float64 reference
 * pipeline and the fast kernel see the same codes and differ only in accumulation rounding):
 * smoothing, then Q, K and V quantized and dequantized back to float32, contiguous
 * {@code [B, H, S, D]}.
 *
 * <p>Only the keys that some query can see take part: with a top-left causal mask and
 * {@code Sq < Sk} the keys {@code j >= Sq} are masked for every row, so they are set to 0 before
 * any statistic is taken (a NaN, an infinity or garbage there never reaches a visible row, as for
 * every masked key).
 *
 * <p>Non-finite entries (NaN, infinities) are left out of every statistic (means, block and
 * channel maxima) and carried through unchanged to the dequantized operands, so that, as in the
 * dense kernels, a NaN query makes only its own row NaN and a non-finite key or value reaches
 * only the rows that see it (instead of every row sharing its block, channel or head).
 *
 * <ul>
 *   <li>{@code kbar[b, g, c]}: mean over the visible keys (float64 sum, rounded to float32);
 *       {@code ks = K - kbar} in float32;
 *   <li>{@code qbar[b, h, blk, c]} (sage2, sage3): mean of each 128-token Q block;
 *       {@code Q~ = Q - qbar} in float32;
 *   <li>{@code qd}, {@code kd}, {@code vd}: the dequantized Q (or Q~), K~ and V (or V - vbar);
 *   <li>{@code vbar[b, g, c]} when V smoothing is on, added back to O at the end.
 * </ul>
 *
 * With {@code identity} set the quantizers are the identity (smoothing stays).
 */
final class SagePrep {

  /** The buffers a prep holds: the three operands, the unquantized K~ and the Q block means. */
  static final int Q = 0;
  static final int K = 1;
  static final int V = 2;
  static final int KS = 3;
  static final int QBAR = 4;
  static final int BUFFERS = 5;

  final AttentionShape shape;
  final SageVariant variant;
  /** The caller's Q, unchanged (the LSE correction reads it). */
  final Tensor q;
  final int d;
  final int dv;
  final float[] qd;
  final float[] qbar;
  final int qBlocks;
  final float[] kbar;
  final float[] ks;
  final float[] kd;
  final float[] vd;
  final float[] vbar;
  final boolean identity;
  private final SpareFloats[] spares;
  private final float[][] taken = new float[BUFFERS][];

  /**
   * @param reach the number of leading keys that some query can see ({@link #keyReach}); the
   *     keys from {@code reach} on are replaced by 0 and left out of the means
   * @param keepKs whether {@link #ks} (K~ before quantization) is kept beside {@link #kd}; when
   *     not, {@code ks} shares the array of {@code kd} and holds K~ only until the quantizers
   *     run, that is inside {@code qbarLogits}
   * @param qbarLogits called (if not null) once the smoothing is done and before the quantizers
   *     run
   * @param spares {@link #BUFFERS} buffers kept between calls (their arrays may be longer than
   *     the operands; index from 0), or null for new arrays; {@link #release} returns them
   */
  SagePrep(AttentionShape shape, SageVariant variant, Tensor qt, Tensor kt, Tensor vt,
      boolean identity, boolean smoothV, int reach, boolean keepKs, SpareFloats[] spares,
      java.util.function.Consumer<SagePrep> qbarLogits) {
    this.shape = shape;
    this.variant = variant;
    this.identity = identity;
    this.spares = spares;
    this.q = qt;
    this.d = shape.headDim();
    this.dv = shape.valueDim();
    int bh = shape.batch() * shape.kvHeads();
    int bq = shape.batch() * shape.qHeads();
    int sq = shape.qLen();
    int sk = shape.kvLen();
    float[] q = copy(Q, qt);
    float[] k = copy(K, kt);
    float[] v = copy(V, vt);
    if (reach < sk) {
      for (int g = 0; g < bh; g++) {
        java.util.Arrays.fill(k, (g * sk + reach) * d, (g + 1) * sk * d, 0f);
        java.util.Arrays.fill(v, (g * sk + reach) * dv, (g + 1) * sk * dv, 0f);
      }
    }
    Means means = new Means(Math.max(d, dv));
    // K smoothing, in place: K~ = K - kbar
    this.kbar = new float[bh * d];
    for (int g = 0; g < bh; g++) {
      means.rows(k, g * sk * d, reach, d, kbar, g * d);
      for (int j = 0; j < reach; j++) {
        int at = (g * sk + j) * d;
        for (int c = 0; c < d; c++) {
          k[at + c] -= kbar[g * d + c];
        }
      }
    }
    // Q smoothing, in place: Q~ = Q - qbar
    this.qBlocks = (sq + SageVariant.Q_BLOCK - 1) / SageVariant.Q_BLOCK;
    if (variant.smoothsQ()) {
      qbar = take(QBAR, (long) bq * qBlocks * d);
      for (int h = 0; h < bq; h++) {
        for (int blk = 0; blk < qBlocks; blk++) {
          int i0 = blk * SageVariant.Q_BLOCK;
          int n = Math.min(SageVariant.Q_BLOCK, sq - i0);
          int mo = (h * qBlocks + blk) * d;
          means.rows(q, (h * sq + i0) * d, n, d, qbar, mo);
          for (int i = i0; i < i0 + n; i++) {
            int at = (h * sq + i) * d;
            for (int c = 0; c < d; c++) {
              q[at + c] -= qbar[mo + c];
            }
          }
        }
      }
    } else {
      qbar = null;
    }
    // V smoothing, in place
    if (smoothV) {
      vbar = new float[bh * dv];
      for (int g = 0; g < bh; g++) {
        means.rows(v, g * sk * dv, reach, dv, vbar, g * dv);
        for (int j = 0; j < reach; j++) {
          int at = (g * sk + j) * dv;
          for (int c = 0; c < dv; c++) {
            v[at + c] -= vbar[g * dv + c];
          }
        }
      }
    } else {
      vbar = null;
    }
    qd = q;
    kd = k;
    vd = v;
    if (identity) {
      ks = k;
      if (qbarLogits != null) {
        qbarLogits.accept(this);
      }
      return;
    }
    if (keepKs) {
      ks = take(KS, (long) bh * sk * d);
      System.arraycopy(k, 0, ks, 0, bh * sk * d);
    } else {
      ks = k;
    }
    if (qbarLogits != null) {
      qbarLogits.accept(this);
    }
    // quantized and dequantized in place from here on (K~ is gone unless kept)
    Rows rows = new Rows(Math.max(d, dv));
    switch (variant) {
      case SAGE1 -> {
        for (int h = 0; h < bq; h++) {
          rows.ints(q, h * sq * d, sq, d, IntQuant.INT8_MAX, Grouping.BLOCK_128);
        }
        for (int g = 0; g < bh; g++) {
          rows.ints(k, g * sk * d, sk, d, IntQuant.INT8_MAX, Grouping.BLOCK_64);
        }
      }
      case SAGE2_INT8, SAGE2_INT4 -> {
        int qmax = variant == SageVariant.SAGE2_INT8 ? IntQuant.INT8_MAX : IntQuant.INT4_MAX;
        for (int h = 0; h < bq; h++) {
          rows.ints(q, h * sq * d, sq, d, qmax, Grouping.THREAD_Q);
        }
        for (int g = 0; g < bh; g++) {
          rows.ints(k, g * sk * d, sk, d, qmax, Grouping.THREAD_K);
        }
        for (int g = 0; g < bh; g++) {
          fp8Channels(v, v, g * sk * dv, sk, dv);
        }
      }
      case SAGE3_NVFP4 -> {
        rows.nvfp4(q, bq * sq, d);
        rows.nvfp4(k, bh * sk, d);
        for (int g = 0; g < bh; g++) {
          nvfp4Columns(v, v, g * sk * dv, sk, dv);
        }
      }
      default -> throw new AssertionError(variant);
    }
  }

  /** A new prep with fresh arrays, {@link #ks} kept (the scalar pipeline and tests). */
  SagePrep(AttentionShape shape, SageVariant variant, Tensor qt, Tensor kt, Tensor vt,
      boolean identity, boolean smoothV, int reach) {
    this(shape, variant, qt, kt, vt, identity, smoothV, reach, true, null, null);
  }

  /** Returns the buffers to their spares; the prep's arrays must not be used afterwards. */
  void release() {
    if (spares == null) {
      return;
    }
    for (int i = 0; i < BUFFERS; i++) {
      if (taken[i] != null) {
        spares[i].give(taken[i]);
        taken[i] = null;
      }
    }
  }

  /** {@code n} floats of buffer {@code slot}, from its spare when there is one. */
  private float[] take(int slot, long n) {
    float[] a = spares == null ? new float[Math.toIntExact(n)] : spares[slot].take(n);
    taken[slot] = a;
    return a;
  }

  /** A contiguous float32 copy of {@code t} in buffer {@code slot}. */
  private float[] copy(int slot, Tensor t) {
    float[] a = take(slot, t.size());
    SpareFloats.view(a, 0, t.shape()).copyFrom(t);
    return a;
  }

  /** Per-column means of the finite entries, with one set of accumulators. */
  private static final class Means {
    private final double[] sum;
    private final int[] n;

    Means(int width) {
      sum = new double[width];
      n = new int[width];
    }

    /** Per-column mean of the finite entries (0 for a column without one). */
    void rows(float[] x, int off, int rows, int width, float[] out, int oOff) {
      java.util.Arrays.fill(sum, 0, width, 0);
      java.util.Arrays.fill(n, 0, width, 0);
      for (int r = 0; r < rows; r++) {
        int at = off + r * width;
        for (int c = 0; c < width; c++) {
          float e = x[at + c];
          if (Float.isFinite(e)) {
            sum[c] += e;
            n[c]++;
          }
        }
      }
      for (int c = 0; c < width; c++) {
        out[oOff + c] = n[c] == 0 ? 0f : (float) (sum[c] / n[c]);
      }
    }
  }

  /** Quantizes rows in place, keeping each row's original for its non-finite entries. */
  private static final class Rows {
    private final float[] row;
    private final byte[] codes;
    private float[] amax = new float[0];

    Rows(int width) {
      row = new float[width];
      codes = new byte[width];
    }

    /** {@link #intRows} in place. */
    void ints(float[] x, int off, int rows, int width, int qmax, Grouping grouping) {
      int ng = grouping.groups(rows);
      if (amax.length < ng) {
        amax = new float[ng];
      }
      intRows(x, x, off, rows, width, qmax, grouping, amax, row, codes);
    }

    /** {@link #nvfp4Rows} in place. */
    void nvfp4(float[] x, int rows, int width) {
      nvfp4Rows(x, x, rows, width, row, codes);
    }
  }

  /**
   * The number of leading keys that at least one query row can see: {@code Sk}, except with a
   * causal mask whose last row ends before the last key (top-left alignment and {@code Sq < Sk}),
   * where it is {@code Sq - 1 + off + 1}. (The Sage kernels take no key lengths or windows.)
   */
  static int keyReach(AttentionShape shape, AttentionOptions options) {
    int sk = shape.kvLen();
    if (!options.causal()) {
      return sk;
    }
    long last = shape.qLen() + options.diagonal(0, shape.qLen(), sk);
    return (int) Math.max(0, Math.min(sk, last));
  }

  /** Row groups of the INT quantizers. */
  enum Grouping {
    BLOCK_128, BLOCK_64, THREAD_Q, THREAD_K;

    int groups(int rows) {
      return switch (this) {
        case BLOCK_128 -> (rows + 127) / 128;
        case BLOCK_64 -> (rows + 63) / 64;
        case THREAD_Q -> (rows + SageVariant.WARP_Q - 1) / SageVariant.WARP_Q * 8;
        case THREAD_K -> (rows + SageVariant.K_BLOCK - 1) / SageVariant.K_BLOCK * 4;
      };
    }

    int of(int r) {
      return switch (this) {
        case BLOCK_128 -> r / 128;
        case BLOCK_64 -> r / 64;
        case THREAD_Q -> r / SageVariant.WARP_Q * 8 + r % 8;
        case THREAD_K -> r / SageVariant.K_BLOCK * 4 + (r % 8) / 2;
      };
    }
  }

  /** Largest finite magnitude of {@code x[off .. off + n)} (non-finite entries left out). */
  static float finiteAmax(float[] x, int off, int n) {
    float m = SimdCodecs.amax(x, off, n);
    if (Float.isFinite(m)) {
      return m;
    }
    m = 0f;
    for (int i = off; i < off + n; i++) {
      float a = Math.abs(x[i]);
      if (a > m && a < Float.POSITIVE_INFINITY) {
        m = a;
      }
    }
    return m;
  }

  /** Writes the non-finite entries of {@code x[off .. off + n)} through to {@code out}. */
  private static void carryNonFinite(float[] x, int off, int n, float[] out, int oOff) {
    for (int i = 0; i < n; i++) {
      if (!Float.isFinite(x[off + i])) {
        out[oOff + i] = x[off + i];
      }
    }
  }

  /** Symmetric INT quantization of whole rows, one scale per row group; writes dequantized. */
  static void intRows(float[] x, float[] out, int off, int rows, int width, int qmax,
      Grouping grouping) {
    intRows(x, out, off, rows, width, qmax, grouping, new float[grouping.groups(rows)],
        new float[width], new byte[width]);
  }

  /**
   * {@link #intRows} with scratch: {@code amax} of at least the group count, {@code row} and
   * {@code codes} of {@code width}; {@code out} may be {@code x}.
   */
  private static void intRows(float[] x, float[] out, int off, int rows, int width, int qmax,
      Grouping grouping, float[] amax, float[] row, byte[] codes) {
    java.util.Arrays.fill(amax, 0, grouping.groups(rows), 0f);
    for (int r = 0; r < rows; r++) {
      int gi = grouping.of(r);
      amax[gi] = Math.max(amax[gi], finiteAmax(x, off + r * width, width));
    }
    for (int r = 0; r < rows; r++) {
      float sc = IntQuant.scale(amax[grouping.of(r)], qmax);
      System.arraycopy(x, off + r * width, row, 0, width);
      SimdCodecs.encodeInt(row, 0, width, sc, qmax, codes, 0);
      SimdCodecs.decodeInt(codes, 0, width, sc, out, off + r * width);
      carryNonFinite(row, 0, width, out, off + r * width);
    }
  }

  /** FP8 E4M3 per channel over all rows: {@code scale = amax / 448}, {@code E4M3(x / scale)}. */
  static void fp8Channels(float[] x, float[] out, int off, int rows, int width) {
    for (int c = 0; c < width; c++) {
      float amax = 0f;
      for (int r = 0; r < rows; r++) {
        float a = Math.abs(x[off + r * width + c]);
        if (a < Float.POSITIVE_INFINITY) {
          amax = Math.max(amax, a);
        }
      }
      float sc = amax / 448f;
      for (int r = 0; r < rows; r++) {
        int at = off + r * width + c;
        out[at] = !Float.isFinite(x[at]) ? x[at] : sc == 0f ? 0f
            : MiniFloat.E4M3.decode(MiniFloat.E4M3.encode(x[at] / sc, true)) * sc;
      }
    }
  }

  /** NVFP4 along each row (16-element blocks); writes dequantized. */
  static void nvfp4Rows(float[] x, float[] out, int rows, int width) {
    nvfp4Rows(x, out, rows, width, new float[width], new byte[SageVariant.FP4_BLOCK]);
  }

  /** {@link #nvfp4Rows} with scratch ({@code row} of {@code width}); {@code out} may be x. */
  private static void nvfp4Rows(float[] x, float[] out, int rows, int width, float[] row,
      byte[] codes) {
    for (int r = 0; r < rows; r++) {
      System.arraycopy(x, r * width, row, 0, width);
      for (int c0 = 0; c0 < width; c0 += SageVariant.FP4_BLOCK) {
        int at = r * width + c0;
        int n = Math.min(SageVariant.FP4_BLOCK, width - c0);
        int sc = BlockScales.nvfp4Scale(finiteAmax(row, c0, n));
        float s = MiniFloat.E4M3.decode(sc);
        SimdCodecs.encode(MiniFloat.E2M1, row, c0, n, BlockScales.nvfp4Inverse(sc), true, codes,
            0);
        SimdCodecs.decode(MiniFloat.E2M1, codes, 0, n, s, out, at);
        carryNonFinite(row, c0, n, out, at);
      }
    }
  }

  /** NVFP4 along the rows (token axis) of each column: 16 tokens per block. */
  static void nvfp4Columns(float[] x, float[] out, int off, int rows, int width) {
    float[] col = new float[SageVariant.FP4_BLOCK];
    byte[] codes = new byte[SageVariant.FP4_BLOCK];
    float[] back = new float[SageVariant.FP4_BLOCK];
    for (int c = 0; c < width; c++) {
      for (int r0 = 0; r0 < rows; r0 += SageVariant.FP4_BLOCK) {
        int n = Math.min(SageVariant.FP4_BLOCK, rows - r0);
        for (int t = 0; t < n; t++) {
          col[t] = x[off + (r0 + t) * width + c];
        }
        int sc = BlockScales.nvfp4Scale(finiteAmax(col, 0, n));
        SimdCodecs.encode(MiniFloat.E2M1, col, 0, n, BlockScales.nvfp4Inverse(sc), true, codes,
            0);
        SimdCodecs.decode(MiniFloat.E2M1, codes, 0, n, MiniFloat.E4M3.decode(sc), back, 0);
        carryNonFinite(col, 0, n, back, 0);
        for (int t = 0; t < n; t++) {
          out[off + (r0 + t) * width + c] = back[t];
        }
      }
    }
  }
}
