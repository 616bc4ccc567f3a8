package dev.attention4j.linear;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.core.DType;
import dev.attention4j.core.Tensor;
import java.util.SplittableRandom;

/** Seeded inputs, Hedgehog weights and the SEMANTICS.md tolerance check. */
final class Fixtures {

  private Fixtures() {
  }

  static Tensor gaussian(SplittableRandom rnd, double sigma, int... shape) {
    Tensor t = Tensor.zeros(DType.F32, shape);
    float[] x = t.floatData();
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) (sigma * rnd.nextGaussian());
    }
    return t;
  }

  static FeatureWeights weights(SplittableRandom rnd, int hq, int hkv, int d, int f) {
    double[][] wq = new double[hq][d * f];
    double[][] wk = new double[hkv][d * f];
    for (double[][] w : new double[][][] {wq, wk}) {
      for (double[] row : w) {
        for (int i = 0; i < row.length; i++) {
          // rounded to float so that the reference and the fast kernel use the same weights
          row[i] = (float) (rnd.nextGaussian() / Math.sqrt(d));
        }
      }
    }
    return FeatureWeights.of(wq, wk, d, f);
  }

  static FeatureMap map(String kind, SplittableRandom rnd, int hq, int hkv, int d, int f) {
    FeatureMap.Kind k = FeatureMap.Kind.parse(kind);
    return FeatureMap.of(k, k.needsWeights() ? weights(rnd, hq, hkv, d, f) : null);
  }

  static Tensor reference(Tensor q, Tensor k, Tensor v, LinearOptions o) {
    Tensor out = Tensor.zeros(DType.F64, q.dim(0), q.dim(1), q.dim(2), v.dim(3));
    ReferenceLinearAttention.forward(q, k, v, out, o);
    return out;
  }

  static Tensor fast(Tensor q, Tensor k, Tensor v, LinearOptions o) {
    Tensor out = Tensor.zeros(DType.F32, q.dim(0), q.dim(1), q.dim(2), v.dim(3));
    LinearAttention.forward(q, k, v, out, o);
    return out;
  }

  /** {@code max |O - O_ref| <= 1e-4 * max(1, max |O_ref|) + 1e-5}. */
  static void assertWithinTolerance(Tensor ref, Tensor actual, String what) {
    double[] r = ref.toDoubleArray();
    double[] a = actual.toDoubleArray();
    double maxRef = 0;
    for (double x : r) {
      maxRef = Math.max(maxRef, Math.abs(x));
    }
    double tol = 1e-4 * Math.max(1, maxRef) + 1e-5;
    double err = 0;
    int worst = -1;
    for (int i = 0; i < r.length; i++) {
      double e = Math.abs(r[i] - a[i]);
      if (!(e <= err)) {
        err = e;
        worst = i;
      }
    }
    double fe = err;
    int fw = worst;
    assertTrue(err <= tol, () -> what + ": max abs error " + fe + " > tolerance " + tol
        + " at flat index " + fw + " (ref " + r[fw] + ", got " + a[fw] + ")");
  }
}
