package dev.attention4j.bench;

import dev.attention4j.core.DType;
import dev.attention4j.core.MaskMod;
import dev.attention4j.core.Tensor;
import java.util.SplittableRandom;

/**
 * What the benchmarks share: seeded Gaussian inputs, one output row in float64 straight from the
 * definition of softmax attention, and the SEMANTICS.md check of a row (a fast wrong kernel must
 * fail the run, not win it).
 */
final class BenchData {

  private BenchData() {
  }

  /** A float32 tensor of standard normal values (Box-Muller on {@code rnd}). */
  static Tensor gaussian(SplittableRandom rnd, int... shape) {
    Tensor t = Tensor.zeros(DType.F32, shape);
    float[] a = t.floatData();
    for (int i = 0; i < a.length; i++) {
      double u = 1.0 - rnd.nextDouble();
      double w = rnd.nextDouble();
      a[i] = (float) (Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * w));
    }
    return t;
  }

  /**
   * Row {@code i} of head {@code h} (batch 0, K/V head {@code h}) in float64 under {@code mask},
   * scale {@code 1 / sqrt(D)}; O(Sk D) time, for a few sampled rows.
   */
  static double[] referenceRow(Tensor q, Tensor k, Tensor v, int h, int i, MaskMod mask) {
    int n = k.dim(2);
    int d = q.dim(3);
    int dv = v.dim(3);
    double scale = 1 / Math.sqrt(d);
    double[] s = new double[n];
    double m = Double.NEGATIVE_INFINITY;
    for (int j = 0; j < n; j++) {
      s[j] = Double.NEGATIVE_INFINITY;
      if (mask.allows(0, h, i, j)) {
        double dot = 0;
        for (int e = 0; e < d; e++) {
          dot += q.getDouble(0, h, i, e) * k.getDouble(0, h, j, e);
        }
        s[j] = scale * dot;
        m = Math.max(m, s[j]);
      }
    }
    double l = 0;
    double[] o = new double[dv];
    for (int j = 0; j < n; j++) {
      if (s[j] == Double.NEGATIVE_INFINITY) {
        continue;
      }
      double p = Math.exp(s[j] - m);
      l += p;
      for (int e = 0; e < dv; e++) {
        o[e] += p * v.getDouble(0, h, j, e);
      }
    }
    for (int e = 0; e < dv; e++) {
      o[e] /= l;
    }
    return o;
  }

  /**
   * Throws if row {@code i} of head {@code h} of {@code out} is farther from {@code want} than
   * SEMANTICS.md allows: {@code 1e-4 max(1, max|want|) + 1e-5}.
   */
  static void checkRow(String what, Tensor out, int h, int i, double[] want) {
    double max = 0;
    for (double x : want) {
      max = Math.max(max, Math.abs(x));
    }
    double bound = 1e-4 * Math.max(1, max) + 1e-5;
    for (int e = 0; e < want.length; e++) {
      double got = out.getDouble(0, h, i, e);
      if (!(Math.abs(got - want[e]) <= bound)) {
        throw new IllegalStateException(what + ": wrong output at head " + h + " row " + i
            + " column " + e + ": " + got + ", expected " + want[e]);
      }
    }
  }
}
