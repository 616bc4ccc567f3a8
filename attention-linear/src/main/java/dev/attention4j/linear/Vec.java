package dev.attention4j.linear;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Short vector loops on float rows: dot, axpy, scale, sum, and the fused update-and-read of a
 * decode step (vector loop, then a scalar tail).
 */
final class Vec {

  private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
  private static final int L = S.length();

  private Vec() {
  }

  /** {@code sum_i a[a0 + i] * b[b0 + i]}. */
  static float dot(float[] a, int a0, float[] b, int b0, int n) {
    FloatVector s0 = FloatVector.zero(S);
    FloatVector s1 = FloatVector.zero(S);
    int i = 0;
    // vector loop, 2 accumulators
    for (; i + 2 * L <= n; i += 2 * L) {
      s0 = FloatVector.fromArray(S, a, a0 + i).fma(FloatVector.fromArray(S, b, b0 + i), s0);
      s1 = FloatVector.fromArray(S, a, a0 + i + L).fma(FloatVector.fromArray(S, b, b0 + i + L),
          s1);
    }
    for (; i + L <= n; i += L) {
      s0 = FloatVector.fromArray(S, a, a0 + i).fma(FloatVector.fromArray(S, b, b0 + i), s0);
    }
    float t = reduce(s0.add(s1));
    // scalar tail
    for (; i < n; i++) {
      t = Math.fma(a[a0 + i], b[b0 + i], t);
    }
    return t;
  }

  /**
   * The sum of the lanes, in lane order. ({@code reduceLanes(ADD)} leaves the order open, and
   * its C2 intrinsic and its Java fallback differ in the last bit, so a result would depend on
   * how far the JIT had compiled the caller.)
   */
  static float reduce(FloatVector v) {
    float t = v.lane(0);
    for (int l = 1; l < L; l++) {
      t += v.lane(l);
    }
    return t;
  }

  /** {@code y[y0 + i] += alpha * x[x0 + i]}. */
  static void axpy(float alpha, float[] x, int x0, float[] y, int y0, int n) {
    FloatVector al = FloatVector.broadcast(S, alpha);
    int i = 0;
    for (; i + L <= n; i += L) {
      al.fma(FloatVector.fromArray(S, x, x0 + i), FloatVector.fromArray(S, y, y0 + i))
          .intoArray(y, y0 + i);
    }
    for (; i < n; i++) {
      y[y0 + i] = Math.fma(alpha, x[x0 + i], y[y0 + i]);
    }
  }

  /** {@code x[x0 + i] *= alpha}. */
  static void scale(float alpha, float[] x, int x0, int n) {
    int i = 0;
    for (; i + L <= n; i += L) {
      FloatVector.fromArray(S, x, x0 + i).mul(alpha).intoArray(x, x0 + i);
    }
    for (; i < n; i++) {
      x[x0 + i] *= alpha;
    }
  }

  /** {@code x[x0 + i] *= w[w0 + i]}. */
  static void multiply(float[] w, int w0, float[] x, int x0, int n) {
    int i = 0;
    for (; i + L <= n; i += L) {
      FloatVector.fromArray(S, x, x0 + i).mul(FloatVector.fromArray(S, w, w0 + i))
          .intoArray(x, x0 + i);
    }
    for (; i < n; i++) {
      x[x0 + i] *= w[w0 + i];
    }
  }

  /** True when {@code x[x0 .. x0 + n)} is all finite ({@code x * 0} is NaN otherwise). */
  static boolean allFinite(float[] x, int x0, int n) {
    FloatVector zero = FloatVector.zero(S);
    FloatVector acc = zero;
    int i = 0;
    for (; i + L <= n; i += L) {
      acc = FloatVector.fromArray(S, x, x0 + i).fma(zero, acc);
    }
    float tail = 0f;
    for (; i < n; i++) {
      tail += x[x0 + i] * 0f;
    }
    return !Float.isNaN(reduce(acc) + tail);
  }

  /** {@code sum_i x[x0 + i]}. */
  static float sum(float[] x, int x0, int n) {
    FloatVector s0 = FloatVector.zero(S);
    int i = 0;
    for (; i + L <= n; i += L) {
      s0 = s0.add(FloatVector.fromArray(S, x, x0 + i));
    }
    float t = reduce(s0);
    for (; i < n; i++) {
      t += x[x0 + i];
    }
    return t;
  }

  /**
   * One pass over the rows of {@code s [rows x n]} (row-major) for a decode step: each row becomes
   * {@code s_r = lambda s_r + a[r] v}, and {@code out = sum_r c[r] s_r} is read from the updated
   * rows on the way, so the state is read and written once. Column blocks of up to four vectors
   * keep their sums in registers across the rows.
   */
  static void updateAndRead(float[] s, int rows, int n, float lambda, float[] a, float[] v,
      float[] c, float[] out) {
    int j = 0;
    for (; j + 4 * L <= n; j += 4 * L) {
      FloatVector v0 = FloatVector.fromArray(S, v, j);
      FloatVector v1 = FloatVector.fromArray(S, v, j + L);
      FloatVector v2 = FloatVector.fromArray(S, v, j + 2 * L);
      FloatVector v3 = FloatVector.fromArray(S, v, j + 3 * L);
      FloatVector o0 = FloatVector.zero(S);
      FloatVector o1 = FloatVector.zero(S);
      FloatVector o2 = FloatVector.zero(S);
      FloatVector o3 = FloatVector.zero(S);
      for (int r = 0; r < rows; r++) {
        int at = r * n + j;
        FloatVector ar = FloatVector.broadcast(S, a[r]);
        FloatVector cr = FloatVector.broadcast(S, c[r]);
        FloatVector s0 = ar.fma(v0, FloatVector.fromArray(S, s, at).mul(lambda));
        FloatVector s1 = ar.fma(v1, FloatVector.fromArray(S, s, at + L).mul(lambda));
        FloatVector s2 = ar.fma(v2, FloatVector.fromArray(S, s, at + 2 * L).mul(lambda));
        FloatVector s3 = ar.fma(v3, FloatVector.fromArray(S, s, at + 3 * L).mul(lambda));
        s0.intoArray(s, at);
        s1.intoArray(s, at + L);
        s2.intoArray(s, at + 2 * L);
        s3.intoArray(s, at + 3 * L);
        o0 = cr.fma(s0, o0);
        o1 = cr.fma(s1, o1);
        o2 = cr.fma(s2, o2);
        o3 = cr.fma(s3, o3);
      }
      o0.intoArray(out, j);
      o1.intoArray(out, j + L);
      o2.intoArray(out, j + 2 * L);
      o3.intoArray(out, j + 3 * L);
    }
    for (; j + L <= n; j += L) {
      FloatVector v0 = FloatVector.fromArray(S, v, j);
      FloatVector o0 = FloatVector.zero(S);
      for (int r = 0; r < rows; r++) {
        int at = r * n + j;
        FloatVector s0 = FloatVector.broadcast(S, a[r])
            .fma(v0, FloatVector.fromArray(S, s, at).mul(lambda));
        s0.intoArray(s, at);
        o0 = FloatVector.broadcast(S, c[r]).fma(s0, o0);
      }
      o0.intoArray(out, j);
    }
    // scalar column tail
    for (; j < n; j++) {
      float o = 0f;
      for (int r = 0; r < rows; r++) {
        int at = r * n + j;
        float x = Math.fma(a[r], v[j], s[at] * lambda);
        s[at] = x;
        o = Math.fma(c[r], x, o);
      }
      out[j] = o;
    }
  }
}
