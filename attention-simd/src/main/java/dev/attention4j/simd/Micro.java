package dev.attention4j.simd;

import java.util.Arrays;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The vector loops of the dense engine, in the transposed FlashAttention-2 formulation
 * (ENGINE.md): query rows run along the vector lanes, so a tile of {@code br = 3 * L} packed
 * query rows is three vectors wide. Layouts (all {@code float[]} scratch, row stride {@code br}):
 * {@code qt[e * br + q]} the pre-scaled transposed query tile, {@code st[c * br + q]} the logits
 * and then the probabilities of key {@code c} of the current key tile, {@code ot[e * br + q]} the
 * running output. K and V are read as scalar broadcasts straight from row-major storage.
 *
 * <p>Every hot method is small and takes the width as a {@link Lanes} argument (see there). The
 * microkernels keep 24 accumulators in separate locals (TOOLCHAIN.md pitfall 2); the running
 * max, exp and sum live in their own short passes so that the microkernels stay below C2's
 * inlining and register budgets (ENGINE.md, JIT traps).
 */
final class Micro {

  /** Query vectors per full query tile. */
  static final int TILE_VECTORS = 3;

  // exp: log2(e); the round-to-nearest constant 1.5 * 2^23 plus the exponent bias 127, so that
  // the low mantissa bits of t + ROUNDER are n + 127; the coefficients of a degree-5 polynomial
  // for 2^f on [-1/2, 1/2] (constant term 1, fitted to minimise the largest relative error by
  // attention-simd/src/test/resources/exp2-poly/fit.py)
  private static final float LOG2E = 1.4426950408889634f;
  private static final float ROUNDER = 12582912f + 127f;
  private static final float E1 = 0.6931470036506653f;
  private static final float E2 = 0.24022242426872253f;
  private static final float E3 = 0.05550733208656311f;
  private static final float E4 = 0.009671519510447979f;
  private static final float E5 = 0.001326490775682032f;

  /** Query rows per group of the row-mode (decode) microkernels. */
  static final int ROW_GROUP = 4;

  /** Groups of {@code L} keys whose scores {@link #scoresRowMajor} computes together. */
  static final int FOLD_GROUPS = 4;

  /** Code kinds of {@link #codes}: INT8, FP8 E4M3 without NaN codes, FP8 E4M3 with them. */
  static final int INT8 = 0;
  static final int FP8 = 1;
  static final int FP8_NAN = 2;

  // the reduction trees of row mode for 4, 8 and 16 lanes: per level, the lo and hi index
  // vectors of a two-vector selectFrom, and the key held by each lane of the result
  private static final float[] TREE4 = treeIndexes(4);
  private static final float[] TREE8 = treeIndexes(8);
  private static final float[] TREE16 = treeIndexes(16);
  private static final int[] KEYS4 = treeKeys(4);
  private static final int[] KEYS8 = treeKeys(8);
  private static final int[] KEYS16 = treeKeys(16);

  // the folding tree of the row-major scores (see foldIndexes)
  private static final float[] FOLD4 = foldIndexes(4);
  private static final float[] FOLD8 = foldIndexes(8);
  private static final float[] FOLD16 = foldIndexes(16);
  private static final float[] TURN16 = turnIndexes(16);

  private Micro() {
  }

  // ---- row mode (decoding): vectors along the head dim, few query rows

  /** Row groups of {@link #ROW_GROUP} rows for {@code rows} query rows. */
  static int rowGroups(int rows) {
    return (rows + ROW_GROUP - 1) / ROW_GROUP;
  }

  /**
   * Logits of {@code cols} keys for {@code groups * 4} query rows held row-major in
   * {@code qr[r * d + e]} (pre-scaled, zero-padded), written transposed like {@link #scores}:
   * {@code st[c * br + r]}. Products run along the head dim ({@code d % L == 0}); each block of
   * {@code L} keys leaves {@code L} partial-sum vectors per row in {@code red}, which a
   * reduction tree of two-vector lane selections folds into one vector of {@code L} logits.
   */
  static void scoresRows(Lanes w, int groups, float[] k, int k0, int ldk, int cols, float[] qr,
      int d, float[] st, float[] red) {
    int n = w.species().length();
    int br = TILE_VECTORS * n;
    int[] keys = n == 16 ? KEYS16 : n == 8 ? KEYS8 : KEYS4;
    int out = ROW_GROUP * n * n;
    for (int gq = 0; gq < groups; gq++) {
      int q0 = gq * ROW_GROUP * d;
      for (int c0 = 0; c0 < cols; c0 += n) {
        int m = Math.min(n, cols - c0);
        int c = 0;
        for (; c + 4 <= m; c += 4) {
          qkRows4x4(w, k, k0 + (c0 + c) * ldk, ldk, qr, q0, d, red, c);
        }
        for (; c < m; c++) {
          qkRows1x4(w, k, null, INT8, k0 + (c0 + c) * ldk, qr, q0, d, red, c);
        }
        for (int r = 0; r < ROW_GROUP; r++) {
          reduceTree(w, red, r * n * n, red, out);
          int to = c0 * br + gq * ROW_GROUP + r;
          for (int x = 0; x < n; x++) {
            int key = keys[x];
            if (key < m) {
              st[to + key * br] = red[out + x];
            }
          }
        }
      }
    }
  }

  /**
   * 4 keys x 4 query rows along the head dim: {@code red[(r * L + c) * L + lane]} receives the
   * lane-wise partial products of key {@code c0 + c} and row {@code r}.
   */
  static void qkRows4x4(Lanes w, float[] k, int k0, int ldk, float[] qr, int q0, int d,
      float[] red, int c0) {
    VectorSpecies<Float> s = w.species();
    int n = s.length();
    int k1 = k0 + ldk;
    int k2 = k1 + ldk;
    int k3 = k2 + ldk;
    int q1 = q0 + d;
    int q2 = q1 + d;
    int q3 = q2 + d;
    FloatVector z = FloatVector.zero(s);
    FloatVector a00 = z, a01 = z, a02 = z, a03 = z;
    FloatVector a10 = z, a11 = z, a12 = z, a13 = z;
    FloatVector a20 = z, a21 = z, a22 = z, a23 = z;
    FloatVector a30 = z, a31 = z, a32 = z, a33 = z;
    for (int e = 0; e < d; e += n) {
      FloatVector x0 = FloatVector.fromArray(s, qr, q0 + e);
      FloatVector x1 = FloatVector.fromArray(s, qr, q1 + e);
      FloatVector x2 = FloatVector.fromArray(s, qr, q2 + e);
      FloatVector x3 = FloatVector.fromArray(s, qr, q3 + e);
      FloatVector y0 = FloatVector.fromArray(s, k, k0 + e);
      a00 = y0.fma(x0, a00);
      a10 = y0.fma(x1, a10);
      a20 = y0.fma(x2, a20);
      a30 = y0.fma(x3, a30);
      FloatVector y1 = FloatVector.fromArray(s, k, k1 + e);
      a01 = y1.fma(x0, a01);
      a11 = y1.fma(x1, a11);
      a21 = y1.fma(x2, a21);
      a31 = y1.fma(x3, a31);
      FloatVector y2 = FloatVector.fromArray(s, k, k2 + e);
      a02 = y2.fma(x0, a02);
      a12 = y2.fma(x1, a12);
      a22 = y2.fma(x2, a22);
      a32 = y2.fma(x3, a32);
      FloatVector y3 = FloatVector.fromArray(s, k, k3 + e);
      a03 = y3.fma(x0, a03);
      a13 = y3.fma(x1, a13);
      a23 = y3.fma(x2, a23);
      a33 = y3.fma(x3, a33);
    }
    int r0 = c0 * n;
    int r1 = r0 + n * n;
    int r2 = r1 + n * n;
    int r3 = r2 + n * n;
    a00.intoArray(red, r0);
    a01.intoArray(red, r0 + n);
    a02.intoArray(red, r0 + 2 * n);
    a03.intoArray(red, r0 + 3 * n);
    a10.intoArray(red, r1);
    a11.intoArray(red, r1 + n);
    a12.intoArray(red, r1 + 2 * n);
    a13.intoArray(red, r1 + 3 * n);
    a20.intoArray(red, r2);
    a21.intoArray(red, r2 + n);
    a22.intoArray(red, r2 + 2 * n);
    a23.intoArray(red, r2 + 3 * n);
    a30.intoArray(red, r3);
    a31.intoArray(red, r3 + n);
    a32.intoArray(red, r3 + 2 * n);
    a33.intoArray(red, r3 + 3 * n);
  }

  /**
   * 1 key x 4 query rows along the head dim (the tail of a key block), from float32 rows
   * {@code k} or, when {@code kc} is not null, 8-bit codes ({@link #codes}).
   */
  static void qkRows1x4(Lanes w, float[] k, byte[] kc, int kind, int k0, float[] qr, int q0,
      int d, float[] red, int c) {
    VectorSpecies<Float> s = w.species();
    int n = s.length();
    FloatVector z = FloatVector.zero(s);
    FloatVector a0 = z, a1 = z, a2 = z, a3 = z;
    for (int e = 0; e < d; e += n) {
      FloatVector y = kc == null ? FloatVector.fromArray(s, k, k0 + e)
          : codes(w, kc, k0 + e, kind);
      a0 = y.fma(FloatVector.fromArray(s, qr, q0 + e), a0);
      a1 = y.fma(FloatVector.fromArray(s, qr, q0 + d + e), a1);
      a2 = y.fma(FloatVector.fromArray(s, qr, q0 + 2 * d + e), a2);
      a3 = y.fma(FloatVector.fromArray(s, qr, q0 + 3 * d + e), a3);
    }
    a0.intoArray(red, c * n);
    a1.intoArray(red, n * n + c * n);
    a2.intoArray(red, 2 * n * n + c * n);
    a3.intoArray(red, 3 * n * n + c * n);
  }

  /**
   * Folds the {@code L} vectors at {@code a[base + c * L]} (in place) into one vector whose lane
   * {@code x} is the lane sum of vector {@code keys[x]}, stored at {@code dst[at]}: per level,
   * vector pairs {@code (2i, 2i + 1)} become one by adding a lo and a hi lane selection.
   */
  static void reduceTree(Lanes w, float[] a, int base, float[] dst, int at) {
    VectorSpecies<Float> s = w.species();
    int n = s.length();
    float[] idx = n == 16 ? TREE16 : n == 8 ? TREE8 : TREE4;
    int level = 0;
    for (int count = n; count > 1; count >>= 1, level++) {
      FloatVector lo = FloatVector.fromArray(s, idx, 2 * level * n);
      FloatVector hi = FloatVector.fromArray(s, idx, (2 * level + 1) * n);
      for (int i = 0; i < count / 2; i++) {
        FloatVector x = FloatVector.fromArray(s, a, base + 2 * i * n);
        FloatVector y = FloatVector.fromArray(s, a, base + (2 * i + 1) * n);
        FloatVector r = lo.selectFrom(x, y).add(hi.selectFrom(x, y));
        r.intoArray(a, base + i * n);
      }
    }
    if (dst != a || at != base) {
      System.arraycopy(a, base, dst, at, n);
    }
  }

  private static float[] treeIndexes(int n) {
    int levels = Integer.numberOfTrailingZeros(n);
    float[] idx = new float[2 * levels * n];
    for (int level = 0; level < levels; level++) {
      int seg = n >> level;
      int half = seg / 2;
      for (int x = 0; x < n; x++) {
        int outSeg = x / half;
        int off = x % half;
        int m = outSeg / 2;
        int lo = (outSeg % 2 == 1 ? n : 0) + m * seg + off;
        idx[2 * level * n + x] = lo;
        idx[(2 * level + 1) * n + x] = lo + half;
      }
    }
    return idx;
  }

  private static int[] treeKeys(int n) {
    // keys[v][segment] of each vector slot, level by level
    int[][] keys = new int[n][];
    for (int c = 0; c < n; c++) {
      keys[c] = new int[] {c};
    }
    for (int count = n; count > 1; count >>= 1) {
      int[][] next = new int[count / 2][];
      for (int i = 0; i < count / 2; i++) {
        int[] x = keys[2 * i];
        int[] y = keys[2 * i + 1];
        int[] z = new int[2 * x.length];
        for (int m = 0; m < x.length; m++) {
          z[2 * m] = x[m];
          z[2 * m + 1] = y[m];
        }
        next[i] = z;
      }
      keys = next;
    }
    return keys[0];
  }

  /**
   * Row mode {@code O = diag(alpha) O + P V} for {@code groups * 4} query rows with the output
   * row-major in {@code or[r * dv + e]} ({@code dv % L == 0}) and the probability of row
   * {@code r} and key {@code c} at {@code p[p0 + r * prs + c * pcs]} (transposed tiles:
   * {@code prs = 1, pcs = br}; row-major scores: {@code prs = ld, pcs = 1}).
   */
  static void valuesRows(Lanes w, int groups, float[] v, int v0, int ldv, int cols, float[] p,
      int p0, int prs, int pcs, float[] or, int dv, float[] alpha) {
    int n = w.species().length();
    for (int gq = 0; gq < groups; gq++) {
      int r0 = gq * ROW_GROUP;
      int pb = p0 + r0 * prs;
      int e = 0;
      for (; e + 4 * n <= dv; e += 4 * n) {
        pvRows4x4(w, v, v0 + e, ldv, cols, p, pb, prs, pcs, or, r0 * dv + e, dv, alpha, r0);
      }
      for (; e < dv; e += n) {
        pvRows1x4(w, v, null, INT8, v0 + e, ldv, cols, p, pb, prs, pcs, or, r0 * dv + e, dv,
            alpha, r0, null, 0);
      }
    }
  }

  /**
   * {@link #valuesRows} with the values as 8-bit codes decoded in registers ({@link #codes}) and
   * a scale per value channel, the same for every key of the call:
   * {@code or = diag(alpha) or + (P codes) * scale[s0 + e]} (the scale applied once per output
   * element, after the sum over the keys).
   */
  static void valuesRowsCodes(Lanes w, int groups, byte[] v, int kind, int v0, int ldv,
      int cols, float[] p, int p0, int prs, int pcs, float[] or, int dv, float[] alpha,
      float[] scale, int s0) {
    int n = w.species().length();
    for (int gq = 0; gq < groups; gq++) {
      int r0 = gq * ROW_GROUP;
      int pb = p0 + r0 * prs;
      int e = 0;
      for (; e + 4 * n <= dv; e += 4 * n) {
        pvRows4x4Codes(w, v, kind, v0 + e, ldv, cols, p, pb, prs, pcs, or, r0 * dv + e, dv,
            alpha, r0, scale, s0 + e);
      }
      for (; e < dv; e += n) {
        pvRows1x4(w, null, v, kind, v0 + e, ldv, cols, p, pb, prs, pcs, or, r0 * dv + e, dv,
            alpha, r0, scale, s0 + e);
      }
    }
  }

  /**
   * Row-major logits times a scale per key: {@code sr[s0 + r * lds + c] *= scale[k0 + c]} for
   * {@code r < rows}, {@code c < cols}.
   */
  static void scaleKeys(Lanes w, int rows, float[] sr, int s0, int lds, int cols, float[] scale,
      int k0) {
    VectorSpecies<Float> s = w.species();
    int bound = s.loopBound(cols);
    for (int r = 0; r < rows; r++) {
      int o = s0 + r * lds;
      int c = 0;
      for (; c < bound; c += s.length()) {
        FloatVector.fromArray(s, sr, o + c).mul(FloatVector.fromArray(s, scale, k0 + c))
            .intoArray(sr, o + c);
      }
      for (; c < cols; c++) {
        sr[o + c] *= scale[k0 + c];
      }
    }
  }

  /**
   * 4 query rows x 4 vectors of value columns from float32 rows {@code v}, the rescale folded
   * into the loads of {@code or}. {@link #pvRows4x4Codes} is the same loop over 8-bit codes: one
   * method with both loads (a branch per load) is too large for the JIT once both have run, and
   * it then calls {@link #codes} without inlining it, boxing every vector.
   */
  static void pvRows4x4(Lanes w, float[] v, int v0, int ldv, int cols, float[] p, int pb,
      int prs, int pcs, float[] or, int o0, int dv, float[] alpha, int r0) {
    VectorSpecies<Float> s = w.species();
    int n = s.length();
    int o1 = o0 + dv;
    int o2 = o1 + dv;
    int o3 = o2 + dv;
    float f0 = alpha[r0];
    float f1 = alpha[r0 + 1];
    float f2 = alpha[r0 + 2];
    float f3 = alpha[r0 + 3];
    FloatVector a00 = FloatVector.fromArray(s, or, o0).mul(f0);
    FloatVector a01 = FloatVector.fromArray(s, or, o0 + n).mul(f0);
    FloatVector a02 = FloatVector.fromArray(s, or, o0 + 2 * n).mul(f0);
    FloatVector a03 = FloatVector.fromArray(s, or, o0 + 3 * n).mul(f0);
    FloatVector a10 = FloatVector.fromArray(s, or, o1).mul(f1);
    FloatVector a11 = FloatVector.fromArray(s, or, o1 + n).mul(f1);
    FloatVector a12 = FloatVector.fromArray(s, or, o1 + 2 * n).mul(f1);
    FloatVector a13 = FloatVector.fromArray(s, or, o1 + 3 * n).mul(f1);
    FloatVector a20 = FloatVector.fromArray(s, or, o2).mul(f2);
    FloatVector a21 = FloatVector.fromArray(s, or, o2 + n).mul(f2);
    FloatVector a22 = FloatVector.fromArray(s, or, o2 + 2 * n).mul(f2);
    FloatVector a23 = FloatVector.fromArray(s, or, o2 + 3 * n).mul(f2);
    FloatVector a30 = FloatVector.fromArray(s, or, o3).mul(f3);
    FloatVector a31 = FloatVector.fromArray(s, or, o3 + n).mul(f3);
    FloatVector a32 = FloatVector.fromArray(s, or, o3 + 2 * n).mul(f3);
    FloatVector a33 = FloatVector.fromArray(s, or, o3 + 3 * n).mul(f3);
    int q1 = prs;
    int q2 = 2 * prs;
    int q3 = 3 * prs;
    // keys in the order 0, Q, 2Q, 3Q, 1, Q + 1, ... (Q = cols / 4), then the tail: four runs of
    // V rows are read concurrently
    int quarter = cols / 4;
    int full = 4 * quarter;
    for (int i = 0; i < cols; i++) {
      int c = i < full ? (i & 3) * quarter + (i >> 2) : i;
      int vo = v0 + c * ldv;
      int po = pb + c * pcs;
      FloatVector y0 = FloatVector.fromArray(s, v, vo);
      FloatVector y1 = FloatVector.fromArray(s, v, vo + n);
      FloatVector y2 = FloatVector.fromArray(s, v, vo + 2 * n);
      FloatVector y3 = FloatVector.fromArray(s, v, vo + 3 * n);
      FloatVector p0 = FloatVector.broadcast(s, p[po]);
      a00 = y0.fma(p0, a00);
      a01 = y1.fma(p0, a01);
      a02 = y2.fma(p0, a02);
      a03 = y3.fma(p0, a03);
      FloatVector p1 = FloatVector.broadcast(s, p[po + q1]);
      a10 = y0.fma(p1, a10);
      a11 = y1.fma(p1, a11);
      a12 = y2.fma(p1, a12);
      a13 = y3.fma(p1, a13);
      FloatVector p2 = FloatVector.broadcast(s, p[po + q2]);
      a20 = y0.fma(p2, a20);
      a21 = y1.fma(p2, a21);
      a22 = y2.fma(p2, a22);
      a23 = y3.fma(p2, a23);
      FloatVector p3 = FloatVector.broadcast(s, p[po + q3]);
      a30 = y0.fma(p3, a30);
      a31 = y1.fma(p3, a31);
      a32 = y2.fma(p3, a32);
      a33 = y3.fma(p3, a33);
    }
    a00.intoArray(or, o0);
    a01.intoArray(or, o0 + n);
    a02.intoArray(or, o0 + 2 * n);
    a03.intoArray(or, o0 + 3 * n);
    a10.intoArray(or, o1);
    a11.intoArray(or, o1 + n);
    a12.intoArray(or, o1 + 2 * n);
    a13.intoArray(or, o1 + 3 * n);
    a20.intoArray(or, o2);
    a21.intoArray(or, o2 + n);
    a22.intoArray(or, o2 + 2 * n);
    a23.intoArray(or, o2 + 3 * n);
    a30.intoArray(or, o3);
    a31.intoArray(or, o3 + n);
    a32.intoArray(or, o3 + 2 * n);
    a33.intoArray(or, o3 + 3 * n);
  }

  /**
   * {@link #pvRows4x4} over 8-bit codes {@code vc} ({@link #codes}): the products summed from
   * zero, then {@code or = alpha or + sum * scale[s0 + e]}.
   */
  static void pvRows4x4Codes(Lanes w, byte[] vc, int kind, int v0, int ldv, int cols,
      float[] p, int pb, int prs, int pcs, float[] or, int o0, int dv, float[] alpha, int r0,
      float[] scale, int s0) {
    VectorSpecies<Float> s = w.species();
    int n = s.length();
    int o1 = o0 + dv;
    int o2 = o1 + dv;
    int o3 = o2 + dv;
    FloatVector z = FloatVector.zero(s);
    float f0 = alpha[r0];
    float f1 = alpha[r0 + 1];
    float f2 = alpha[r0 + 2];
    float f3 = alpha[r0 + 3];
    FloatVector a00 = z;
    FloatVector a01 = z;
    FloatVector a02 = z;
    FloatVector a03 = z;
    FloatVector a10 = z;
    FloatVector a11 = z;
    FloatVector a12 = z;
    FloatVector a13 = z;
    FloatVector a20 = z;
    FloatVector a21 = z;
    FloatVector a22 = z;
    FloatVector a23 = z;
    FloatVector a30 = z;
    FloatVector a31 = z;
    FloatVector a32 = z;
    FloatVector a33 = z;
    int q1 = prs;
    int q2 = 2 * prs;
    int q3 = 3 * prs;
    // keys in the order 0, Q, 2Q, 3Q, 1, Q + 1, ... (Q = cols / 4), then the tail: four runs of
    // V rows are read concurrently
    int quarter = cols / 4;
    int full = 4 * quarter;
    for (int i = 0; i < cols; i++) {
      int c = i < full ? (i & 3) * quarter + (i >> 2) : i;
      int vo = v0 + c * ldv;
      int po = pb + c * pcs;
      FloatVector y0 = codes(w, vc, vo, kind);
      FloatVector y1 = codes(w, vc, vo + n, kind);
      FloatVector y2 = codes(w, vc, vo + 2 * n, kind);
      FloatVector y3 = codes(w, vc, vo + 3 * n, kind);
      FloatVector p0 = FloatVector.broadcast(s, p[po]);
      a00 = y0.fma(p0, a00);
      a01 = y1.fma(p0, a01);
      a02 = y2.fma(p0, a02);
      a03 = y3.fma(p0, a03);
      FloatVector p1 = FloatVector.broadcast(s, p[po + q1]);
      a10 = y0.fma(p1, a10);
      a11 = y1.fma(p1, a11);
      a12 = y2.fma(p1, a12);
      a13 = y3.fma(p1, a13);
      FloatVector p2 = FloatVector.broadcast(s, p[po + q2]);
      a20 = y0.fma(p2, a20);
      a21 = y1.fma(p2, a21);
      a22 = y2.fma(p2, a22);
      a23 = y3.fma(p2, a23);
      FloatVector p3 = FloatVector.broadcast(s, p[po + q3]);
      a30 = y0.fma(p3, a30);
      a31 = y1.fma(p3, a31);
      a32 = y2.fma(p3, a32);
      a33 = y3.fma(p3, a33);
    }
    // codes: or = alpha or + acc * scale, the channel scales once per run
    FloatVector c0 = FloatVector.fromArray(s, scale, s0);
    FloatVector c1 = FloatVector.fromArray(s, scale, s0 + n);
    FloatVector c2 = FloatVector.fromArray(s, scale, s0 + 2 * n);
    FloatVector c3 = FloatVector.fromArray(s, scale, s0 + 3 * n);
    a00.fma(c0, FloatVector.fromArray(s, or, o0).mul(f0)).intoArray(or, o0);
    a01.fma(c1, FloatVector.fromArray(s, or, o0 + n).mul(f0)).intoArray(or, o0 + n);
    a02.fma(c2, FloatVector.fromArray(s, or, o0 + 2 * n).mul(f0)).intoArray(or, o0 + 2 * n);
    a03.fma(c3, FloatVector.fromArray(s, or, o0 + 3 * n).mul(f0)).intoArray(or, o0 + 3 * n);
    a10.fma(c0, FloatVector.fromArray(s, or, o1).mul(f1)).intoArray(or, o1);
    a11.fma(c1, FloatVector.fromArray(s, or, o1 + n).mul(f1)).intoArray(or, o1 + n);
    a12.fma(c2, FloatVector.fromArray(s, or, o1 + 2 * n).mul(f1)).intoArray(or, o1 + 2 * n);
    a13.fma(c3, FloatVector.fromArray(s, or, o1 + 3 * n).mul(f1)).intoArray(or, o1 + 3 * n);
    a20.fma(c0, FloatVector.fromArray(s, or, o2).mul(f2)).intoArray(or, o2);
    a21.fma(c1, FloatVector.fromArray(s, or, o2 + n).mul(f2)).intoArray(or, o2 + n);
    a22.fma(c2, FloatVector.fromArray(s, or, o2 + 2 * n).mul(f2)).intoArray(or, o2 + 2 * n);
    a23.fma(c3, FloatVector.fromArray(s, or, o2 + 3 * n).mul(f2)).intoArray(or, o2 + 3 * n);
    a30.fma(c0, FloatVector.fromArray(s, or, o3).mul(f3)).intoArray(or, o3);
    a31.fma(c1, FloatVector.fromArray(s, or, o3 + n).mul(f3)).intoArray(or, o3 + n);
    a32.fma(c2, FloatVector.fromArray(s, or, o3 + 2 * n).mul(f3)).intoArray(or, o3 + 2 * n);
    a33.fma(c3, FloatVector.fromArray(s, or, o3 + 3 * n).mul(f3)).intoArray(or, o3 + 3 * n);
  }

  /** 4 query rows x 1 vector of value columns (the value dim's tail), as {@link #pvRows4x4}. */
  static void pvRows1x4(Lanes w, float[] v, byte[] vc, int kind, int v0, int ldv, int cols,
      float[] p, int pb, int prs, int pcs, float[] or, int o0, int dv, float[] alpha, int r0,
      float[] scale, int s0) {
    VectorSpecies<Float> s = w.species();
    FloatVector z = FloatVector.zero(s);
    FloatVector a0 = vc == null ? FloatVector.fromArray(s, or, o0).mul(alpha[r0]) : z;
    FloatVector a1 = vc == null ? FloatVector.fromArray(s, or, o0 + dv).mul(alpha[r0 + 1]) : z;
    FloatVector a2 = vc == null ? FloatVector.fromArray(s, or, o0 + 2 * dv).mul(alpha[r0 + 2]) : z;
    FloatVector a3 = vc == null ? FloatVector.fromArray(s, or, o0 + 3 * dv).mul(alpha[r0 + 3]) : z;
    for (int c = 0; c < cols; c++) {
      FloatVector y = vc == null ? FloatVector.fromArray(s, v, v0 + c * ldv)
          : codes(w, vc, v0 + c * ldv, kind);
      int po = pb + c * pcs;
      a0 = y.fma(FloatVector.broadcast(s, p[po]), a0);
      a1 = y.fma(FloatVector.broadcast(s, p[po + prs]), a1);
      a2 = y.fma(FloatVector.broadcast(s, p[po + 2 * prs]), a2);
      a3 = y.fma(FloatVector.broadcast(s, p[po + 3 * prs]), a3);
    }
    if (vc == null) {
      a0.intoArray(or, o0);
      a1.intoArray(or, o0 + dv);
      a2.intoArray(or, o0 + 2 * dv);
      a3.intoArray(or, o0 + 3 * dv);
      return;
    }
    FloatVector c0 = FloatVector.fromArray(s, scale, s0);
    a0.fma(c0, FloatVector.fromArray(s, or, o0).mul(alpha[r0])).intoArray(or, o0);
    a1.fma(c0, FloatVector.fromArray(s, or, o0 + dv).mul(alpha[r0 + 1])).intoArray(or, o0 + dv);
    a2.fma(c0, FloatVector.fromArray(s, or, o0 + 2 * dv).mul(alpha[r0 + 2]))
        .intoArray(or, o0 + 2 * dv);
    a3.fma(c0, FloatVector.fromArray(s, or, o0 + 3 * dv).mul(alpha[r0 + 3]))
        .intoArray(or, o0 + 3 * dv);
  }


  // ---- row mode with row-major scores (decoding, FULL key tiles)

  /**
   * Logits of {@code cols} keys for {@code groups * 4} query rows held row-major in
   * {@code qr[r * d + e]} (pre-scaled, zero-padded), written row-major:
   * {@code sr[s0 + r * lds + c]}. Products run along the head dim ({@code d % L == 0}); per
   * block of 4 keys the 16 partial-sum vectors are folded in registers two levels down the
   * reduction tree ({@link #FOLD4} etc.: a lo and a hi two-vector lane selection and an add per
   * pair), and every {@code L} keys the last levels leave one vector of {@code L} logits in key
   * order, stored as is. Keys past the last whole block of {@code L} are summed one by one.
   */
  static void scoresRowMajor(Lanes w, int groups, float[] k, int k0, int ldk, int cols,
      float[] qr, int d, float[] sr, int s0, int lds, float[] red) {
    scoresRowMajor(w, groups, k, null, INT8, k0, ldk, cols, qr, d, sr, s0, lds, red);
  }

  /**
   * {@link #scoresRowMajor} over float32 rows {@code k} or, when {@code kc} is not null, over
   * 8-bit codes decoded in registers ({@link #codes}: by {@code kind}); the
   * logits are then those of the unscaled codes.
   */
  static void scoresRowMajor(Lanes w, int groups, float[] k, byte[] kc, int kind, int k0,
      int ldk, int cols, float[] qr, int d, float[] sr, int s0, int lds, float[] red) {
    int n = w.species().length();
    int nb = n / 4;
    for (int gq = 0; gq < groups; gq++) {
      int q0 = gq * ROW_GROUP * d;
      int so = s0 + gq * ROW_GROUP * lds;
      int c = 0;
      // up to 4 groups of L keys at once, their blocks interleaved: several storage runs
      // (pages) are read concurrently, which keeps more memory requests in flight
      for (; c + n <= cols; ) {
        int gs = Math.min(FOLD_GROUPS, (cols - c) / n);
        int rs = gs * nb * n;
        for (int blk = 0; blk < nb; blk++) {
          for (int x = 0; x < gs; x++) {
            int ko = k0 + (c + x * n + 4 * blk) * ldk;
            if (kc == null) {
              qkFold4x4(w, k, ko, ldk, qr, q0, d, red, (x * nb + blk) * n, rs);
            } else {
              qkFold4x4Codes(w, kc, kind, ko, ldk, qr, q0, d, red, (x * nb + blk) * n, rs);
            }
          }
        }
        for (int x = 0; x < gs; x++) {
          foldRows(w, red, x * nb * n, rs, sr, so + c + x * n, lds);
        }
        c += gs * n;
      }
      // key tail, one key at a time, lanes summed in order
      for (; c < cols; c++) {
        qkRows1x4(w, k, kc, kind, k0 + c * ldk, qr, q0, d, red, 0);
        for (int r = 0; r < ROW_GROUP; r++) {
          float t = 0f;
          for (int x = 0; x < n; x++) {
            t += red[r * n * n + x];
          }
          sr[so + r * lds + c] = t;
        }
      }
    }
  }

  /**
   * 4 keys x 4 query rows along the head dim, then two levels of the reduction tree: row
   * {@code r} leaves one vector at {@code red[at + r * rs]} whose lanes hold {@code L / 4}
   * partial sums of each of the 4 keys, in key order. {@link #qkFold4x4Codes} is the same over
   * 8-bit codes, a separate method for the reason given at {@link #pvRows4x4}.
   */
  static void qkFold4x4(Lanes w, float[] k, int k0, int ldk, float[] qr, int q0, int d,
      float[] red, int at, int rs) {
    VectorSpecies<Float> s = w.species();
    int n = s.length();
    int k1 = k0 + ldk;
    int k2 = k1 + ldk;
    int k3 = k2 + ldk;
    int q1 = q0 + d;
    int q2 = q1 + d;
    int q3 = q2 + d;
    FloatVector z = FloatVector.zero(s);
    FloatVector a00 = z, a01 = z, a02 = z, a03 = z;
    FloatVector a10 = z, a11 = z, a12 = z, a13 = z;
    FloatVector a20 = z, a21 = z, a22 = z, a23 = z;
    FloatVector a30 = z, a31 = z, a32 = z, a33 = z;
    for (int e = 0; e < d; e += n) {
      FloatVector x0 = FloatVector.fromArray(s, qr, q0 + e);
      FloatVector x1 = FloatVector.fromArray(s, qr, q1 + e);
      FloatVector x2 = FloatVector.fromArray(s, qr, q2 + e);
      FloatVector x3 = FloatVector.fromArray(s, qr, q3 + e);
      FloatVector y0 = FloatVector.fromArray(s, k, k0 + e);
      a00 = y0.fma(x0, a00);
      a10 = y0.fma(x1, a10);
      a20 = y0.fma(x2, a20);
      a30 = y0.fma(x3, a30);
      FloatVector y1 = FloatVector.fromArray(s, k, k1 + e);
      a01 = y1.fma(x0, a01);
      a11 = y1.fma(x1, a11);
      a21 = y1.fma(x2, a21);
      a31 = y1.fma(x3, a31);
      FloatVector y2 = FloatVector.fromArray(s, k, k2 + e);
      a02 = y2.fma(x0, a02);
      a12 = y2.fma(x1, a12);
      a22 = y2.fma(x2, a22);
      a32 = y2.fma(x3, a32);
      FloatVector y3 = FloatVector.fromArray(s, k, k3 + e);
      a03 = y3.fma(x0, a03);
      a13 = y3.fma(x1, a13);
      a23 = y3.fma(x2, a23);
      a33 = y3.fma(x3, a33);
    }
    float[] idx = n == 16 ? FOLD16 : n == 8 ? FOLD8 : FOLD4;
    FloatVector la = FloatVector.fromArray(s, idx, 0);
    FloatVector ha = FloatVector.fromArray(s, idx, n);
    FloatVector lb = FloatVector.fromArray(s, idx, 2 * n);
    FloatVector hb = FloatVector.fromArray(s, idx, 3 * n);
    FloatVector u0 = la.selectFrom(a00, a01).add(ha.selectFrom(a00, a01));
    FloatVector u1 = la.selectFrom(a02, a03).add(ha.selectFrom(a02, a03));
    lb.selectFrom(u0, u1).add(hb.selectFrom(u0, u1)).intoArray(red, at);
    u0 = la.selectFrom(a10, a11).add(ha.selectFrom(a10, a11));
    u1 = la.selectFrom(a12, a13).add(ha.selectFrom(a12, a13));
    lb.selectFrom(u0, u1).add(hb.selectFrom(u0, u1)).intoArray(red, at + rs);
    u0 = la.selectFrom(a20, a21).add(ha.selectFrom(a20, a21));
    u1 = la.selectFrom(a22, a23).add(ha.selectFrom(a22, a23));
    lb.selectFrom(u0, u1).add(hb.selectFrom(u0, u1)).intoArray(red, at + 2 * rs);
    u0 = la.selectFrom(a30, a31).add(ha.selectFrom(a30, a31));
    u1 = la.selectFrom(a32, a33).add(ha.selectFrom(a32, a33));
    lb.selectFrom(u0, u1).add(hb.selectFrom(u0, u1)).intoArray(red, at + 3 * rs);
  }

  /** {@link #qkFold4x4} over 8-bit codes {@code kc} ({@link #codes}, by {@code kind}). */
  static void qkFold4x4Codes(Lanes w, byte[] kc, int kind, int k0, int ldk, float[] qr, int q0,
      int d, float[] red, int at, int rs) {
    VectorSpecies<Float> s = w.species();
    int n = s.length();
    int k1 = k0 + ldk;
    int k2 = k1 + ldk;
    int k3 = k2 + ldk;
    int q1 = q0 + d;
    int q2 = q1 + d;
    int q3 = q2 + d;
    FloatVector z = FloatVector.zero(s);
    FloatVector a00 = z, a01 = z, a02 = z, a03 = z;
    FloatVector a10 = z, a11 = z, a12 = z, a13 = z;
    FloatVector a20 = z, a21 = z, a22 = z, a23 = z;
    FloatVector a30 = z, a31 = z, a32 = z, a33 = z;
    for (int e = 0; e < d; e += n) {
      FloatVector x0 = FloatVector.fromArray(s, qr, q0 + e);
      FloatVector x1 = FloatVector.fromArray(s, qr, q1 + e);
      FloatVector x2 = FloatVector.fromArray(s, qr, q2 + e);
      FloatVector x3 = FloatVector.fromArray(s, qr, q3 + e);
      FloatVector y0 = codes(w, kc, k0 + e, kind);
      a00 = y0.fma(x0, a00);
      a10 = y0.fma(x1, a10);
      a20 = y0.fma(x2, a20);
      a30 = y0.fma(x3, a30);
      FloatVector y1 = codes(w, kc, k1 + e, kind);
      a01 = y1.fma(x0, a01);
      a11 = y1.fma(x1, a11);
      a21 = y1.fma(x2, a21);
      a31 = y1.fma(x3, a31);
      FloatVector y2 = codes(w, kc, k2 + e, kind);
      a02 = y2.fma(x0, a02);
      a12 = y2.fma(x1, a12);
      a22 = y2.fma(x2, a22);
      a32 = y2.fma(x3, a32);
      FloatVector y3 = codes(w, kc, k3 + e, kind);
      a03 = y3.fma(x0, a03);
      a13 = y3.fma(x1, a13);
      a23 = y3.fma(x2, a23);
      a33 = y3.fma(x3, a33);
    }
    float[] idx = n == 16 ? FOLD16 : n == 8 ? FOLD8 : FOLD4;
    FloatVector la = FloatVector.fromArray(s, idx, 0);
    FloatVector ha = FloatVector.fromArray(s, idx, n);
    FloatVector lb = FloatVector.fromArray(s, idx, 2 * n);
    FloatVector hb = FloatVector.fromArray(s, idx, 3 * n);
    FloatVector u0 = la.selectFrom(a00, a01).add(ha.selectFrom(a00, a01));
    FloatVector u1 = la.selectFrom(a02, a03).add(ha.selectFrom(a02, a03));
    lb.selectFrom(u0, u1).add(hb.selectFrom(u0, u1)).intoArray(red, at);
    u0 = la.selectFrom(a10, a11).add(ha.selectFrom(a10, a11));
    u1 = la.selectFrom(a12, a13).add(ha.selectFrom(a12, a13));
    lb.selectFrom(u0, u1).add(hb.selectFrom(u0, u1)).intoArray(red, at + rs);
    u0 = la.selectFrom(a20, a21).add(ha.selectFrom(a20, a21));
    u1 = la.selectFrom(a22, a23).add(ha.selectFrom(a22, a23));
    lb.selectFrom(u0, u1).add(hb.selectFrom(u0, u1)).intoArray(red, at + 2 * rs);
    u0 = la.selectFrom(a30, a31).add(ha.selectFrom(a30, a31));
    u1 = la.selectFrom(a32, a33).add(ha.selectFrom(a32, a33));
    lb.selectFrom(u0, u1).add(hb.selectFrom(u0, u1)).intoArray(red, at + 3 * rs);
  }

  /**
   * {@code L} lanes of 8-bit codes at {@code a[off]} as float32, exactly, by {@code kind}:
   * {@link #INT8} as the signed integer; {@link #FP8} and {@link #FP8_NAN} as the E4M3 value (the
   * sign, exponent and mantissa bits placed in a float32 are the value times {@code 2^-120} for
   * normal and subnormal codes alike, so one exact multiply rebiases them), as {@code SimdCodecs}
   * decodes them. {@link #FP8} is for runs without the NaN codes {@code 0x7F} and {@code 0xFF}
   * ({@link #hasFp8NaN}), which it would read as 480; {@link #FP8_NAN} patches them in.
   */
  static FloatVector codes(Lanes w, byte[] a, int off, int kind) {
    VectorSpecies<Float> s = w.species();
    IntVector c = (IntVector) ByteVector.fromArray(w.bytes(), a, off)
        .convertShape(VectorOperators.B2I, w.ints(), 0);
    if (kind == INT8) {
      return (FloatVector) c.convert(VectorOperators.I2F, 0);
    }
    // the code sign-extended and shifted: bits 27-31 all hold the sign, so one mask keeps it in
    // bit 31 and clears the others
    FloatVector val = c.lanewise(VectorOperators.LSHL, 20).and(0x87FFFFFF).reinterpretAsFloats()
        .mul(0x1p120f);
    return kind == FP8 ? val : val.blend(Float.NaN, c.and(0x7F).eq(0x7F).cast(s));
  }

  /**
   * Whether {@code rows} rows of {@code width} FP8 E4M3 codes at {@code a[off + r * ld]} hold a NaN
   * code ({@code 0x7F} or {@code 0xFF}): one pass of full-width byte compares, which also brings
   * the codes into L1 for the product that follows.
   */
  static boolean hasFp8NaN(Lanes w, byte[] a, int off, int ld, int width, int rows) {
    VectorSpecies<Byte> s = w.wideBytes();
    int bound = s.loopBound(width);
    ByteVector ones = ByteVector.broadcast(s, (byte) -1);
    VectorMask<Byte> any = s.maskAll(false);
    boolean tail = false;
    for (int r = 0; r < rows; r++) {
      int o = off + r * ld;
      int e = 0;
      for (; e < bound; e += s.length()) {
        any = any.or(ByteVector.fromArray(s, a, o + e).or((byte) 0x80).eq(ones));
      }
      for (; e < width; e++) {
        tail |= (a[o + e] & 0x7F) == 0x7F;
      }
    }
    return tail || any.anyTrue();
  }

  /**
   * The last levels of the reduction tree for 4 rows: the {@code L / 4} vectors of row
   * {@code r} at {@code red[r0 + r * rs]} (from {@link #qkFold4x4}) become the {@code L} logits of
   * {@code L} consecutive keys, stored at {@code sr[at + r * lds]}.
   */
  static void foldRows(Lanes w, float[] red, int r0, int rs, float[] sr, int at, int lds) {
    VectorSpecies<Float> s = w.species();
    int n = s.length();
    for (int r = 0; r < ROW_GROUP; r++) {
      int o = r0 + r * rs;
      if (n == 4) {
        FloatVector.fromArray(s, red, o).intoArray(sr, at + r * lds);
      } else if (n == 8) {
        FloatVector lc = FloatVector.fromArray(s, FOLD8, 4 * n);
        FloatVector hc = FloatVector.fromArray(s, FOLD8, 5 * n);
        FloatVector w0 = FloatVector.fromArray(s, red, o);
        FloatVector w1 = FloatVector.fromArray(s, red, o + n);
        lc.selectFrom(w0, w1).add(hc.selectFrom(w0, w1)).intoArray(sr, at + r * lds);
      } else {
        FloatVector lc = FloatVector.fromArray(s, FOLD16, 4 * n);
        FloatVector hc = FloatVector.fromArray(s, FOLD16, 5 * n);
        FloatVector ld = FloatVector.fromArray(s, FOLD16, 6 * n);
        FloatVector hd = FloatVector.fromArray(s, FOLD16, 7 * n);
        FloatVector w0 = FloatVector.fromArray(s, red, o);
        FloatVector w1 = FloatVector.fromArray(s, red, o + n);
        FloatVector w2 = FloatVector.fromArray(s, red, o + 2 * n);
        FloatVector w3 = FloatVector.fromArray(s, red, o + 3 * n);
        FloatVector u0 = lc.selectFrom(w0, w1).add(hc.selectFrom(w0, w1));
        FloatVector u1 = lc.selectFrom(w2, w3).add(hc.selectFrom(w2, w3));
        ld.selectFrom(u0, u1).add(hd.selectFrom(u0, u1)).intoArray(sr, at + r * lds);
      }
    }
  }

  /**
   * The lane selections of the reduction tree for {@code n} lanes, level by level (lo then hi
   * index vector per level): a level takes two vectors holding {@code seg} partial sums per key
   * ({@code n / seg} keys each) to one vector holding {@code seg / 2} per key, the keys of the
   * first vector before those of the second, so that the last level leaves the keys in order.
   */
  private static float[] foldIndexes(int n) {
    int levels = Integer.numberOfTrailingZeros(n);
    float[] idx = new float[2 * levels * n];
    for (int level = 0, seg = n; level < levels; level++, seg /= 2) {
      int half = seg / 2;
      int perVector = n / seg;
      for (int x = 0; x < n; x++) {
        int key = x / half;
        int lo = (key < perVector ? 0 : n) + (key % perVector) * seg + x % half;
        idx[2 * level * n + x] = lo;
        idx[(2 * level + 1) * n + x] = lo + half;
      }
    }
    return idx;
  }

  /**
   * One online-softmax step for {@code rows} rows of row-major logits {@code sr[r * lds + c]},
   * {@code c < cols}, whose row slots {@code [cols, roundUp(cols, L))} the caller has set to
   * {@code -inf}: as {@link #softmax} (same NaN guard), with the keys along the lanes; the row
   * maxima and sums are folded in lane order. {@code tmp} holds at least {@code 2 L + 16}
   * floats; {@code rows <= 8}. {@code log2}: as for {@link #softmax}.
   */
  static void softmaxRows(Lanes w, int rows, float[] sr, int lds, int cols, float[] m,
      float[] l, float[] alpha, float[] tmp, boolean log2) {
    VectorSpecies<Float> s = w.species();
    int n = s.length();
    int vecs = (cols + n - 1) / n;
    FloatVector ninf = FloatVector.broadcast(s, Float.NEGATIVE_INFINITY);
    // tmp: [0, n) lanes; [n, 2n + 8) per row the old max minus the safe max; then the row sums
    int ds = n;
    int ss = 2 * n + 8;
    for (int r = 0; r < rows; r++) {
      int base = r * lds;
      FloatVector mx = ninf;
      for (int v = 0; v < vecs; v++) {
        FloatVector x = FloatVector.fromArray(s, sr, base + v * n);
        mx = mx.blend(x, x.compare(VectorOperators.GT, mx));
      }
      mx.intoArray(tmp, 0);
      float mOld = m[r];
      float mNew = mOld;
      for (int x = 0; x < n; x++) {
        if (tmp[x] > mNew) {
          mNew = tmp[x];
        }
      }
      float mSafe = mNew == Float.NEGATIVE_INFINITY ? 0f : mNew;
      FloatVector ms = FloatVector.broadcast(s, mSafe);
      FloatVector sum = FloatVector.zero(s);
      for (int v = 0; v < vecs; v++) {
        int at = base + v * n;
        FloatVector p = exp2(unit(FloatVector.fromArray(s, sr, at).sub(ms), log2));
        p.intoArray(sr, at);
        sum = sum.add(p);
      }
      sum.intoArray(tmp, 0);
      float t = 0f;
      for (int x = 0; x < n; x++) {
        t += tmp[x];
      }
      tmp[ds + r] = mOld - mSafe;
      tmp[ss + r] = t;
      m[r] = mNew;
    }
    // rescale factors exp(m_old - m_new), then l = alpha * l_old + sum
    for (int r = 0; r < rows; r += n) {
      exp2(unit(FloatVector.fromArray(s, tmp, ds + r), log2)).intoArray(tmp, ds + r);
    }
    for (int r = 0; r < rows; r++) {
      float a = tmp[ds + r];
      alpha[r] = a;
      l[r] = Math.fma(l[r], a, tmp[ss + r]);
    }
  }

  // ---- S^T = K Q^T

  /**
   * Logits of {@code cols} keys:
   * {@code st[c * br + q] = sum_e k[k0 + c * ldk + e] * qt[e * br + q]}
   * for the first {@code nv} query vectors ({@code nv} is 1, 2 or 3).
   */
  static void scores(Lanes w, int nv, float[] k, int k0, int ldk, int cols, float[] qt, int d,
      float[] st) {
    int br = TILE_VECTORS * w.species().length();
    int c = 0;
    if (nv == 1) {
      for (; c + 8 <= cols; c += 8) {
        qk8x1(w, k, k0 + c * ldk, ldk, qt, d, st, c * br);
      }
      for (; c < cols; c++) {
        qk1(w, 1, k, k0 + c * ldk, qt, d, st, c * br);
      }
    } else if (nv == 2) {
      for (; c + 8 <= cols; c += 8) {
        qk8x2(w, k, k0 + c * ldk, ldk, qt, d, st, c * br);
      }
      for (; c < cols; c++) {
        qk1(w, 2, k, k0 + c * ldk, qt, d, st, c * br);
      }
    } else {
      for (; c + 8 <= cols; c += 8) {
        qk8x3(w, k, k0 + c * ldk, ldk, qt, d, st, c * br);
      }
      for (; c < cols; c++) {
        qk1(w, 3, k, k0 + c * ldk, qt, d, st, c * br);
      }
    }
  }

  /** One key row (the tail of a key tile), {@code nv} query vectors. */
  static void qk1(Lanes w, int nv, float[] k, int k0, float[] qt, int d, float[] st, int s0) {
    VectorSpecies<Float> s = w.species();
    int n = s.length();
    int br = TILE_VECTORS * n;
    for (int v = 0; v < nv; v++) {
      FloatVector a0 = FloatVector.zero(s);
      FloatVector a1 = a0;
      int e = 0;
      // two accumulators break the FMA latency chain
      for (; e + 2 <= d; e += 2) {
        FloatVector b0 = FloatVector.broadcast(s, k[k0 + e]);
        FloatVector b1 = FloatVector.broadcast(s, k[k0 + e + 1]);
        a0 = b0.fma(FloatVector.fromArray(s, qt, e * br + v * n), a0);
        a1 = b1.fma(FloatVector.fromArray(s, qt, (e + 1) * br + v * n), a1);
      }
      if (e < d) {
        FloatVector b0 = FloatVector.broadcast(s, k[k0 + e]);
        a0 = b0.fma(FloatVector.fromArray(s, qt, e * br + v * n), a0);
      }
      a0.add(a1).intoArray(st, s0 + v * n);
    }
  }

  // ---- O^T = diag(alpha) O^T + V^T P^T

  /**
   * Rescales the running output by {@code alpha} and adds the contribution of {@code cols} keys
   * whose probabilities are in {@code pt}: {@code ot[e * br + q] = alpha[q] * ot[e * br + q]
   * + sum_c v[v0 + c * ldv + e] * pt[c * br + q]} for {@code e < dv}.
   */
  static void values(Lanes w, int nv, float[] v, int v0, int ldv, int cols, float[] pt,
      float[] ot, int dv, float[] alpha) {
    int br = TILE_VECTORS * w.species().length();
    int e = 0;
    if (nv == 1) {
      for (; e + 8 <= dv; e += 8) {
        pv8x1(w, v, v0 + e, ldv, cols, pt, ot, e * br, alpha);
      }
      for (; e < dv; e++) {
        pv1(w, 1, v, v0 + e, ldv, cols, pt, ot, e * br, alpha);
      }
    } else if (nv == 2) {
      for (; e + 8 <= dv; e += 8) {
        pv8x2(w, v, v0 + e, ldv, cols, pt, ot, e * br, alpha);
      }
      for (; e < dv; e++) {
        pv1(w, 2, v, v0 + e, ldv, cols, pt, ot, e * br, alpha);
      }
    } else {
      for (; e + 8 <= dv; e += 8) {
        pv8x3(w, v, v0 + e, ldv, cols, pt, ot, e * br, alpha);
      }
      for (; e < dv; e++) {
        pv1(w, 3, v, v0 + e, ldv, cols, pt, ot, e * br, alpha);
      }
    }
  }

  /** One value column (the tail of the value dimension), {@code nv} query vectors. */
  static void pv1(Lanes w, int nv, float[] v, int v0, int ldv, int cols, float[] pt, float[] ot,
      int o0, float[] alpha) {
    VectorSpecies<Float> s = w.species();
    int n = s.length();
    int br = TILE_VECTORS * n;
    for (int q = 0; q < nv; q++) {
      FloatVector a0 = FloatVector.fromArray(s, ot, o0 + q * n)
          .mul(FloatVector.fromArray(s, alpha, q * n));
      FloatVector a1 = FloatVector.zero(s);
      int c = 0;
      for (; c + 2 <= cols; c += 2) {
        FloatVector b0 = FloatVector.broadcast(s, v[v0 + c * ldv]);
        FloatVector b1 = FloatVector.broadcast(s, v[v0 + (c + 1) * ldv]);
        a0 = b0.fma(FloatVector.fromArray(s, pt, c * br + q * n), a0);
        a1 = b1.fma(FloatVector.fromArray(s, pt, (c + 1) * br + q * n), a1);
      }
      if (c < cols) {
        FloatVector b0 = FloatVector.broadcast(s, v[v0 + c * ldv]);
        a0 = b0.fma(FloatVector.fromArray(s, pt, c * br + q * n), a0);
      }
      a0.add(a1).intoArray(ot, o0 + q * n);
    }
  }

  // ---- online softmax, lane-wise over queries

  /**
   * One online-softmax step over a key tile whose logits are in {@code st} (masked entries
   * {@code -inf}): updates the running max {@code m} and sum {@code l}, overwrites the logits with
   * {@code exp(s - m_new)} and writes the rescale factor {@code exp(m_old - m_new)} to
   * {@code alpha}. NaN guard: a lane whose max is still {@code -inf} subtracts 0 instead, so its
   * masked entries give exactly 0 and its factor is {@code exp(-inf) = 0}, never NaN. With
   * {@code log2} the logits, {@code m} and the exponentials are in base 2 ({@code 2^(s - m_new)}).
   * With {@code raw} the logits come straight from the product, and their infinities are turned
   * into NaN here (the work of {@link #nanNonFinite}, checked during the max pass); without it
   * the caller has done that before its masks.
   */
  static void softmax(Lanes w, int nv, float[] st, int cols, float[] m, float[] l,
      float[] alpha, boolean log2, boolean raw) {
    VectorSpecies<Float> s = w.species();
    int n = s.length();
    int br = TILE_VECTORS * n;
    FloatVector ninf = FloatVector.broadcast(s, Float.NEGATIVE_INFINITY);
    FloatVector zero = FloatVector.zero(s);
    for (int v = 0; v < nv; v++) {
      int lo = v * n;
      FloatVector mOld = FloatVector.fromArray(s, m, lo);
      // running max, two chains; raw logits are also summed times 0, which is NaN when one of
      // them is infinite or NaN
      FloatVector mx0 = mOld;
      FloatVector mx1 = ninf;
      FloatVector bad0 = zero;
      FloatVector bad1 = zero;
      int c = 0;
      for (; c + 2 <= cols; c += 2) {
        FloatVector x0 = FloatVector.fromArray(s, st, c * br + lo);
        FloatVector x1 = FloatVector.fromArray(s, st, (c + 1) * br + lo);
        mx0 = mx0.blend(x0, x0.compare(VectorOperators.GT, mx0));
        mx1 = mx1.blend(x1, x1.compare(VectorOperators.GT, mx1));
        if (raw) {
          bad0 = x0.fma(zero, bad0);
          bad1 = x1.fma(zero, bad1);
        }
      }
      if (c < cols) {
        FloatVector x0 = FloatVector.fromArray(s, st, c * br + lo);
        mx0 = mx0.blend(x0, x0.compare(VectorOperators.GT, mx0));
        if (raw) {
          bad0 = x0.fma(zero, bad0);
        }
      }
      FloatVector mNew = mx0.blend(mx1, mx1.compare(VectorOperators.GT, mx0));
      if (raw && bad0.add(bad1).test(VectorOperators.IS_NAN).anyTrue()) {
        // reloaded from the array: a vector returned by a call that is not inlined would make
        // the JIT box every mNew of the loop
        nanColumn(n, st, lo, br, cols, m, alpha);
        mNew = FloatVector.fromArray(s, alpha, lo);
      }
      FloatVector mSafe = mNew.blend(zero, mNew.compare(VectorOperators.EQ, ninf));
      FloatVector a = exp2(unit(mOld.sub(mSafe), log2));
      // exp and row sum
      FloatVector sum = zero;
      for (c = 0; c < cols; c++) {
        int at = c * br + lo;
        FloatVector p = exp2(unit(FloatVector.fromArray(s, st, at).sub(mSafe), log2));
        p.intoArray(st, at);
        sum = sum.add(p);
      }
      FloatVector.fromArray(s, l, lo).fma(a, sum).intoArray(l, lo);
      mNew.intoArray(m, lo);
      a.intoArray(alpha, lo);
    }
  }

  /**
   * The rare path of {@link #softmax} for raw logits that hold a NaN or an infinity: the
   * infinities of the query vector at {@code lo} become NaN as in {@link #nanNonFinite}, and the
   * vector's new running max is written to {@code tmp[lo, lo + n)} (the softmax writes its
   * {@code alpha} there afterwards).
   */
  private static void nanColumn(int n, float[] st, int lo, int br, int cols, float[] m,
      float[] tmp) {
    System.arraycopy(m, lo, tmp, lo, n);
    for (int c = 0; c < cols; c++) {
      for (int x = 0; x < n; x++) {
        int at = c * br + lo + x;
        float y = st[at] * 0f + st[at];
        st[at] = y;
        if (y > tmp[lo + x]) {
          tmp[lo + x] = y;
        }
      }
    }
  }

  /**
   * Logit differences in base-2 units: as they are when {@code log2} (the caller folded
   * {@code log2 e} into the query scale), else times {@code log2 e}.
   */
  private static FloatVector unit(FloatVector x, boolean log2) {
    return log2 ? x : x.mul(LOG2E);
  }

  /** {@code e^x} for {@code x <= 0}, {@code -inf} and NaN: {@link #exp2} of {@code x log2 e}. */
  static FloatVector exp(FloatVector x) {
    return exp2(x.mul(LOG2E));
  }

  /**
   * {@code 2^t} for {@code t <= 0}, {@code -inf} (gives 0) and NaN (gives NaN): {@code 2^n 2^f}
   * with {@code n = round(t)} (by the 1.5 * 2^23 trick), {@code |f| <= 1/2} and a degree-5
   * polynomial for {@code 2^f}; relative error below 1.7e-7, {@code 2^0} exactly 1, results below
   * {@code 2^-126} flush to 0. Built from add, multiply and fma only, so the result is bitwise
   * the same in the interpreter and in every JIT tier (unlike {@code lanewise(EXP)}, whose
   * intrinsic and fallback round differently), which keeps the kernel deterministic.
   */
  static FloatVector exp2(FloatVector t) {
    t = t.blend(-127f, t.lt(-127f));
    FloatVector r = t.add(ROUNDER);
    FloatVector f = t.sub(r.sub(ROUNDER));
    VectorSpecies<Float> s = t.species();
    FloatVector p = f.fma(E5, E4);
    p = p.fma(f, FloatVector.broadcast(s, E3));
    p = p.fma(f, FloatVector.broadcast(s, E2));
    p = p.fma(f, FloatVector.broadcast(s, E1));
    p = p.fma(f, FloatVector.broadcast(s, 1f));
    // the low mantissa bits of r hold n + 127; shifted into the exponent field they are the
    // float 2^n (0 for n = -127)
    FloatVector pow2n = r.reinterpretAsInts().lanewise(VectorOperators.LSHL, 23)
        .reinterpretAsFloats();
    return p.mul(pow2n);
  }

  /**
   * {@code tanh(x)}: {@code sign(x) (1 - e) / (1 + e)} with {@code e = e^(-2|x|)}, and for
   * {@code |x| < 1/8} (where {@code 1 - e} would cancel) the odd series up to {@code x^7}.
   */
  static FloatVector tanh(FloatVector x) {
    FloatVector a = x.abs();
    FloatVector e = exp(a.mul(-2f));
    FloatVector y = e.neg().add(1f).div(e.add(1f));
    FloatVector x2 = x.mul(x);
    FloatVector series = x2.fma(-17f / 315f, 2f / 15f).fma(x2, FloatVector.broadcast(x.species(),
        -1f / 3f)).mul(x2).fma(x, x);
    y = y.blend(y.neg(), x.lt(0f));
    return y.blend(series, a.lt(0.125f));
  }

  // ---- logit modifiers and masks

  /**
   * Softcap {@code c * tanh(s / c)} (when {@code cap > 0}) and then ALiBi
   * {@code s -= slope[q] * |i_q + diag - j|} (when {@code slope != null}) over a key tile.
   */
  static void softcapAndAlibi(Lanes w, int nv, float[] st, int cols, int j0, float cap,
      float[] slope, float[] qi, long diag) {
    VectorSpecies<Float> s = w.species();
    int n = s.length();
    int br = TILE_VECTORS * n;
    FloatVector capv = FloatVector.broadcast(s, cap);
    for (int v = 0; v < nv; v++) {
      int lo = v * n;
      FloatVector qiv = FloatVector.fromArray(s, qi, lo);
      FloatVector sl = slope == null ? null : FloatVector.fromArray(s, slope, lo);
      for (int c = 0; c < cols; c++) {
        int at = c * br + lo;
        FloatVector x = FloatVector.fromArray(s, st, at);
        if (cap > 0) {
          x = tanh(x.div(capv)).mul(capv);
        }
        if (sl != null) {
          FloatVector dist = qiv.add((float) (diag - (j0 + c))).abs();
          x = x.sub(sl.mul(dist));
        }
        x.intoArray(st, at);
      }
    }
  }

  /**
   * The band mask (causal / sliding window) of a PARTIAL tile, analytically: query {@code i}
   * sees key {@code j} iff {@code j - diag - right <= i <= j - diag + left} ({@code -1} =
   * unbounded); other entries become {@code -inf}.
   */
  static void band(Lanes w, int nv, float[] st, int cols, int j0, long diag, long left,
      long right, float[] qi) {
    VectorSpecies<Float> s = w.species();
    int n = s.length();
    int br = TILE_VECTORS * n;
    FloatVector ninf = FloatVector.broadcast(s, Float.NEGATIVE_INFINITY);
    for (int v = 0; v < nv; v++) {
      int lo = v * n;
      FloatVector qiv = FloatVector.fromArray(s, qi, lo);
      for (int c = 0; c < cols; c++) {
        long j = j0 + c;
        float first = right < 0 ? Float.NEGATIVE_INFINITY : (float) (j - diag - right);
        float last = left < 0 ? Float.POSITIVE_INFINITY : (float) (j - diag + left);
        int at = c * br + lo;
        FloatVector x = FloatVector.fromArray(s, st, at);
        x = x.blend(ninf, qiv.compare(VectorOperators.LT, first)
            .or(qiv.compare(VectorOperators.GT, last)));
        x.intoArray(st, at);
      }
    }
  }

  /**
   * The transposed, scaled query tile from float32 rows: {@code qt[e * br + r] = scale *
   * x[rowOff[r] + e]} for {@code r < rows}, zero for the other lanes of the tile. With 16 lanes,
   * blocks of 16 rows by 16 columns go through {@link #turn16} (a 32-row tile by 128 columns in
   * about 0.9 us on the AMD EPYC host, against 1.4 us by gathers); the columns past the last whole
   * block, and other widths, by vector gathers down the rows. The entries of {@code rowOff} from
   * {@code rows} to the end of the last vector must be offsets of some row too (0 will do): they
   * are read and their values dropped.
   */
  static void packTransposed(Lanes w, float[] x, int[] rowOff, int rows, int d, float scale,
      float[] qt) {
    VectorSpecies<Float> s = w.species();
    int n = s.length();
    int br = TILE_VECTORS * n;
    int nv = (rows + n - 1) / n;
    int turned = n == 16 ? d / 16 * 16 : 0;
    for (int v = 0; v < nv; v++) {
      int live = Math.min(n, rows - v * n);
      for (int e0 = 0; e0 < turned; e0 += 16) {
        turn16(x, rowOff, v * n, e0, live, scale, qt, e0 * br + v * n, br);
      }
      if (live == n) {
        for (int e = turned; e < d; e++) {
          FloatVector.fromArray(s, x, e, rowOff, v * n).mul(scale).intoArray(qt, e * br + v * n);
        }
      } else {
        // an unmasked gather and a blend: the JIT does not intrinsify a masked gather here and
        // would box its vectors and masks
        VectorMask<Float> dead = s.indexInRange(v * n, rows).not();
        FloatVector zero = FloatVector.zero(s);
        for (int e = turned; e < d; e++) {
          FloatVector.fromArray(s, x, e, rowOff, v * n).mul(scale).blend(zero, dead)
              .intoArray(qt, e * br + v * n);
        }
      }
    }
    FloatVector zero = FloatVector.zero(s);
    for (int v = nv; v < TILE_VECTORS; v++) {
      for (int e = 0; e < d; e++) {
        zero.intoArray(qt, e * br + v * n);
      }
    }
  }

  /**
   * With 16 lanes, the transposed accumulator of a query tile made row-major:
   * {@code dst[r * dv + e] = ot[e * br + r]} for {@code r < roundUp(rows, 16)}, {@code e < dv}
   * ({@link #turn16} on whole blocks, one element at a time past them). {@code cols} is
   * {@code {0, br, 2 br, ...}}.
   */
  static void unpackTransposed16(float[] ot, int rows, int dv, int[] cols, float[] dst) {
    int br = TILE_VECTORS * 16;
    int turned = dv / 16 * 16;
    for (int r0 = 0; r0 < rows; r0 += 16) {
      for (int e0 = 0; e0 < turned; e0 += 16) {
        turn16(ot, cols, 0, e0 * br + r0, 16, 1f, dst, r0 * dv + e0, dv);
      }
      for (int r = r0; r < r0 + 16; r++) {
        for (int e = turned; e < dv; e++) {
          dst[r * dv + e] = ot[e * br + r];
        }
      }
    }
  }

  /**
   * One normalised output row from the transposed accumulator: {@code dst[at + e] =
   * ot[e * br + r] * inv} for {@code e < dv}, by vector gathers down the accumulator's column
   * ({@code stride} = {@code {0, br, 2 br, ...}}).
   */
  static void unpackRow(Lanes w, float[] ot, int r, int dv, float inv, int[] stride, float[] dst,
      int at) {
    VectorSpecies<Float> s = w.species();
    int n = s.length();
    int br = TILE_VECTORS * n;
    int e = 0;
    for (int bound = s.loopBound(dv); e < bound; e += n) {
      FloatVector.fromArray(s, ot, r + e * br, stride, 0).mul(inv).intoArray(dst, at + e);
    }
    for (; e < dv; e++) {
      dst[at + e] = ot[e * br + r] * inv;
    }
  }

  /** {@code dst[at + e] = src[from + e] * f} for {@code e < len}. */
  static void scaleRow(Lanes w, float[] src, int from, float f, float[] dst, int at, int len) {
    VectorSpecies<Float> s = w.species();
    int e = 0;
    for (int bound = s.loopBound(len); e < bound; e += s.length()) {
      FloatVector.fromArray(s, src, from + e).mul(f).intoArray(dst, at + e);
    }
    for (; e < len; e++) {
      dst[at + e] = src[from + e] * f;
    }
  }

  /**
   * A 16 x 16 block transposed in registers: vector {@code i} is loaded from
   * {@code src[off[o0 + i] + add]} (16 floats; zero for {@code i >= live}) and times
   * {@code scale}, and lane {@code i} of the loaded vectors becomes vector {@code i}, stored at
   * {@code dst[d0 + i * ldd]}. Four stages of 16 two-vector lane selections ({@link #TURN16}):
   * stage {@code h} (8, 4, 2, 1) pairs vector {@code i} with {@code i + h} ({@code i & h == 0})
   * and interleaves their runs of {@code h} lanes, so that after the first stage the four 8 x 8
   * quarters are in their transposed places and each half goes on as a block of half the size.
   * The vectors are locals, not an array, so that they stay in registers.
   */
  static void turn16(float[] src, int[] off, int o0, int add, int live, float scale, float[] dst,
      int d0, int ldd) {
    VectorSpecies<Float> s = FloatVector.SPECIES_512;
    FloatVector x0 = load16(src, off, o0, add, 0, live, scale);
    FloatVector x1 = load16(src, off, o0, add, 1, live, scale);
    FloatVector x2 = load16(src, off, o0, add, 2, live, scale);
    FloatVector x3 = load16(src, off, o0, add, 3, live, scale);
    FloatVector x4 = load16(src, off, o0, add, 4, live, scale);
    FloatVector x5 = load16(src, off, o0, add, 5, live, scale);
    FloatVector x6 = load16(src, off, o0, add, 6, live, scale);
    FloatVector x7 = load16(src, off, o0, add, 7, live, scale);
    FloatVector x8 = load16(src, off, o0, add, 8, live, scale);
    FloatVector x9 = load16(src, off, o0, add, 9, live, scale);
    FloatVector x10 = load16(src, off, o0, add, 10, live, scale);
    FloatVector x11 = load16(src, off, o0, add, 11, live, scale);
    FloatVector x12 = load16(src, off, o0, add, 12, live, scale);
    FloatVector x13 = load16(src, off, o0, add, 13, live, scale);
    FloatVector x14 = load16(src, off, o0, add, 14, live, scale);
    FloatVector x15 = load16(src, off, o0, add, 15, live, scale);
    // h = 8
    FloatVector lo = FloatVector.fromArray(s, TURN16, 0);
    FloatVector hi = FloatVector.fromArray(s, TURN16, 16);
    FloatVector y0 = lo.selectFrom(x0, x8);
    FloatVector y8 = hi.selectFrom(x0, x8);
    FloatVector y1 = lo.selectFrom(x1, x9);
    FloatVector y9 = hi.selectFrom(x1, x9);
    FloatVector y2 = lo.selectFrom(x2, x10);
    FloatVector y10 = hi.selectFrom(x2, x10);
    FloatVector y3 = lo.selectFrom(x3, x11);
    FloatVector y11 = hi.selectFrom(x3, x11);
    FloatVector y4 = lo.selectFrom(x4, x12);
    FloatVector y12 = hi.selectFrom(x4, x12);
    FloatVector y5 = lo.selectFrom(x5, x13);
    FloatVector y13 = hi.selectFrom(x5, x13);
    FloatVector y6 = lo.selectFrom(x6, x14);
    FloatVector y14 = hi.selectFrom(x6, x14);
    FloatVector y7 = lo.selectFrom(x7, x15);
    FloatVector y15 = hi.selectFrom(x7, x15);
    // h = 4
    lo = FloatVector.fromArray(s, TURN16, 32);
    hi = FloatVector.fromArray(s, TURN16, 48);
    x0 = lo.selectFrom(y0, y4);
    x4 = hi.selectFrom(y0, y4);
    x1 = lo.selectFrom(y1, y5);
    x5 = hi.selectFrom(y1, y5);
    x2 = lo.selectFrom(y2, y6);
    x6 = hi.selectFrom(y2, y6);
    x3 = lo.selectFrom(y3, y7);
    x7 = hi.selectFrom(y3, y7);
    x8 = lo.selectFrom(y8, y12);
    x12 = hi.selectFrom(y8, y12);
    x9 = lo.selectFrom(y9, y13);
    x13 = hi.selectFrom(y9, y13);
    x10 = lo.selectFrom(y10, y14);
    x14 = hi.selectFrom(y10, y14);
    x11 = lo.selectFrom(y11, y15);
    x15 = hi.selectFrom(y11, y15);
    // h = 2
    lo = FloatVector.fromArray(s, TURN16, 64);
    hi = FloatVector.fromArray(s, TURN16, 80);
    y0 = lo.selectFrom(x0, x2);
    y2 = hi.selectFrom(x0, x2);
    y1 = lo.selectFrom(x1, x3);
    y3 = hi.selectFrom(x1, x3);
    y4 = lo.selectFrom(x4, x6);
    y6 = hi.selectFrom(x4, x6);
    y5 = lo.selectFrom(x5, x7);
    y7 = hi.selectFrom(x5, x7);
    y8 = lo.selectFrom(x8, x10);
    y10 = hi.selectFrom(x8, x10);
    y9 = lo.selectFrom(x9, x11);
    y11 = hi.selectFrom(x9, x11);
    y12 = lo.selectFrom(x12, x14);
    y14 = hi.selectFrom(x12, x14);
    y13 = lo.selectFrom(x13, x15);
    y15 = hi.selectFrom(x13, x15);
    // h = 1, stored
    lo = FloatVector.fromArray(s, TURN16, 96);
    hi = FloatVector.fromArray(s, TURN16, 112);
    lo.selectFrom(y0, y1).intoArray(dst, d0);
    hi.selectFrom(y0, y1).intoArray(dst, d0 + ldd);
    lo.selectFrom(y2, y3).intoArray(dst, d0 + 2 * ldd);
    hi.selectFrom(y2, y3).intoArray(dst, d0 + 3 * ldd);
    lo.selectFrom(y4, y5).intoArray(dst, d0 + 4 * ldd);
    hi.selectFrom(y4, y5).intoArray(dst, d0 + 5 * ldd);
    lo.selectFrom(y6, y7).intoArray(dst, d0 + 6 * ldd);
    hi.selectFrom(y6, y7).intoArray(dst, d0 + 7 * ldd);
    lo.selectFrom(y8, y9).intoArray(dst, d0 + 8 * ldd);
    hi.selectFrom(y8, y9).intoArray(dst, d0 + 9 * ldd);
    lo.selectFrom(y10, y11).intoArray(dst, d0 + 10 * ldd);
    hi.selectFrom(y10, y11).intoArray(dst, d0 + 11 * ldd);
    lo.selectFrom(y12, y13).intoArray(dst, d0 + 12 * ldd);
    hi.selectFrom(y12, y13).intoArray(dst, d0 + 13 * ldd);
    lo.selectFrom(y14, y15).intoArray(dst, d0 + 14 * ldd);
    hi.selectFrom(y14, y15).intoArray(dst, d0 + 15 * ldd);
  }

  /** Vector {@code i} of {@link #turn16}. */
  private static FloatVector load16(float[] src, int[] off, int o0, int add, int i, int live,
      float scale) {
    return i < live ? FloatVector.fromArray(FloatVector.SPECIES_512, src, off[o0 + i] + add)
        .mul(scale) : FloatVector.zero(FloatVector.SPECIES_512);
  }

  /**
   * The lane selections of {@link #turn16} for {@code n} lanes, stage after stage: at stage
   * {@code h} the lower vector takes lane {@code x} of run {@code x / (2h)} from the first
   * vector when {@code x % 2h < h}, else from the second, and the upper vector the same runs
   * shifted by {@code h}.
   */
  private static float[] turnIndexes(int n) {
    int levels = Integer.numberOfTrailingZeros(n);
    float[] idx = new float[2 * levels * n];
    int at = 0;
    for (int h = n / 2; h >= 1; h >>= 1, at += 2 * n) {
      for (int x = 0; x < n; x++) {
        int base = x / (2 * h) * 2 * h;
        int off = x % (2 * h);
        idx[at + x] = off < h ? base + off : n + base + off - h;
        idx[at + n + x] = off < h ? base + h + off : n + base + off;
      }
    }
    return idx;
  }

  /**
   * {@link BoxMask} on a tile: {@code st[c * br + r] = -inf} unless, for every axis {@code a},
   * {@code lo[a * br + r] <= key[a][j0 + c] <= hi[a * br + r]} (the per-lane bounds gathered for
   * the query tile).
   */
  static void box(Lanes w, int nv, float[] st, int cols, int j0, int axes, float[] lo,
      float[] hi, float[][] key) {
    VectorSpecies<Float> s = w.species();
    int n = s.length();
    int br = TILE_VECTORS * n;
    FloatVector ninf = FloatVector.broadcast(s, Float.NEGATIVE_INFINITY);
    for (int v = 0; v < nv; v++) {
      int lane = v * n;
      for (int c = 0; c < cols; c++) {
        int at = c * br + lane;
        float y = key[0][j0 + c];
        VectorMask<Float> out = FloatVector.fromArray(s, lo, lane).compare(VectorOperators.GT, y)
            .or(FloatVector.fromArray(s, hi, lane).compare(VectorOperators.LT, y));
        for (int a = 1; a < axes; a++) {
          y = key[a][j0 + c];
          out = out.or(FloatVector.fromArray(s, lo, a * br + lane)
                  .compare(VectorOperators.GT, y))
              .or(FloatVector.fromArray(s, hi, a * br + lane).compare(VectorOperators.LT, y));
        }
        FloatVector.fromArray(s, st, at).blend(ninf, out).intoArray(st, at);
      }
    }
  }

  /**
   * Reads one float of every 64-byte line of {@code rows} rows of {@code w} floats at
   * {@code a[off + r * ld]} and returns the sum of their bits, which means nothing (the caller
   * keeps it so that the loads stay). A tight loop of independent loads brings rows from memory
   * at about the rate of a plain streaming read (15.5 GB/s on one core here), where the
   * arithmetic reading the same lines as it goes draws about 11. Contiguous rows are read as four
   * interleaved streams (the run's quarters), which the hardware prefetchers serve faster than
   * one or two.
   */
  static int touch(float[] a, int off, int ld, int w, int rows) {
    if (ld != w) {
      int t = 0;
      for (int r = 0; r < rows; r++) {
        t += touch(a, off + r * ld, w);
      }
      return t;
    }
    int len = rows * w;
    int quarter = len / 64 * 16;
    // integer sums of the bits: one-cycle adds, so that lines already in cache cost one load each
    int s0 = 0;
    int s1 = 0;
    int s2 = 0;
    int s3 = 0;
    for (int e = 0; e < quarter; e += 16) {
      s0 += Float.floatToRawIntBits(a[off + e]);
      s1 += Float.floatToRawIntBits(a[off + quarter + e]);
      s2 += Float.floatToRawIntBits(a[off + 2 * quarter + e]);
      s3 += Float.floatToRawIntBits(a[off + 3 * quarter + e]);
    }
    return s0 + s1 + s2 + s3 + touch(a, off + 4 * quarter, len - 4 * quarter);
  }

  /**
   * {@link #touch} over 8-bit codes: one byte of every 64-byte line of {@code rows} rows of
   * {@code w} codes at {@code a[off + r * ld]}, four interleaved streams when the rows are
   * contiguous.
   */
  static int touch(byte[] a, int off, int ld, int w, int rows) {
    int t = 0;
    if (ld != w) {
      for (int r = 0; r < rows; r++) {
        for (int e = 0; e < w; e += 64) {
          t += a[off + r * ld + e];
        }
      }
      return t;
    }
    int len = rows * w;
    int quarter = len / 256 * 64;
    int t0 = 0;
    int t1 = 0;
    int t2 = 0;
    int t3 = 0;
    for (int e = 0; e < quarter; e += 64) {
      t0 += a[off + e];
      t1 += a[off + quarter + e];
      t2 += a[off + 2 * quarter + e];
      t3 += a[off + 3 * quarter + e];
    }
    for (int e = 4 * quarter; e < len; e += 64) {
      t += a[off + e];
    }
    return t + t0 + t1 + t2 + t3;
  }

  /**
   * {@link #touch} over 16-bit elements (float16, bfloat16): one of every 64-byte line of
   * {@code rows} rows of {@code w} elements at {@code a[off + r * ld]}, four interleaved streams
   * when the rows are contiguous.
   */
  static int touch(short[] a, int off, int ld, int w, int rows) {
    int t = 0;
    if (ld != w) {
      for (int r = 0; r < rows; r++) {
        for (int e = 0; e < w; e += 32) {
          t += a[off + r * ld + e];
        }
      }
      return t;
    }
    int len = rows * w;
    int quarter = len / 128 * 32;
    int t0 = 0;
    int t1 = 0;
    int t2 = 0;
    int t3 = 0;
    for (int e = 0; e < quarter; e += 32) {
      t0 += a[off + e];
      t1 += a[off + quarter + e];
      t2 += a[off + 2 * quarter + e];
      t3 += a[off + 3 * quarter + e];
    }
    for (int e = 4 * quarter; e < len; e += 32) {
      t += a[off + e];
    }
    return t + t0 + t1 + t2 + t3;
  }

  /** One float of every 64-byte line of {@code a[from .. from + n)} (nothing for {@code n <= 0}). */
  private static int touch(float[] a, int from, int n) {
    int t = 0;
    for (int i = 0; i < n; i += 16) {
      t += Float.floatToRawIntBits(a[from + i]);
    }
    return t;
  }

  /**
   * Turns every infinite logit of {@code a[off .. off + n)} into NaN ({@code x * 0 + x} is
   * {@code x} for finite {@code x} and NaN for an infinity), before softcap, bias and masks: a
   * raw logit is infinite only when its query or key holds NaN or Inf (SEMANTICS.md: such a key
   * makes the rows that see it NaN, even where its logit is {@code -inf}).
   */
  static void nanNonFinite(Lanes w, float[] a, int off, int n) {
    VectorSpecies<Float> s = w.species();
    FloatVector zero = FloatVector.zero(s);
    int bound = s.loopBound(n);
    int e = 0;
    for (; e < bound; e += s.length()) {
      FloatVector x = FloatVector.fromArray(s, a, off + e);
      x.fma(zero, x).intoArray(a, off + e);
    }
    for (; e < n; e++) {
      a[off + e] = a[off + e] * 0f + a[off + e];
    }
  }

  /**
   * Sets {@code a[off .. off + n)} to NaN unless all of it is finite, and returns whether it was:
   * an output row that saw a NaN or Inf key or value is NaN in every column (SEMANTICS.md).
   */
  static boolean nanUnlessFinite(Lanes w, float[] a, int off, int n) {
    if (allFinite(w, a, off, n, 1, n)) {
      return true;
    }
    Arrays.fill(a, off, off + n, Float.NaN);
    return false;
  }

  /**
   * Which output rows of a transposed tile come out non-finite: {@code bad[r]} is NaN when some
   * {@code ot[e * br + r] * (1 / l[r])} ({@code e < dv}) is NaN or infinite, else 0. Those are
   * exactly the products that {@link #unpackRow} (or {@link #scaleRow}) writes, checked for all
   * lanes of a query vector at once (a row at a time would be a chain of {@code dv / n}
   * multiply-adds and a reduction).
   */
  static void unfiniteRows(Lanes w, int nv, float[] ot, int dv, float[] l, float[] bad) {
    VectorSpecies<Float> s = w.species();
    int n = s.length();
    int br = TILE_VECTORS * n;
    FloatVector zero = FloatVector.zero(s);
    FloatVector one = FloatVector.broadcast(s, 1f);
    for (int v = 0; v < nv; v++) {
      FloatVector inv = one.div(FloatVector.fromArray(s, l, v * n));
      // x * 0 is 0 for finite x and NaN for NaN or an infinity; two chains
      FloatVector a0 = zero;
      FloatVector a1 = zero;
      int e = 0;
      for (; e + 2 <= dv; e += 2) {
        a0 = FloatVector.fromArray(s, ot, e * br + v * n).mul(inv).fma(zero, a0);
        a1 = FloatVector.fromArray(s, ot, (e + 1) * br + v * n).mul(inv).fma(zero, a1);
      }
      if (e < dv) {
        a0 = FloatVector.fromArray(s, ot, e * br + v * n).mul(inv).fma(zero, a0);
      }
      a0.add(a1).intoArray(bad, v * n);
    }
  }

  /** True when {@code rows} rows of {@code width} floats (row stride {@code ld}) are all finite. */
  static boolean allFinite(Lanes w, float[] a, int off, int ld, int rows, int width) {
    VectorSpecies<Float> s = w.species();
    FloatVector zero = FloatVector.zero(s);
    // x * 0 is 0 for finite x and NaN for NaN or an infinity
    FloatVector acc = zero;
    float tail = 0f;
    int bound = s.loopBound(width);
    for (int r = 0; r < rows; r++) {
      int base = off + r * ld;
      int e = 0;
      for (; e < bound; e += s.length()) {
        acc = FloatVector.fromArray(s, a, base + e).fma(zero, acc);
      }
      for (; e < width; e++) {
        tail += a[base + e] * 0f;
      }
    }
    return !Float.isNaN(acc.reduceLanes(VectorOperators.ADD) + tail);
  }

  // ---- microkernels (8 rows x 3, 2 or 1 vectors; every accumulator a separate local)

  /** 8 key rows x 3 query vectors of {@code S^T = K Q^T} (24 accumulators for 3). */
  static void qk8x3(Lanes w, float[] k, int k0, int ldk, float[] qt, int d, float[] st,
      int s0) {
    VectorSpecies<Float> s = w.species();
    int n = s.length();
    int br = TILE_VECTORS * n;
    int r0 = k0;
    int r1 = r0 + ldk;
    int r2 = r1 + ldk;
    int r3 = r2 + ldk;
    int r4 = r3 + ldk;
    int r5 = r4 + ldk;
    int r6 = r5 + ldk;
    int r7 = r6 + ldk;
    FloatVector z = FloatVector.zero(s);
    FloatVector a00 = z, a01 = z, a02 = z;
    FloatVector a10 = z, a11 = z, a12 = z;
    FloatVector a20 = z, a21 = z, a22 = z;
    FloatVector a30 = z, a31 = z, a32 = z;
    FloatVector a40 = z, a41 = z, a42 = z;
    FloatVector a50 = z, a51 = z, a52 = z;
    FloatVector a60 = z, a61 = z, a62 = z;
    FloatVector a70 = z, a71 = z, a72 = z;
    for (int e = 0; e < d; e++) {
      int qo = e * br;
      FloatVector q0 = FloatVector.fromArray(s, qt, qo);
      FloatVector q1 = FloatVector.fromArray(s, qt, qo + n);
      FloatVector q2 = FloatVector.fromArray(s, qt, qo + 2 * n);
      FloatVector b0 = FloatVector.broadcast(s, k[r0 + e]);
      a00 = b0.fma(q0, a00);
      a01 = b0.fma(q1, a01);
      a02 = b0.fma(q2, a02);
      FloatVector b1 = FloatVector.broadcast(s, k[r1 + e]);
      a10 = b1.fma(q0, a10);
      a11 = b1.fma(q1, a11);
      a12 = b1.fma(q2, a12);
      FloatVector b2 = FloatVector.broadcast(s, k[r2 + e]);
      a20 = b2.fma(q0, a20);
      a21 = b2.fma(q1, a21);
      a22 = b2.fma(q2, a22);
      FloatVector b3 = FloatVector.broadcast(s, k[r3 + e]);
      a30 = b3.fma(q0, a30);
      a31 = b3.fma(q1, a31);
      a32 = b3.fma(q2, a32);
      FloatVector b4 = FloatVector.broadcast(s, k[r4 + e]);
      a40 = b4.fma(q0, a40);
      a41 = b4.fma(q1, a41);
      a42 = b4.fma(q2, a42);
      FloatVector b5 = FloatVector.broadcast(s, k[r5 + e]);
      a50 = b5.fma(q0, a50);
      a51 = b5.fma(q1, a51);
      a52 = b5.fma(q2, a52);
      FloatVector b6 = FloatVector.broadcast(s, k[r6 + e]);
      a60 = b6.fma(q0, a60);
      a61 = b6.fma(q1, a61);
      a62 = b6.fma(q2, a62);
      FloatVector b7 = FloatVector.broadcast(s, k[r7 + e]);
      a70 = b7.fma(q0, a70);
      a71 = b7.fma(q1, a71);
      a72 = b7.fma(q2, a72);
    }
    a00.intoArray(st, s0);
    a01.intoArray(st, s0 + n);
    a02.intoArray(st, s0 + 2 * n);
    a10.intoArray(st, s0 + br);
    a11.intoArray(st, s0 + br + n);
    a12.intoArray(st, s0 + br + 2 * n);
    a20.intoArray(st, s0 + 2 * br);
    a21.intoArray(st, s0 + 2 * br + n);
    a22.intoArray(st, s0 + 2 * br + 2 * n);
    a30.intoArray(st, s0 + 3 * br);
    a31.intoArray(st, s0 + 3 * br + n);
    a32.intoArray(st, s0 + 3 * br + 2 * n);
    a40.intoArray(st, s0 + 4 * br);
    a41.intoArray(st, s0 + 4 * br + n);
    a42.intoArray(st, s0 + 4 * br + 2 * n);
    a50.intoArray(st, s0 + 5 * br);
    a51.intoArray(st, s0 + 5 * br + n);
    a52.intoArray(st, s0 + 5 * br + 2 * n);
    a60.intoArray(st, s0 + 6 * br);
    a61.intoArray(st, s0 + 6 * br + n);
    a62.intoArray(st, s0 + 6 * br + 2 * n);
    a70.intoArray(st, s0 + 7 * br);
    a71.intoArray(st, s0 + 7 * br + n);
    a72.intoArray(st, s0 + 7 * br + 2 * n);
  }
  /** 8 key rows x 2 query vectors of {@code S^T = K Q^T} (16 accumulators). */
  static void qk8x2(Lanes w, float[] k, int k0, int ldk, float[] qt, int d, float[] st,
      int s0) {
    VectorSpecies<Float> s = w.species();
    int n = s.length();
    int br = TILE_VECTORS * n;
    int r0 = k0;
    int r1 = r0 + ldk;
    int r2 = r1 + ldk;
    int r3 = r2 + ldk;
    int r4 = r3 + ldk;
    int r5 = r4 + ldk;
    int r6 = r5 + ldk;
    int r7 = r6 + ldk;
    FloatVector z = FloatVector.zero(s);
    FloatVector a00 = z, a01 = z;
    FloatVector a10 = z, a11 = z;
    FloatVector a20 = z, a21 = z;
    FloatVector a30 = z, a31 = z;
    FloatVector a40 = z, a41 = z;
    FloatVector a50 = z, a51 = z;
    FloatVector a60 = z, a61 = z;
    FloatVector a70 = z, a71 = z;
    for (int e = 0; e < d; e++) {
      int qo = e * br;
      FloatVector q0 = FloatVector.fromArray(s, qt, qo);
      FloatVector q1 = FloatVector.fromArray(s, qt, qo + n);
      FloatVector b0 = FloatVector.broadcast(s, k[r0 + e]);
      a00 = b0.fma(q0, a00);
      a01 = b0.fma(q1, a01);
      FloatVector b1 = FloatVector.broadcast(s, k[r1 + e]);
      a10 = b1.fma(q0, a10);
      a11 = b1.fma(q1, a11);
      FloatVector b2 = FloatVector.broadcast(s, k[r2 + e]);
      a20 = b2.fma(q0, a20);
      a21 = b2.fma(q1, a21);
      FloatVector b3 = FloatVector.broadcast(s, k[r3 + e]);
      a30 = b3.fma(q0, a30);
      a31 = b3.fma(q1, a31);
      FloatVector b4 = FloatVector.broadcast(s, k[r4 + e]);
      a40 = b4.fma(q0, a40);
      a41 = b4.fma(q1, a41);
      FloatVector b5 = FloatVector.broadcast(s, k[r5 + e]);
      a50 = b5.fma(q0, a50);
      a51 = b5.fma(q1, a51);
      FloatVector b6 = FloatVector.broadcast(s, k[r6 + e]);
      a60 = b6.fma(q0, a60);
      a61 = b6.fma(q1, a61);
      FloatVector b7 = FloatVector.broadcast(s, k[r7 + e]);
      a70 = b7.fma(q0, a70);
      a71 = b7.fma(q1, a71);
    }
    a00.intoArray(st, s0);
    a01.intoArray(st, s0 + n);
    a10.intoArray(st, s0 + br);
    a11.intoArray(st, s0 + br + n);
    a20.intoArray(st, s0 + 2 * br);
    a21.intoArray(st, s0 + 2 * br + n);
    a30.intoArray(st, s0 + 3 * br);
    a31.intoArray(st, s0 + 3 * br + n);
    a40.intoArray(st, s0 + 4 * br);
    a41.intoArray(st, s0 + 4 * br + n);
    a50.intoArray(st, s0 + 5 * br);
    a51.intoArray(st, s0 + 5 * br + n);
    a60.intoArray(st, s0 + 6 * br);
    a61.intoArray(st, s0 + 6 * br + n);
    a70.intoArray(st, s0 + 7 * br);
    a71.intoArray(st, s0 + 7 * br + n);
  }

  /** 8 key rows x 1 query vector of {@code S^T = K Q^T} (small query tiles). */
  static void qk8x1(Lanes w, float[] k, int k0, int ldk, float[] qt, int d, float[] st,
      int s0) {
    VectorSpecies<Float> s = w.species();
    int n = s.length();
    int br = TILE_VECTORS * n;
    int r0 = k0;
    int r1 = r0 + ldk;
    int r2 = r1 + ldk;
    int r3 = r2 + ldk;
    int r4 = r3 + ldk;
    int r5 = r4 + ldk;
    int r6 = r5 + ldk;
    int r7 = r6 + ldk;
    FloatVector z = FloatVector.zero(s);
    FloatVector a00 = z;
    FloatVector a10 = z;
    FloatVector a20 = z;
    FloatVector a30 = z;
    FloatVector a40 = z;
    FloatVector a50 = z;
    FloatVector a60 = z;
    FloatVector a70 = z;
    for (int e = 0; e < d; e++) {
      int qo = e * br;
      FloatVector q0 = FloatVector.fromArray(s, qt, qo);
      FloatVector b0 = FloatVector.broadcast(s, k[r0 + e]);
      a00 = b0.fma(q0, a00);
      FloatVector b1 = FloatVector.broadcast(s, k[r1 + e]);
      a10 = b1.fma(q0, a10);
      FloatVector b2 = FloatVector.broadcast(s, k[r2 + e]);
      a20 = b2.fma(q0, a20);
      FloatVector b3 = FloatVector.broadcast(s, k[r3 + e]);
      a30 = b3.fma(q0, a30);
      FloatVector b4 = FloatVector.broadcast(s, k[r4 + e]);
      a40 = b4.fma(q0, a40);
      FloatVector b5 = FloatVector.broadcast(s, k[r5 + e]);
      a50 = b5.fma(q0, a50);
      FloatVector b6 = FloatVector.broadcast(s, k[r6 + e]);
      a60 = b6.fma(q0, a60);
      FloatVector b7 = FloatVector.broadcast(s, k[r7 + e]);
      a70 = b7.fma(q0, a70);
    }
    a00.intoArray(st, s0);
    a10.intoArray(st, s0 + br);
    a20.intoArray(st, s0 + 2 * br);
    a30.intoArray(st, s0 + 3 * br);
    a40.intoArray(st, s0 + 4 * br);
    a50.intoArray(st, s0 + 5 * br);
    a60.intoArray(st, s0 + 6 * br);
    a70.intoArray(st, s0 + 7 * br);
  }

  /**
   * 8 value columns x 3 query vectors of {@code O^T = diag(alpha) O^T + V^T P^T}; the
   * rescale of the running output is folded into the load of the accumulators.
   */
  static void pv8x3(Lanes w, float[] v, int v0, int ldv, int cols, float[] pt, float[] ot,
      int o0, float[] alpha) {
    VectorSpecies<Float> s = w.species();
    int n = s.length();
    int br = TILE_VECTORS * n;
    FloatVector f0 = FloatVector.fromArray(s, alpha, 0);
    FloatVector f1 = FloatVector.fromArray(s, alpha, n);
    FloatVector f2 = FloatVector.fromArray(s, alpha, 2 * n);
    FloatVector a00 = FloatVector.fromArray(s, ot, o0).mul(f0);
    FloatVector a01 = FloatVector.fromArray(s, ot, o0 + n).mul(f1);
    FloatVector a02 = FloatVector.fromArray(s, ot, o0 + 2 * n).mul(f2);
    FloatVector a10 = FloatVector.fromArray(s, ot, o0 + br).mul(f0);
    FloatVector a11 = FloatVector.fromArray(s, ot, o0 + br + n).mul(f1);
    FloatVector a12 = FloatVector.fromArray(s, ot, o0 + br + 2 * n).mul(f2);
    FloatVector a20 = FloatVector.fromArray(s, ot, o0 + 2 * br).mul(f0);
    FloatVector a21 = FloatVector.fromArray(s, ot, o0 + 2 * br + n).mul(f1);
    FloatVector a22 = FloatVector.fromArray(s, ot, o0 + 2 * br + 2 * n).mul(f2);
    FloatVector a30 = FloatVector.fromArray(s, ot, o0 + 3 * br).mul(f0);
    FloatVector a31 = FloatVector.fromArray(s, ot, o0 + 3 * br + n).mul(f1);
    FloatVector a32 = FloatVector.fromArray(s, ot, o0 + 3 * br + 2 * n).mul(f2);
    FloatVector a40 = FloatVector.fromArray(s, ot, o0 + 4 * br).mul(f0);
    FloatVector a41 = FloatVector.fromArray(s, ot, o0 + 4 * br + n).mul(f1);
    FloatVector a42 = FloatVector.fromArray(s, ot, o0 + 4 * br + 2 * n).mul(f2);
    FloatVector a50 = FloatVector.fromArray(s, ot, o0 + 5 * br).mul(f0);
    FloatVector a51 = FloatVector.fromArray(s, ot, o0 + 5 * br + n).mul(f1);
    FloatVector a52 = FloatVector.fromArray(s, ot, o0 + 5 * br + 2 * n).mul(f2);
    FloatVector a60 = FloatVector.fromArray(s, ot, o0 + 6 * br).mul(f0);
    FloatVector a61 = FloatVector.fromArray(s, ot, o0 + 6 * br + n).mul(f1);
    FloatVector a62 = FloatVector.fromArray(s, ot, o0 + 6 * br + 2 * n).mul(f2);
    FloatVector a70 = FloatVector.fromArray(s, ot, o0 + 7 * br).mul(f0);
    FloatVector a71 = FloatVector.fromArray(s, ot, o0 + 7 * br + n).mul(f1);
    FloatVector a72 = FloatVector.fromArray(s, ot, o0 + 7 * br + 2 * n).mul(f2);
    for (int c = 0; c < cols; c++) {
      int po = c * br;
      int vo = v0 + c * ldv;
      FloatVector p0 = FloatVector.fromArray(s, pt, po);
      FloatVector p1 = FloatVector.fromArray(s, pt, po + n);
      FloatVector p2 = FloatVector.fromArray(s, pt, po + 2 * n);
      FloatVector b0 = FloatVector.broadcast(s, v[vo]);
      a00 = b0.fma(p0, a00);
      a01 = b0.fma(p1, a01);
      a02 = b0.fma(p2, a02);
      FloatVector b1 = FloatVector.broadcast(s, v[vo + 1]);
      a10 = b1.fma(p0, a10);
      a11 = b1.fma(p1, a11);
      a12 = b1.fma(p2, a12);
      FloatVector b2 = FloatVector.broadcast(s, v[vo + 2]);
      a20 = b2.fma(p0, a20);
      a21 = b2.fma(p1, a21);
      a22 = b2.fma(p2, a22);
      FloatVector b3 = FloatVector.broadcast(s, v[vo + 3]);
      a30 = b3.fma(p0, a30);
      a31 = b3.fma(p1, a31);
      a32 = b3.fma(p2, a32);
      FloatVector b4 = FloatVector.broadcast(s, v[vo + 4]);
      a40 = b4.fma(p0, a40);
      a41 = b4.fma(p1, a41);
      a42 = b4.fma(p2, a42);
      FloatVector b5 = FloatVector.broadcast(s, v[vo + 5]);
      a50 = b5.fma(p0, a50);
      a51 = b5.fma(p1, a51);
      a52 = b5.fma(p2, a52);
      FloatVector b6 = FloatVector.broadcast(s, v[vo + 6]);
      a60 = b6.fma(p0, a60);
      a61 = b6.fma(p1, a61);
      a62 = b6.fma(p2, a62);
      FloatVector b7 = FloatVector.broadcast(s, v[vo + 7]);
      a70 = b7.fma(p0, a70);
      a71 = b7.fma(p1, a71);
      a72 = b7.fma(p2, a72);
    }
    a00.intoArray(ot, o0);
    a01.intoArray(ot, o0 + n);
    a02.intoArray(ot, o0 + 2 * n);
    a10.intoArray(ot, o0 + br);
    a11.intoArray(ot, o0 + br + n);
    a12.intoArray(ot, o0 + br + 2 * n);
    a20.intoArray(ot, o0 + 2 * br);
    a21.intoArray(ot, o0 + 2 * br + n);
    a22.intoArray(ot, o0 + 2 * br + 2 * n);
    a30.intoArray(ot, o0 + 3 * br);
    a31.intoArray(ot, o0 + 3 * br + n);
    a32.intoArray(ot, o0 + 3 * br + 2 * n);
    a40.intoArray(ot, o0 + 4 * br);
    a41.intoArray(ot, o0 + 4 * br + n);
    a42.intoArray(ot, o0 + 4 * br + 2 * n);
    a50.intoArray(ot, o0 + 5 * br);
    a51.intoArray(ot, o0 + 5 * br + n);
    a52.intoArray(ot, o0 + 5 * br + 2 * n);
    a60.intoArray(ot, o0 + 6 * br);
    a61.intoArray(ot, o0 + 6 * br + n);
    a62.intoArray(ot, o0 + 6 * br + 2 * n);
    a70.intoArray(ot, o0 + 7 * br);
    a71.intoArray(ot, o0 + 7 * br + n);
    a72.intoArray(ot, o0 + 7 * br + 2 * n);
  }
  /**
   * 8 value columns x 2 query vectors of {@code O^T = diag(alpha) O^T + V^T P^T}; the rescale of
   * the running output is folded into the load of the accumulators.
   */
  static void pv8x2(Lanes w, float[] v, int v0, int ldv, int cols, float[] pt, float[] ot,
      int o0, float[] alpha) {
    VectorSpecies<Float> s = w.species();
    int n = s.length();
    int br = TILE_VECTORS * n;
    FloatVector f0 = FloatVector.fromArray(s, alpha, 0);
    FloatVector f1 = FloatVector.fromArray(s, alpha, n);
    FloatVector a00 = FloatVector.fromArray(s, ot, o0).mul(f0);
    FloatVector a01 = FloatVector.fromArray(s, ot, o0 + n).mul(f1);
    FloatVector a10 = FloatVector.fromArray(s, ot, o0 + br).mul(f0);
    FloatVector a11 = FloatVector.fromArray(s, ot, o0 + br + n).mul(f1);
    FloatVector a20 = FloatVector.fromArray(s, ot, o0 + 2 * br).mul(f0);
    FloatVector a21 = FloatVector.fromArray(s, ot, o0 + 2 * br + n).mul(f1);
    FloatVector a30 = FloatVector.fromArray(s, ot, o0 + 3 * br).mul(f0);
    FloatVector a31 = FloatVector.fromArray(s, ot, o0 + 3 * br + n).mul(f1);
    FloatVector a40 = FloatVector.fromArray(s, ot, o0 + 4 * br).mul(f0);
    FloatVector a41 = FloatVector.fromArray(s, ot, o0 + 4 * br + n).mul(f1);
    FloatVector a50 = FloatVector.fromArray(s, ot, o0 + 5 * br).mul(f0);
    FloatVector a51 = FloatVector.fromArray(s, ot, o0 + 5 * br + n).mul(f1);
    FloatVector a60 = FloatVector.fromArray(s, ot, o0 + 6 * br).mul(f0);
    FloatVector a61 = FloatVector.fromArray(s, ot, o0 + 6 * br + n).mul(f1);
    FloatVector a70 = FloatVector.fromArray(s, ot, o0 + 7 * br).mul(f0);
    FloatVector a71 = FloatVector.fromArray(s, ot, o0 + 7 * br + n).mul(f1);
    for (int c = 0; c < cols; c++) {
      int po = c * br;
      int vo = v0 + c * ldv;
      FloatVector p0 = FloatVector.fromArray(s, pt, po);
      FloatVector p1 = FloatVector.fromArray(s, pt, po + n);
      FloatVector b0 = FloatVector.broadcast(s, v[vo]);
      a00 = b0.fma(p0, a00);
      a01 = b0.fma(p1, a01);
      FloatVector b1 = FloatVector.broadcast(s, v[vo + 1]);
      a10 = b1.fma(p0, a10);
      a11 = b1.fma(p1, a11);
      FloatVector b2 = FloatVector.broadcast(s, v[vo + 2]);
      a20 = b2.fma(p0, a20);
      a21 = b2.fma(p1, a21);
      FloatVector b3 = FloatVector.broadcast(s, v[vo + 3]);
      a30 = b3.fma(p0, a30);
      a31 = b3.fma(p1, a31);
      FloatVector b4 = FloatVector.broadcast(s, v[vo + 4]);
      a40 = b4.fma(p0, a40);
      a41 = b4.fma(p1, a41);
      FloatVector b5 = FloatVector.broadcast(s, v[vo + 5]);
      a50 = b5.fma(p0, a50);
      a51 = b5.fma(p1, a51);
      FloatVector b6 = FloatVector.broadcast(s, v[vo + 6]);
      a60 = b6.fma(p0, a60);
      a61 = b6.fma(p1, a61);
      FloatVector b7 = FloatVector.broadcast(s, v[vo + 7]);
      a70 = b7.fma(p0, a70);
      a71 = b7.fma(p1, a71);
    }
    a00.intoArray(ot, o0);
    a01.intoArray(ot, o0 + n);
    a10.intoArray(ot, o0 + br);
    a11.intoArray(ot, o0 + br + n);
    a20.intoArray(ot, o0 + 2 * br);
    a21.intoArray(ot, o0 + 2 * br + n);
    a30.intoArray(ot, o0 + 3 * br);
    a31.intoArray(ot, o0 + 3 * br + n);
    a40.intoArray(ot, o0 + 4 * br);
    a41.intoArray(ot, o0 + 4 * br + n);
    a50.intoArray(ot, o0 + 5 * br);
    a51.intoArray(ot, o0 + 5 * br + n);
    a60.intoArray(ot, o0 + 6 * br);
    a61.intoArray(ot, o0 + 6 * br + n);
    a70.intoArray(ot, o0 + 7 * br);
    a71.intoArray(ot, o0 + 7 * br + n);
  }

  /**
   * 8 value columns x 1 query vector of {@code O^T = diag(alpha) O^T + V^T P^T}; the
   * rescale of the running output is folded into the load of the accumulators.
   */
  static void pv8x1(Lanes w, float[] v, int v0, int ldv, int cols, float[] pt, float[] ot,
      int o0, float[] alpha) {
    VectorSpecies<Float> s = w.species();
    int n = s.length();
    int br = TILE_VECTORS * n;
    FloatVector f0 = FloatVector.fromArray(s, alpha, 0);
    FloatVector a00 = FloatVector.fromArray(s, ot, o0).mul(f0);
    FloatVector a10 = FloatVector.fromArray(s, ot, o0 + br).mul(f0);
    FloatVector a20 = FloatVector.fromArray(s, ot, o0 + 2 * br).mul(f0);
    FloatVector a30 = FloatVector.fromArray(s, ot, o0 + 3 * br).mul(f0);
    FloatVector a40 = FloatVector.fromArray(s, ot, o0 + 4 * br).mul(f0);
    FloatVector a50 = FloatVector.fromArray(s, ot, o0 + 5 * br).mul(f0);
    FloatVector a60 = FloatVector.fromArray(s, ot, o0 + 6 * br).mul(f0);
    FloatVector a70 = FloatVector.fromArray(s, ot, o0 + 7 * br).mul(f0);
    for (int c = 0; c < cols; c++) {
      int po = c * br;
      int vo = v0 + c * ldv;
      FloatVector p0 = FloatVector.fromArray(s, pt, po);
      FloatVector b0 = FloatVector.broadcast(s, v[vo]);
      a00 = b0.fma(p0, a00);
      FloatVector b1 = FloatVector.broadcast(s, v[vo + 1]);
      a10 = b1.fma(p0, a10);
      FloatVector b2 = FloatVector.broadcast(s, v[vo + 2]);
      a20 = b2.fma(p0, a20);
      FloatVector b3 = FloatVector.broadcast(s, v[vo + 3]);
      a30 = b3.fma(p0, a30);
      FloatVector b4 = FloatVector.broadcast(s, v[vo + 4]);
      a40 = b4.fma(p0, a40);
      FloatVector b5 = FloatVector.broadcast(s, v[vo + 5]);
      a50 = b5.fma(p0, a50);
      FloatVector b6 = FloatVector.broadcast(s, v[vo + 6]);
      a60 = b6.fma(p0, a60);
      FloatVector b7 = FloatVector.broadcast(s, v[vo + 7]);
      a70 = b7.fma(p0, a70);
    }
    a00.intoArray(ot, o0);
    a10.intoArray(ot, o0 + br);
    a20.intoArray(ot, o0 + 2 * br);
    a30.intoArray(ot, o0 + 3 * br);
    a40.intoArray(ot, o0 + 4 * br);
    a50.intoArray(ot, o0 + 5 * br);
    a60.intoArray(ot, o0 + 6 * br);
    a70.intoArray(ot, o0 + 7 * br);
  }
}
