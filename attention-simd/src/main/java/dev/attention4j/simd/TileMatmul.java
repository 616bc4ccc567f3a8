package dev.attention4j.simd;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vectorized small-matrix products on {@code float[]} tiles, for kernel families that work on
 * tiles of their own (the chunked linear attention: intra-chunk products, state updates, feature
 * projections). Row-major outputs; the vector lanes run along the output columns.
 *
 * <p>{@link #multiply} computes {@code C = A B} or {@code C += A B}, where element {@code (i, p)}
 * of {@code A} is at {@code a[a0 + i * ars + p * acs]}, so {@code A} may be read transposed
 * ({@code A^T B} with {@code ars = 1}); the microkernels read {@code A} along its rows
 * ({@code acs = 1}: each row's index runs with the loop counter, so the JIT drops its bounds
 * checks, worth 10-20 % here), and any other {@code A} is first copied into a per-thread
 * row-major buffer of {@code m * k} floats. {@code B} and {@code C} are row-major with leading
 * dimensions {@code ldb} and {@code ldc}. The microkernels are written in the style of the dense
 * engine's ({@code Micro}): 8 rows x 3 vectors (24 accumulators in separate locals, TOOLCHAIN.md
 * pitfall 2), 8 x 2 and 8 x 1 for the remaining vectors, one row at a time for the row tail, and
 * a scalar loop for the columns beyond the last full vector. The species is the preferred one,
 * held in a {@code static final} field (pitfall 1).
 *
 * <p>Inputs are not checked: the caller owns the index arithmetic.
 */
public final class TileMatmul {

  private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
  private static final int L = S.length();
  /** The preferred width, for the engine's helpers. */
  private static final Lanes W = Lanes.of(0);

  private TileMatmul() {
  }

  /** The number of float lanes of a vector (16 with AVX-512). */
  public static int lanes() {
    return L;
  }

  /**
   * {@code C[m x n] = A[m x k] B[k x n]}, or {@code C += A B} when {@code accumulate}.
   *
   * @param a {@code A(i, p) = a[a0 + i * ars + p * acs]}
   * @param b {@code B(p, j) = b[b0 + p * ldb + j]}
   * @param c {@code C(i, j) = c[c0 + i * ldc + j]}, written (or updated) for {@code i < m},
   *     {@code j < n} only
   */
  public static void multiply(int m, int n, int k, float[] a, int a0, int ars, int acs,
      float[] b, int b0, int ldb, float[] c, int c0, int ldc, boolean accumulate) {
    if (acs != 1 && k > 1) {
      float[] rows = rowMajor(m * k);
      for (int p = 0; p < k; p++) {
        for (int i = 0; i < m; i++) {
          rows[i * k + p] = a[a0 + i * ars + p * acs];
        }
      }
      a = rows;
      a0 = 0;
      ars = k;
    }
    int nvec = n / L;
    int j = 0;
    // column panels of 3, 2 or 1 vectors
    while (nvec > 0) {
      int w = nvec >= 3 && nvec != 4 ? 3 : nvec >= 2 ? 2 : 1;
      int i = 0;
      for (; i + 8 <= m; i += 8) {
        int ai = a0 + i * ars;
        int ci = c0 + i * ldc + j;
        if (w == 3) {
          k8x3(k, a, ai, ars, b, b0 + j, ldb, c, ci, ldc, accumulate);
        } else if (w == 2) {
          k8x2(k, a, ai, ars, b, b0 + j, ldb, c, ci, ldc, accumulate);
        } else {
          k8x1(k, a, ai, ars, b, b0 + j, ldb, c, ci, ldc, accumulate);
        }
      }
      // row tail, one vector at a time
      for (; i < m; i++) {
        for (int v = 0; v < w; v++) {
          k1x1(k, a, a0 + i * ars, b, b0 + j + v * L, ldb, c, c0 + i * ldc + j + v * L,
              accumulate);
        }
      }
      j += w * L;
      nvec -= w;
    }
    // scalar column tail
    if (j < n) {
      for (int i = 0; i < m; i++) {
        int ai = a0 + i * ars;
        int ci = c0 + i * ldc;
        for (int jj = j; jj < n; jj++) {
          float acc = accumulate ? c[ci + jj] : 0f;
          for (int p = 0; p < k; p++) {
            acc = Math.fma(a[ai + p], b[b0 + p * ldb + jj], acc);
          }
          c[ci + jj] = acc;
        }
      }
    }
  }

  /** The per-thread buffer of {@link #multiply} for {@code A} read with {@code acs != 1}. */
  private static final ThreadLocal<float[][]> ROWS = ThreadLocal.withInitial(() -> new float[1][0]);

  private static float[] rowMajor(int size) {
    float[][] holder = ROWS.get();
    if (holder[0].length < size) {
      holder[0] = new float[size];
    }
    return holder[0];
  }

  /** Multiply-adds of {@link #multiply}: {@code m * n * k}. */
  public static long multiplyAdds(int m, int n, int k) {
    return (long) m * n * k;
  }

  /**
   * True when {@code x[off .. off + n)} holds no NaN or infinity: the dense engine's check
   * ({@code x * 0} accumulated in vectors).
   */
  public static boolean allFinite(float[] x, int off, int n) {
    return Micro.allFinite(W, x, off, n, 1, n);
  }

  /**
   * {@code e^x} lane-wise for {@code x <= 0} (and {@code -inf}, giving 0): the dense engine's
   * polynomial exp (relative error about 1.2e-7; bitwise the same in every JIT tier).
   */
  public static FloatVector exp(FloatVector x) {
    return Micro.exp(x);
  }

  /** {@code x[off + i] = e^(x[off + i] - shift)} for {@code i < n}; every result must be {@code <= 0} before the exp. */
  public static void expShifted(float[] x, int off, int n, float shift) {
    int i = 0;
    int bound = S.loopBound(n);
    FloatVector sh = FloatVector.broadcast(S, shift);
    // vector loop
    for (; i < bound; i += L) {
      Micro.exp(FloatVector.fromArray(S, x, off + i).sub(sh)).intoArray(x, off + i);
    }
    // masked tail
    if (i < n) {
      var m = S.indexInRange(i, n);
      Micro.exp(FloatVector.fromArray(S, x, off + i, m).sub(sh)).intoArray(x, off + i, m);
    }
  }

  // ---- microkernels

  private static void k1x1(int k, float[] a, int ai, float[] b, int bj, int ldb,
      float[] c, int ci, boolean acc) {
    FloatVector a0 = acc ? FloatVector.fromArray(S, c, ci) : FloatVector.zero(S);
    FloatVector a1 = FloatVector.zero(S);
    int p = 0;
    // two accumulators break the FMA latency chain
    for (; p + 2 <= k; p += 2) {
      a0 = FloatVector.broadcast(S, a[ai + p]).fma(FloatVector.fromArray(S, b, bj + p * ldb),
          a0);
      a1 = FloatVector.broadcast(S, a[ai + p + 1])
          .fma(FloatVector.fromArray(S, b, bj + (p + 1) * ldb), a1);
    }
    if (p < k) {
      a0 = FloatVector.broadcast(S, a[ai + p]).fma(FloatVector.fromArray(S, b, bj + p * ldb),
          a0);
    }
    a0.add(a1).intoArray(c, ci);
  }

  private static void k8x3(int k, float[] a, int ai, int ars, float[] b, int bj, int ldb,
      float[] c, int ci, int ldc, boolean acc) {
    int c1 = ci + ldc;
    int c2 = c1 + ldc;
    int c3 = c2 + ldc;
    int c4 = c3 + ldc;
    int c5 = c4 + ldc;
    int c6 = c5 + ldc;
    int c7 = c6 + ldc;
    FloatVector z = FloatVector.zero(S);
    FloatVector a00 = z, a01 = z, a02 = z;
    FloatVector a10 = z, a11 = z, a12 = z;
    FloatVector a20 = z, a21 = z, a22 = z;
    FloatVector a30 = z, a31 = z, a32 = z;
    FloatVector a40 = z, a41 = z, a42 = z;
    FloatVector a50 = z, a51 = z, a52 = z;
    FloatVector a60 = z, a61 = z, a62 = z;
    FloatVector a70 = z, a71 = z, a72 = z;
    if (acc) {
      a00 = FloatVector.fromArray(S, c, ci);
      a01 = FloatVector.fromArray(S, c, ci + L);
      a02 = FloatVector.fromArray(S, c, ci + 2 * L);
      a10 = FloatVector.fromArray(S, c, c1);
      a11 = FloatVector.fromArray(S, c, c1 + L);
      a12 = FloatVector.fromArray(S, c, c1 + 2 * L);
      a20 = FloatVector.fromArray(S, c, c2);
      a21 = FloatVector.fromArray(S, c, c2 + L);
      a22 = FloatVector.fromArray(S, c, c2 + 2 * L);
      a30 = FloatVector.fromArray(S, c, c3);
      a31 = FloatVector.fromArray(S, c, c3 + L);
      a32 = FloatVector.fromArray(S, c, c3 + 2 * L);
      a40 = FloatVector.fromArray(S, c, c4);
      a41 = FloatVector.fromArray(S, c, c4 + L);
      a42 = FloatVector.fromArray(S, c, c4 + 2 * L);
      a50 = FloatVector.fromArray(S, c, c5);
      a51 = FloatVector.fromArray(S, c, c5 + L);
      a52 = FloatVector.fromArray(S, c, c5 + 2 * L);
      a60 = FloatVector.fromArray(S, c, c6);
      a61 = FloatVector.fromArray(S, c, c6 + L);
      a62 = FloatVector.fromArray(S, c, c6 + 2 * L);
      a70 = FloatVector.fromArray(S, c, c7);
      a71 = FloatVector.fromArray(S, c, c7 + L);
      a72 = FloatVector.fromArray(S, c, c7 + 2 * L);
    }
    int r1 = ars;
    int r2 = 2 * ars;
    int r3 = 3 * ars;
    int r4 = 4 * ars;
    int r5 = 5 * ars;
    int r6 = 6 * ars;
    int r7 = 7 * ars;
    for (int p = 0; p < k; p++) {
      int bo = bj + p * ldb;
      int ao = ai + p;
      FloatVector q0 = FloatVector.fromArray(S, b, bo);
      FloatVector q1 = FloatVector.fromArray(S, b, bo + L);
      FloatVector q2 = FloatVector.fromArray(S, b, bo + 2 * L);
      FloatVector b0 = FloatVector.broadcast(S, a[ao]);
      a00 = b0.fma(q0, a00);
      a01 = b0.fma(q1, a01);
      a02 = b0.fma(q2, a02);
      FloatVector b1 = FloatVector.broadcast(S, a[ao + r1]);
      a10 = b1.fma(q0, a10);
      a11 = b1.fma(q1, a11);
      a12 = b1.fma(q2, a12);
      FloatVector b2 = FloatVector.broadcast(S, a[ao + r2]);
      a20 = b2.fma(q0, a20);
      a21 = b2.fma(q1, a21);
      a22 = b2.fma(q2, a22);
      FloatVector b3 = FloatVector.broadcast(S, a[ao + r3]);
      a30 = b3.fma(q0, a30);
      a31 = b3.fma(q1, a31);
      a32 = b3.fma(q2, a32);
      FloatVector b4 = FloatVector.broadcast(S, a[ao + r4]);
      a40 = b4.fma(q0, a40);
      a41 = b4.fma(q1, a41);
      a42 = b4.fma(q2, a42);
      FloatVector b5 = FloatVector.broadcast(S, a[ao + r5]);
      a50 = b5.fma(q0, a50);
      a51 = b5.fma(q1, a51);
      a52 = b5.fma(q2, a52);
      FloatVector b6 = FloatVector.broadcast(S, a[ao + r6]);
      a60 = b6.fma(q0, a60);
      a61 = b6.fma(q1, a61);
      a62 = b6.fma(q2, a62);
      FloatVector b7 = FloatVector.broadcast(S, a[ao + r7]);
      a70 = b7.fma(q0, a70);
      a71 = b7.fma(q1, a71);
      a72 = b7.fma(q2, a72);
    }
    a00.intoArray(c, ci);
    a01.intoArray(c, ci + L);
    a02.intoArray(c, ci + 2 * L);
    a10.intoArray(c, c1);
    a11.intoArray(c, c1 + L);
    a12.intoArray(c, c1 + 2 * L);
    a20.intoArray(c, c2);
    a21.intoArray(c, c2 + L);
    a22.intoArray(c, c2 + 2 * L);
    a30.intoArray(c, c3);
    a31.intoArray(c, c3 + L);
    a32.intoArray(c, c3 + 2 * L);
    a40.intoArray(c, c4);
    a41.intoArray(c, c4 + L);
    a42.intoArray(c, c4 + 2 * L);
    a50.intoArray(c, c5);
    a51.intoArray(c, c5 + L);
    a52.intoArray(c, c5 + 2 * L);
    a60.intoArray(c, c6);
    a61.intoArray(c, c6 + L);
    a62.intoArray(c, c6 + 2 * L);
    a70.intoArray(c, c7);
    a71.intoArray(c, c7 + L);
    a72.intoArray(c, c7 + 2 * L);
  }

  private static void k8x2(int k, float[] a, int ai, int ars, float[] b, int bj, int ldb,
      float[] c, int ci, int ldc, boolean acc) {
    int c1 = ci + ldc;
    int c2 = c1 + ldc;
    int c3 = c2 + ldc;
    int c4 = c3 + ldc;
    int c5 = c4 + ldc;
    int c6 = c5 + ldc;
    int c7 = c6 + ldc;
    FloatVector z = FloatVector.zero(S);
    FloatVector a00 = z, a01 = z;
    FloatVector a10 = z, a11 = z;
    FloatVector a20 = z, a21 = z;
    FloatVector a30 = z, a31 = z;
    FloatVector a40 = z, a41 = z;
    FloatVector a50 = z, a51 = z;
    FloatVector a60 = z, a61 = z;
    FloatVector a70 = z, a71 = z;
    if (acc) {
      a00 = FloatVector.fromArray(S, c, ci);
      a01 = FloatVector.fromArray(S, c, ci + L);
      a10 = FloatVector.fromArray(S, c, c1);
      a11 = FloatVector.fromArray(S, c, c1 + L);
      a20 = FloatVector.fromArray(S, c, c2);
      a21 = FloatVector.fromArray(S, c, c2 + L);
      a30 = FloatVector.fromArray(S, c, c3);
      a31 = FloatVector.fromArray(S, c, c3 + L);
      a40 = FloatVector.fromArray(S, c, c4);
      a41 = FloatVector.fromArray(S, c, c4 + L);
      a50 = FloatVector.fromArray(S, c, c5);
      a51 = FloatVector.fromArray(S, c, c5 + L);
      a60 = FloatVector.fromArray(S, c, c6);
      a61 = FloatVector.fromArray(S, c, c6 + L);
      a70 = FloatVector.fromArray(S, c, c7);
      a71 = FloatVector.fromArray(S, c, c7 + L);
    }
    int r1 = ars;
    int r2 = 2 * ars;
    int r3 = 3 * ars;
    int r4 = 4 * ars;
    int r5 = 5 * ars;
    int r6 = 6 * ars;
    int r7 = 7 * ars;
    for (int p = 0; p < k; p++) {
      int bo = bj + p * ldb;
      int ao = ai + p;
      FloatVector q0 = FloatVector.fromArray(S, b, bo);
      FloatVector q1 = FloatVector.fromArray(S, b, bo + L);
      FloatVector b0 = FloatVector.broadcast(S, a[ao]);
      a00 = b0.fma(q0, a00);
      a01 = b0.fma(q1, a01);
      FloatVector b1 = FloatVector.broadcast(S, a[ao + r1]);
      a10 = b1.fma(q0, a10);
      a11 = b1.fma(q1, a11);
      FloatVector b2 = FloatVector.broadcast(S, a[ao + r2]);
      a20 = b2.fma(q0, a20);
      a21 = b2.fma(q1, a21);
      FloatVector b3 = FloatVector.broadcast(S, a[ao + r3]);
      a30 = b3.fma(q0, a30);
      a31 = b3.fma(q1, a31);
      FloatVector b4 = FloatVector.broadcast(S, a[ao + r4]);
      a40 = b4.fma(q0, a40);
      a41 = b4.fma(q1, a41);
      FloatVector b5 = FloatVector.broadcast(S, a[ao + r5]);
      a50 = b5.fma(q0, a50);
      a51 = b5.fma(q1, a51);
      FloatVector b6 = FloatVector.broadcast(S, a[ao + r6]);
      a60 = b6.fma(q0, a60);
      a61 = b6.fma(q1, a61);
      FloatVector b7 = FloatVector.broadcast(S, a[ao + r7]);
      a70 = b7.fma(q0, a70);
      a71 = b7.fma(q1, a71);
    }
    a00.intoArray(c, ci);
    a01.intoArray(c, ci + L);
    a10.intoArray(c, c1);
    a11.intoArray(c, c1 + L);
    a20.intoArray(c, c2);
    a21.intoArray(c, c2 + L);
    a30.intoArray(c, c3);
    a31.intoArray(c, c3 + L);
    a40.intoArray(c, c4);
    a41.intoArray(c, c4 + L);
    a50.intoArray(c, c5);
    a51.intoArray(c, c5 + L);
    a60.intoArray(c, c6);
    a61.intoArray(c, c6 + L);
    a70.intoArray(c, c7);
    a71.intoArray(c, c7 + L);
  }

  private static void k8x1(int k, float[] a, int ai, int ars, float[] b, int bj, int ldb,
      float[] c, int ci, int ldc, boolean acc) {
    int c1 = ci + ldc;
    int c2 = c1 + ldc;
    int c3 = c2 + ldc;
    int c4 = c3 + ldc;
    int c5 = c4 + ldc;
    int c6 = c5 + ldc;
    int c7 = c6 + ldc;
    FloatVector z = FloatVector.zero(S);
    FloatVector a00 = z, a10 = z, a20 = z, a30 = z, a40 = z, a50 = z, a60 = z, a70 = z;
    if (acc) {
      a00 = FloatVector.fromArray(S, c, ci);
      a10 = FloatVector.fromArray(S, c, c1);
      a20 = FloatVector.fromArray(S, c, c2);
      a30 = FloatVector.fromArray(S, c, c3);
      a40 = FloatVector.fromArray(S, c, c4);
      a50 = FloatVector.fromArray(S, c, c5);
      a60 = FloatVector.fromArray(S, c, c6);
      a70 = FloatVector.fromArray(S, c, c7);
    }
    for (int p = 0; p < k; p++) {
      int ao = ai + p;
      FloatVector q0 = FloatVector.fromArray(S, b, bj + p * ldb);
      a00 = FloatVector.broadcast(S, a[ao]).fma(q0, a00);
      a10 = FloatVector.broadcast(S, a[ao + ars]).fma(q0, a10);
      a20 = FloatVector.broadcast(S, a[ao + 2 * ars]).fma(q0, a20);
      a30 = FloatVector.broadcast(S, a[ao + 3 * ars]).fma(q0, a30);
      a40 = FloatVector.broadcast(S, a[ao + 4 * ars]).fma(q0, a40);
      a50 = FloatVector.broadcast(S, a[ao + 5 * ars]).fma(q0, a50);
      a60 = FloatVector.broadcast(S, a[ao + 6 * ars]).fma(q0, a60);
      a70 = FloatVector.broadcast(S, a[ao + 7 * ars]).fma(q0, a70);
    }
    a00.intoArray(c, ci);
    a10.intoArray(c, c1);
    a20.intoArray(c, c2);
    a30.intoArray(c, c3);
    a40.intoArray(c, c4);
    a50.intoArray(c, c5);
    a60.intoArray(c, c6);
    a70.intoArray(c, c7);
  }
}
