package dev.attention4j.core;

/**
 * Merges two partial attention results over disjoint key sets of the same query rows
 * (SEMANTICS.md): {@code L = logaddexp(L_a, L_b)}, {@code O = exp(L_a - L) O_a + exp(L_b - L) O_b}.
 * {@code -inf} means "no keys" and carries weight 0; two empty partials merge to {@code (0, -inf)}.
 * Split-KV decoding, MoBA, extra context keys and context-parallel attention all use this.
 */
public final class LseMerge {
  private LseMerge() {
  }

  /** {@code log(exp(a) + exp(b))}, exact for infinities: {@code -inf} is the identity. */
  public static double logAddExp(double a, double b) {
    if (a == Double.NEGATIVE_INFINITY) {
      return b;
    }
    if (b == Double.NEGATIVE_INFINITY) {
      return a;
    }
    double hi = Math.max(a, b);
    if (hi == Double.POSITIVE_INFINITY) {
      return Double.isNaN(a) || Double.isNaN(b) ? Double.NaN : hi;
    }
    return hi + Math.log1p(Math.exp(-Math.abs(a - b)));
  }

  /**
   * Merges two row-partials {@code (oA, lseA)} and {@code (oB, lseB)} of length {@code n} into
   * {@code out} (which may alias {@code oA} or {@code oB}) and returns the merged LSE.
   */
  public static double mergeRow(double[] oA, int offA, double lseA, double[] oB, int offB,
      double lseB, double[] out, int offOut, int n) {
    double l = logAddExp(lseA, lseB);
    if (l == Double.NEGATIVE_INFINITY) {
      java.util.Arrays.fill(out, offOut, offOut + n, 0.0);
      return l;
    }
    double wa = lseA == Double.NEGATIVE_INFINITY ? 0.0 : Math.exp(lseA - l);
    double wb = lseB == Double.NEGATIVE_INFINITY ? 0.0 : Math.exp(lseB - l);
    for (int c = 0; c < n; c++) {
      double a = wa == 0.0 ? 0.0 : wa * oA[offA + c];
      double b = wb == 0.0 ? 0.0 : wb * oB[offB + c];
      out[offOut + c] = a + b;
    }
    return l;
  }

  /** Float32 twin of {@link #mergeRow(double[], int, double, double[], int, double, double[], int, int)}. */
  public static float mergeRow(float[] oA, int offA, float lseA, float[] oB, int offB,
      float lseB, float[] out, int offOut, int n) {
    double l = logAddExp(lseA, lseB);
    if (l == Double.NEGATIVE_INFINITY) {
      java.util.Arrays.fill(out, offOut, offOut + n, 0f);
      return Float.NEGATIVE_INFINITY;
    }
    float wa = lseA == Float.NEGATIVE_INFINITY ? 0f : (float) Math.exp(lseA - l);
    float wb = lseB == Float.NEGATIVE_INFINITY ? 0f : (float) Math.exp(lseB - l);
    for (int c = 0; c < n; c++) {
      float a = wa == 0f ? 0f : wa * oA[offA + c];
      float b = wb == 0f ? 0f : wb * oB[offB + c];
      out[offOut + c] = a + b;
    }
    return (float) l;
  }

  /**
   * Merges whole partial results: {@code O [.., Dv]} and {@code LSE [..]} tensors of matching
   * leading shape. Writes {@code out} and {@code lseOut} (which may be the inputs).
   */
  public static void merge(Tensor oA, Tensor lseA, Tensor oB, Tensor lseB, Tensor out,
      Tensor lseOut) {
    int r = oA.rank();
    int[] shape = oA.shape();
    if (!java.util.Arrays.equals(shape, oB.shape()) || !java.util.Arrays.equals(shape, out.shape())) {
      throw new IllegalArgumentException("partial outputs differ in shape: "
          + java.util.Arrays.toString(shape) + ", " + java.util.Arrays.toString(oB.shape())
          + ", out " + java.util.Arrays.toString(out.shape()));
    }
    int[] rows = java.util.Arrays.copyOf(shape, r - 1);
    for (Tensor l : new Tensor[] {lseA, lseB, lseOut}) {
      if (!java.util.Arrays.equals(rows, l.shape())) {
        throw new IllegalArgumentException("LSE has shape " + java.util.Arrays.toString(l.shape())
            + ", expected " + java.util.Arrays.toString(rows));
      }
    }
    int n = shape[r - 1];
    long[] ia = oA.storageIndices();
    long[] ib = oB.storageIndices();
    long[] io = out.storageIndices();
    long[] la = lseA.storageIndices();
    long[] lb = lseB.storageIndices();
    long[] lo = lseOut.storageIndices();
    double[] a = new double[n];
    double[] b = new double[n];
    double[] o = new double[n];
    for (int row = 0; row < la.length; row++) {
      for (int c = 0; c < n; c++) {
        a[c] = oA.getDoubleAt(ia[row * n + c]);
        b[c] = oB.getDoubleAt(ib[row * n + c]);
      }
      double l = mergeRow(a, 0, lseA.getDoubleAt(la[row]), b, 0, lseB.getDoubleAt(lb[row]), o, 0,
          n);
      for (int c = 0; c < n; c++) {
        out.setAt(io[row * n + c], o[c]);
      }
      lseOut.setAt(lo[row], l);
    }
  }
}
