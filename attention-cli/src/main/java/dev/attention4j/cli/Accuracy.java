package dev.attention4j.cli;

import dev.attention4j.core.ErrorMetrics;
import dev.attention4j.core.Tensor;

/**
 * A fast result against the float64 reference, with the tolerance of SEMANTICS.md ("Accuracy of
 * the fast float32 kernels"): {@code max|O - O_ref| <= 1e-4 * max(1, max|O_ref|) + 1e-5}, each LSE
 * within {@code 1e-4 * max(1, |LSE_ref|)}, and {@code -inf} rows exactly where the reference has
 * them.
 *
 * @param out metrics of O
 * @param lseMaxAbs largest LSE difference over rows that are finite in both (0 without LSE)
 * @param withinTolerance whether every rule holds
 */
record Accuracy(ErrorMetrics out, double lseMaxAbs, boolean withinTolerance) {

  static Accuracy of(Tensor out, Tensor lse, Tensor refOut, Tensor refLse) {
    ErrorMetrics m = ErrorMetrics.compare(out, refOut);
    double maxRef = 0;
    for (double r : refOut.toDoubleArray()) {
      maxRef = Math.max(maxRef, Math.abs(r));
    }
    boolean ok = m.maxAbs() <= 1e-4 * Math.max(1, maxRef) + 1e-5;
    double lseMax = 0;
    if (lse != null && refLse != null) {
      double[] a = lse.toDoubleArray();
      double[] r = refLse.toDoubleArray();
      for (int e = 0; e < a.length; e++) {
        if (r[e] == Double.NEGATIVE_INFINITY || a[e] == Double.NEGATIVE_INFINITY) {
          ok &= a[e] == r[e];
          continue;
        }
        double d = Math.abs(a[e] - r[e]);
        ok &= d <= 1e-4 * Math.max(1, Math.abs(r[e]));
        lseMax = Double.isNaN(d) ? Double.NaN : Math.max(lseMax, d);
      }
    }
    return new Accuracy(m, lseMax, ok && !Double.isNaN(lseMax));
  }
}
