package dev.attention4j.quant;

import dev.attention4j.simd.TileHook;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The per-key-tile work of the fast sage2 and sage3 kernels inside the dense engine:
 *
 * <ul>
 *   <li>{@link #logits}: adds {@code scale * <qbar_blk, K~_j>} (the Q-smoothing term, precomputed
 *       per 128-token Q block and key, {@code dS[b, h, j, blk]}) to the logits of each row;
 *   <li>{@link #weights}: quantizes {@code P~ = P * pScale} per key tile exactly as
 *       {@link PQuant} does (FP8 E4M3, or the two-level NVFP4 with one E4M3 scale per 16 keys),
 *       lane-wise over the query rows, and scales back by {@code 1 / pScale}, so that the
 *       engine's row sums (of the unquantized weights, as in {@link ReferenceSage}) and the final
 *       division stay as they are.
 * </ul>
 *
 * Bit-exact with the scalar {@link PQuant} for the same float32 input (the rounding of the
 * mini-floats is done on the float32 bits; see {@link #roundE4m3} and {@link #roundE2m1}).
 */
final class SageHook implements TileHook {

  private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
  private static final int N = F.length();

  private final SageVariant variant;
  private final boolean quantizeP;
  private final float pScale;
  private final float pInverse;
  private final float[] dS;
  private final int qHeads;
  private final int group;
  private final int qLen;
  /** The padded Q block count (row length of {@code dS}). */
  private final int qBlocks;
  private final int kvLen;

  /** Q blocks padded to whole vectors: the last dim of the Q-smoothing logits. */
  static int blocks(int qBlocks) {
    return Math.max(1, (qBlocks + N - 1) / N) * N;
  }

  /**
   * @param dS the scaled Q-smoothing logits {@code [B, Hq, Sk, blocks(qBlocks)]}, or null
   * @param quantizeP whether P is quantized (not with identity quantizers or sage1)
   */
  SageHook(SageVariant variant, boolean quantizeP, float[] dS, int qHeads, int kvHeads,
      int qLen, int kvLen) {
    this.variant = variant;
    this.quantizeP = quantizeP && variant != SageVariant.SAGE1;
    this.pScale = variant.pScale();
    this.pInverse = 1f / pScale;
    this.dS = dS;
    this.qHeads = qHeads;
    this.group = qHeads / kvHeads;
    this.qLen = qLen;
    this.qBlocks = blocks((qLen + SageVariant.Q_BLOCK - 1) / SageVariant.Q_BLOCK);
    this.kvLen = kvLen;
  }

  @Override
  public void logits(int b, int g, int p0, int rows, int j0, int cols, float[] st, int ld) {
    if (dS == null) {
      return;
    }
    // rows with the same (head, Q block) share one row of dS: runs of consecutive lanes
    for (int r0 = 0; r0 < rows; ) {
      int p = p0 + r0;
      int h = g * group + p / qLen;
      int i = p % qLen;
      int blk = i / SageVariant.Q_BLOCK;
      int runEnd = Math.min(rows,
          r0 + Math.min(qLen - i, (blk + 1) * SageVariant.Q_BLOCK - i));
      int base = ((b * qHeads + h) * kvLen + j0) * qBlocks + blk;
      addRun(st, ld, r0, runEnd, cols, base);
      r0 = runEnd;
    }
  }

  /** {@code st[c * ld + r] += dS[base + c * qBlocks]} for lanes {@code r0 <= r < r1}. */
  private void addRun(float[] st, int ld, int r0, int r1, int cols, int base) {
    int v0 = r0 / N * N;
    for (int v = v0; v < r1; v += N) {
      if (v + N > ld) {
        for (int c = 0; c < cols; c++) {
          float x = dS[base + c * qBlocks];
          for (int r = Math.max(v, r0); r < r1; r++) {
            st[c * ld + r] += x;
          }
        }
        continue;
      }
      if (v >= r0 && v + N <= r1) {
        for (int c = 0; c < cols; c++) {
          int at = c * ld + v;
          FloatVector.fromArray(F, st, at).add(dS[base + c * qBlocks]).intoArray(st, at);
        }
      } else {
        VectorMask<Float> in = F.indexInRange(v - r0, r1 - r0); // r0 <= v + lane < r1
        for (int c = 0; c < cols; c++) {
          int at = c * ld + v;
          FloatVector x = FloatVector.fromArray(F, st, at);
          x.add(FloatVector.broadcast(F, dS[base + c * qBlocks]), in).intoArray(st, at);
        }
      }
    }
  }

  @Override
  public void weights(int b, int g, int p0, int rows, int j0, int cols, float[] st, int ld,
      float[] m) {
    if (!quantizeP) {
      return;
    }
    int lanes = Math.min(ld, (rows + N - 1) / N * N);
    if (ld % N != 0) {
      scalar(st, ld, rows, cols);
      return;
    }
    if (variant == SageVariant.SAGE3_NVFP4) {
      for (int v = 0; v < lanes; v += N) {
        for (int c0 = 0; c0 < cols; c0 += SageVariant.FP4_BLOCK) {
          int c1 = Math.min(cols, c0 + SageVariant.FP4_BLOCK);
          nvfp4Block(st, ld, v, c0, c1);
        }
      }
    } else {
      e4m3Block(st, ld, lanes, cols);
    }
  }

  /**
   * The FP8 E4M3 P of a tile, {@code lanes} query lanes by {@code cols} keys. A method of its
   * own, as {@link #nvfp4Block}: compiled alone, the JIT keeps it out of the engine's key-tile
   * loop, whose inlining budget it would exhaust once both variants have run (it then boxed
   * every vector here).
   */
  private void e4m3Block(float[] st, int ld, int lanes, int cols) {
    for (int c = 0; c < cols; c++) {
      for (int v = 0; v < lanes; v += N) {
        int at = c * ld + v;
        FloatVector x = FloatVector.fromArray(F, st, at).mul(pScale);
        roundE4m3(x).mul(pInverse).intoArray(st, at);
      }
    }
  }

  /** The two-level NVFP4 P of keys {@code [c0, c1)} for the lanes {@code [v, v + N)}. */
  private void nvfp4Block(float[] st, int ld, int v, int c0, int c1) {
    FloatVector bm = FloatVector.zero(F);
    for (int c = c0; c < c1; c++) {
      FloatVector x = FloatVector.fromArray(F, st, c * ld + v).mul(pScale);
      bm = bm.lanewise(VectorOperators.MAX, x);
    }
    // s = E4M3(bm / 6), inverse 0 when s == 0
    FloatVector s = roundE4m3(bm.div(6f));
    FloatVector inv = FloatVector.broadcast(F, 1f).div(s);
    inv = inv.blend(0f, s.eq(0f));
    for (int c = c0; c < c1; c++) {
      int at = c * ld + v;
      FloatVector x = FloatVector.fromArray(F, st, at).mul(pScale);
      // (E2M1(x * inv) * s) / pScale, with the float32 product E2M1 * s first (as PQuant)
      roundE2m1(x.mul(inv)).mul(s).mul(pInverse).intoArray(st, at);
    }
  }

  /** The scalar fallback ({@link PQuant}) for a lane count that is not a multiple of N. */
  private void scalar(float[] st, int ld, int rows, int cols) {
    float[] col = new float[cols];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        col[c] = st[c * ld + r] * pScale;
      }
      PQuant.quantize(variant, col, 0, 1, cols);
      for (int c = 0; c < cols; c++) {
        st[c * ld + r] = col[c] * pInverse;
      }
    }
  }

  /**
   * {@code E4M3.decode(E4M3.encode(x, true))} for every lane: round to nearest even to 3
   * mantissa bits (subnormals: to multiples of 2^-9 by adding 2^14), saturate to 448, NaN stays
   * NaN.
   */
  static FloatVector roundE4m3(FloatVector x) {
    return roundMini(x, 20, 0x3C800000, 0x1p14f, 448f);
  }

  /** {@code E2M1.decode(E2M1.encode(x, true))} for every lane (NaN gives 6, as the codec). */
  static FloatVector roundE2m1(FloatVector x) {
    FloatVector r = roundMini(x, 22, 0x3F800000, 0x1p22f, 6f);
    // E2M1 has no NaN: the codec encodes NaN as 0x7 (+6)
    return r.blend(6f, x.test(VectorOperators.IS_NAN));
  }

  /**
   * Rounds to {@code 23 - drop} mantissa bits (normal range, at or above {@code minNormalBits})
   * or to multiples of {@code magic * 2^-23} (below), saturates at {@code max}; keeps the sign.
   */
  private static FloatVector roundMini(FloatVector x, int drop, int minNormalBits, float magic,
      float max) {
    IntVector bits = x.reinterpretAsInts();
    IntVector a = bits.and(0x7FFFFFFF);
    IntVector normal = a.add((1 << (drop - 1)) - 1)
        .add(a.lanewise(VectorOperators.LSHR, drop).and(1))
        .and(-(1 << drop));
    FloatVector ax = a.reinterpretAsFloats();
    FloatVector sub = ax.add(magic).sub(magic);
    FloatVector mag = normal.reinterpretAsFloats()
        .blend(sub, a.compare(VectorOperators.LT, minNormalBits).cast(F));
    mag = mag.lanewise(VectorOperators.MIN, max); // NaN stays NaN
    mag = mag.blend(ax, ax.test(VectorOperators.IS_NAN));
    return mag.reinterpretAsInts().or(bits.and(0x80000000)).reinterpretAsFloats();
  }
}
