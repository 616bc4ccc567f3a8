package dev.attention4j.simd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.attention4j.core.AttentionKernel;
import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionResult;
import dev.attention4j.core.DType;
import dev.attention4j.core.ReferenceAttention;
import dev.attention4j.core.Tensor;
import java.util.SplittableRandom;

/** Seeded tensors and the SEMANTICS.md tolerance check against the float64 reference. */
final class Support {
  private Support() {
  }

  static Tensor gaussian(SplittableRandom rnd, DType dtype, double sigma, int... shape) {
    Tensor t = Tensor.zeros(dtype, shape);
    for (long i : t.storageIndices()) {
      t.setAt(i, sigma * gauss(rnd));
    }
    return t;
  }

  static double gauss(SplittableRandom rnd) {
    double u = 1.0 - rnd.nextDouble();
    double w = rnd.nextDouble();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * w);
  }

  /** A {@code [B, H, S, D]} view of a fresh {@code [B, S, H, D]} buffer holding the same values. */
  static Tensor strided(Tensor t) {
    int[] s = t.shape();
    Tensor buf = Tensor.zeros(t.dtype(), s[0], s[2], s[1], s[3]);
    Tensor view = buf.permute(0, 2, 1, 3);
    view.copyFrom(t);
    return view;
  }

  /** The float64 reference result. */
  static AttentionResult reference(Tensor q, Tensor k, Tensor v, AttentionOptions o) {
    return ReferenceAttention.INSTANCE.forward(q, k, v, o);
  }

  /** Runs {@code kernel} into new F32 outputs. */
  static AttentionResult run(AttentionKernel kernel, Tensor q, Tensor k, Tensor v,
      AttentionOptions o) {
    int[] qs = q.shape();
    Tensor out = Tensor.zeros(DType.F32, qs[0], qs[1], qs[2], v.dim(3));
    Tensor lse = Tensor.zeros(DType.F32, qs[0], qs[1], qs[2]);
    kernel.forward(q, k, v, out, lse, o);
    return new AttentionResult(out, lse);
  }

  /**
   * SEMANTICS.md: {@code max|O - O_ref| <= 1e-4 max(1, max|O_ref|) + 1e-5}, LSE within
   * {@code 1e-4 max(1, |LSE_ref|)}, {@code -inf} LSE exactly where the reference has it, and NaN
   * exactly where the reference has NaN.
   */
  static void assertClose(AttentionResult expected, AttentionResult actual, String what) {
    double[] eo = expected.out().toDoubleArray();
    double[] ao = actual.out().toDoubleArray();
    double maxRef = 0;
    for (double x : eo) {
      if (Double.isFinite(x)) {
        maxRef = Math.max(maxRef, Math.abs(x));
      }
    }
    double bound = 1e-4 * Math.max(1, maxRef) + 1e-5;
    for (int i = 0; i < eo.length; i++) {
      if (Double.isNaN(eo[i]) || Double.isNaN(ao[i])) {
        if (Double.isNaN(eo[i]) != Double.isNaN(ao[i])) {
          fail(what + ": O[" + i + "] = " + ao[i] + ", reference " + eo[i]);
        }
      } else if (!(Math.abs(eo[i] - ao[i]) <= bound)) {
        fail(what + ": O[" + i + "] = " + ao[i] + ", reference " + eo[i] + " (bound " + bound
            + ")");
      }
    }
    if (expected.lse() == null || actual.lse() == null) {
      return;
    }
    double[] el = expected.lse().toDoubleArray();
    double[] al = actual.lse().toDoubleArray();
    for (int i = 0; i < el.length; i++) {
      if (el[i] == Double.NEGATIVE_INFINITY) {
        assertEquals(el[i], al[i], what + ": LSE[" + i + "] must be -inf");
      } else if (Double.isNaN(el[i]) || Double.isNaN(al[i])) {
        assertEquals(Double.isNaN(el[i]), Double.isNaN(al[i]),
            what + ": LSE[" + i + "] = " + al[i] + ", reference " + el[i]);
      } else if (!(Math.abs(el[i] - al[i]) <= 1e-4 * Math.max(1, Math.abs(el[i])))) {
        fail(what + ": LSE[" + i + "] = " + al[i] + ", reference " + el[i]);
      }
    }
  }

  /** Runs the kernel and the reference and compares them. */
  static AttentionResult check(AttentionKernel kernel, Tensor q, Tensor k, Tensor v,
      AttentionOptions o, String what) {
    AttentionResult actual = run(kernel, q, k, v, o);
    assertClose(reference(q, k, v, o), actual, what);
    return actual;
  }
}
