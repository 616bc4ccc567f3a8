package dev.attention4j.linear;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionShape;
import dev.attention4j.core.DType;
import dev.attention4j.core.Tensor;

/** Validation of a call and row copies between {@code [B, H, S, D]} tensors and tiles. */
final class Rows {

  private Rows() {
  }

  /**
   * Checks a call: ranks, shapes, GQA, the map's weights and the per-head options.
   *
   * @throws IllegalArgumentException naming the argument and the numbers
   */
  static AttentionShape check(Tensor q, Tensor k, Tensor v, Tensor out, LinearOptions o) {
    if (o == null) {
      throw new IllegalArgumentException("options must not be null");
    }
    AttentionShape s = AttentionShape.of(q, k, v, out, null, AttentionOptions.defaults());
    o.featureMap().check(s.qHeads(), s.kvHeads(), s.headDim());
    o.checkHeads(s.qHeads());
    return s;
  }

  /**
   * Copies rows {@code [row0, row0 + rows)} of head {@code (b, h)} of {@code t} (last dim
   * {@code dim}) into {@code dst} as float32, row-major with stride {@code dim}.
   */
  static void load(Tensor t, int b, int h, int row0, int rows, int dim, float[] dst) {
    long base = t.offset() + b * t.stride(0) + h * t.stride(1);
    long rs = t.stride(2);
    long cs = t.stride(3);
    if (t.dtype() == DType.F32 && cs == 1) {
      float[] data = t.floatData();
      for (int r = 0; r < rows; r++) {
        System.arraycopy(data, (int) (base + (row0 + r) * rs), dst, r * dim, dim);
      }
      return;
    }
    for (int r = 0; r < rows; r++) {
      long at = base + (row0 + r) * rs;
      for (int e = 0; e < dim; e++) {
        dst[r * dim + e] = t.getFloatAt(at + e * cs);
      }
    }
  }

  /** As {@link #load}, in float64 (exact for every dtype). */
  static void loadDouble(Tensor t, int b, int h, int row0, int rows, int dim, double[] dst) {
    long base = t.offset() + b * t.stride(0) + h * t.stride(1);
    long rs = t.stride(2);
    long cs = t.stride(3);
    for (int r = 0; r < rows; r++) {
      long at = base + (row0 + r) * rs;
      for (int e = 0; e < dim; e++) {
        dst[r * dim + e] = t.getDoubleAt(at + e * cs);
      }
    }
  }

  /**
   * Writes {@code rows} rows of {@code src} (stride {@code dim}) to rows {@code row0..} of head
   * (b, h). A row that is not all finite (it saw a NaN or Inf in a query, key or value) is
   * written as NaN in every column (SEMANTICS.md).
   */
  static void store(float[] src, Tensor t, int b, int h, int row0, int rows, int dim) {
    for (int r = 0; r < rows; r++) {
      nanIfNotFinite(src, r * dim, dim);
    }
    long base = t.offset() + b * t.stride(0) + h * t.stride(1);
    long rs = t.stride(2);
    long cs = t.stride(3);
    if (t.dtype() == DType.F32 && cs == 1) {
      float[] data = t.floatData();
      for (int r = 0; r < rows; r++) {
        System.arraycopy(src, r * dim, data, (int) (base + (row0 + r) * rs), dim);
      }
      return;
    }
    for (int r = 0; r < rows; r++) {
      long at = base + (row0 + r) * rs;
      for (int e = 0; e < dim; e++) {
        t.setAt(at + e * cs, src[r * dim + e]);
      }
    }
  }

  /** As {@link #store}, from float64. */
  static void storeDouble(double[] src, Tensor t, int b, int h, int row0, int rows, int dim) {
    long base = t.offset() + b * t.stride(0) + h * t.stride(1);
    long rs = t.stride(2);
    long cs = t.stride(3);
    for (int r = 0; r < rows; r++) {
      long at = base + (row0 + r) * rs;
      boolean finite = true;
      for (int e = 0; e < dim; e++) {
        finite &= Double.isFinite(src[r * dim + e]);
      }
      for (int e = 0; e < dim; e++) {
        t.setAt(at + e * cs, finite ? src[r * dim + e] : Double.NaN);
      }
    }
  }

  /** Sets {@code a[off .. off + n)} to NaN unless all of it is finite. */
  static void nanIfNotFinite(float[] a, int off, int n) {
    if (!Vec.allFinite(a, off, n)) {
      java.util.Arrays.fill(a, off, off + n, Float.NaN);
    }
  }
}
