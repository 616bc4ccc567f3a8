package dev.attention4j.linear;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/** Short vector loops on float rows: dot, axpy, scale, sum (vector loop, then a scalar tail). */
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
}
