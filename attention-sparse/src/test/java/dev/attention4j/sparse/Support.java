package dev.attention4j.sparse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionResult;
import dev.attention4j.core.DType;
import dev.attention4j.core.MaskMod;
import dev.attention4j.core.ReferenceAttention;
import dev.attention4j.core.Tensor;
import java.util.SplittableRandom;

/** Seeded tensors, the float64 reference with a mask, and the SEMANTICS.md tolerance. */
final class Support {
  private Support() {
  }

  static Tensor gaussian(SplittableRandom rnd, double sigma, int... shape) {
    Tensor t = Tensor.zeros(DType.F32, shape);
    float[] a = t.floatData();
    for (int i = 0; i < a.length; i++) {
      a[i] = (float) (sigma * gauss(rnd));
    }
    return t;
  }

  static double gauss(SplittableRandom rnd) {
    double u = 1.0 - rnd.nextDouble();
    double w = rnd.nextDouble();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * w);
  }

  /** The float64 reference under {@code mod} (null = no mask). */
  static AttentionResult reference(Tensor q, Tensor k, Tensor v, MaskMod mod, AttentionOptions o) {
    AttentionOptions.Builder b = o.toBuilder();
    if (mod != null) {
      b.maskMod(mod);
    }
    return ReferenceAttention.INSTANCE.forward(q, k, v, b.returnLse(true).build());
  }

  /**
   * SEMANTICS.md: {@code max|O - O_ref| <= 1e-4 max(1, max|O_ref|) + 1e-5}, LSE within
   * {@code 1e-4 max(1, |LSE_ref|)}, {@code -inf} LSE exactly where the reference has it.
   */
  static void assertClose(AttentionResult expected, Tensor out, Tensor lse, String what) {
    double[] r = expected.out().toDoubleArray();
    double[] a = out.toDoubleArray();
    double maxRef = 0;
    for (double x : r) {
      maxRef = Math.max(maxRef, Math.abs(x));
    }
    double tol = 1e-4 * Math.max(1, maxRef) + 1e-5;
    double worst = 0;
    for (int e = 0; e < r.length; e++) {
      double d = Math.abs(a[e] - r[e]);
      if (!(d <= tol)) {
        fail(what + ": O[" + e + "] = " + a[e] + ", reference " + r[e] + " (tolerance " + tol
            + ")");
      }
      worst = Math.max(worst, d);
    }
    if (lse != null) {
      double[] rl = expected.lse().toDoubleArray();
      double[] al = lse.toDoubleArray();
      for (int e = 0; e < rl.length; e++) {
        if (rl[e] == Double.NEGATIVE_INFINITY || al[e] == Double.NEGATIVE_INFINITY) {
          assertEquals(rl[e], al[e], what + ": -inf LSE row " + e);
          continue;
        }
        double d = Math.abs(al[e] - rl[e]);
        if (!(d <= 1e-4 * Math.max(1, Math.abs(rl[e])))) {
          fail(what + ": LSE[" + e + "] = " + al[e] + ", reference " + rl[e]);
        }
      }
    }
  }

  /** Asserts two float32 results are equal within the tolerance (same algorithm, other path). */
  static void assertSame(Tensor expected, Tensor actual, double tol, String what) {
    double[] r = expected.toDoubleArray();
    double[] a = actual.toDoubleArray();
    for (int e = 0; e < r.length; e++) {
      if (!(Math.abs(a[e] - r[e]) <= tol) && !(a[e] == r[e])) {
        fail(what + ": [" + e + "] = " + a[e] + ", expected " + r[e]);
      }
    }
  }
}
