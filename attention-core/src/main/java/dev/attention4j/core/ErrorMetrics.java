package dev.attention4j.core;

import java.util.Arrays;
import org.apache.commons.math3.stat.descriptive.SummaryStatistics;

/**
 * Error of a result against a reference, over the flattened tensors (SEMANTICS.md):
 * max-abs {@code max|a - r|}, cosine similarity {@code <a, r> / (|a| |r|)}, relative L1
 * {@code sum|a - r| / sum|r|}, and RMSE. Equal infinities (such as {@code -inf} LSE rows) count as
 * no error; an infinity on one side only, or NaN anywhere, makes the metrics NaN or infinite.
 *
 * @param maxAbs largest absolute difference
 * @param cosine cosine similarity (1 for two all-zero tensors)
 * @param relativeL1 relative L1 error (0 when both are zero)
 * @param rmse root mean square error
 * @param count number of elements compared
 */
public record ErrorMetrics(double maxAbs, double cosine, double relativeL1, double rmse,
    long count) {

  /** Compares two tensors of the same shape (any dtypes and strides). */
  public static ErrorMetrics compare(Tensor actual, Tensor expected) {
    if (!Arrays.equals(actual.shape(), expected.shape())) {
      throw new IllegalArgumentException("shapes differ: " + Arrays.toString(actual.shape())
          + " vs " + Arrays.toString(expected.shape()));
    }
    return compare(actual.toDoubleArray(), expected.toDoubleArray());
  }

  /** Compares two arrays of the same length. */
  public static ErrorMetrics compare(double[] actual, double[] expected) {
    if (actual.length != expected.length) {
      throw new IllegalArgumentException("lengths differ: " + actual.length + " vs "
          + expected.length);
    }
    SummaryStatistics diff = new SummaryStatistics();
    double dot = 0;
    double na = 0;
    double nr = 0;
    double l1Ref = 0;
    for (int e = 0; e < actual.length; e++) {
      double a = actual[e];
      double r = expected[e];
      double d = a == r ? 0.0 : Math.abs(a - r);
      diff.addValue(d);
      if (Double.isInfinite(a) && a == r) {
        continue; // equal infinities: no error and no contribution to the norms
      }
      dot += a * r;
      na += a * a;
      nr += r * r;
      l1Ref += Math.abs(r);
    }
    long n = diff.getN();
    if (n == 0) {
      return new ErrorMetrics(0, 1, 0, 0, 0);
    }
    double maxAbs = anyNaN(actual) || anyNaN(expected) ? Double.NaN : diff.getMax();
    double cosine = na == 0 && nr == 0 ? 1.0 : dot / (Math.sqrt(na) * Math.sqrt(nr));
    double sumAbs = diff.getSum();
    double relL1 = sumAbs == 0 ? 0.0 : sumAbs / l1Ref;
    double rmse = Math.sqrt(diff.getSumsq() / n);
    return new ErrorMetrics(maxAbs, cosine, relL1, rmse, n);
  }

  private static boolean anyNaN(double[] x) {
    for (double v : x) {
      if (Double.isNaN(v)) {
        return true;
      }
    }
    return false;
  }

  @Override
  public String toString() {
    return String.format("max_abs=%.3e cos=%.8f rel_l1=%.3e rmse=%.3e", maxAbs, cosine,
        relativeL1, rmse);
  }
}
