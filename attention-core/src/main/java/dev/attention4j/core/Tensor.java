package dev.attention4j.core;

import java.util.Arrays;
import java.util.Objects;

/**
 * A strided view over a heap array: a shape, per-axis strides in elements, and a {@code long}
 * offset of element {@code (0, ..., 0)} into the backing array.
 *
 * <p>Attention tensors use the canonical layout {@code [B, H, S, D]}; any strides are accepted, so
 * a {@code [B, S, H, D]} buffer becomes canonical through {@link #permute(int...)} without a copy.
 * Storage is {@code float[]} ({@link DType#F32}), {@code short[]} of raw bits ({@link DType#F16},
 * {@link DType#BF16}) or {@code double[]} ({@link DType#F64}). A view never copies; several views
 * may share one array. Tensors are not thread-safe for concurrent writes to the same elements.
 */
public final class Tensor {

  /** The largest array the JVM reliably allocates. */
  public static final int MAX_ARRAY_LENGTH = Integer.MAX_VALUE - 8;

  private final DType dtype;
  private final Object data;
  private final int dataLength;
  private final int[] shape;
  private final long[] strides;
  private final long offset;
  private final long size;

  private Tensor(DType dtype, Object data, int[] shape, long[] strides, long offset) {
    this.dtype = dtype;
    this.data = data;
    this.dataLength = java.lang.reflect.Array.getLength(data);
    this.shape = shape;
    this.strides = strides;
    this.offset = offset;
    this.size = elementCount(shape);
    checkBounds();
  }

  // ---- factories

  /**
   * A contiguous (C order) float32 tensor over {@code data}, which is not copied. The tensor views
   * the first {@code prod(shape)} elements: a shorter array is rejected, a longer one is not (so a
   * wrong shape is not caught when it needs fewer elements than the array holds).
   */
  public static Tensor of(float[] data, int... shape) {
    return new Tensor(DType.F32, Objects.requireNonNull(data, "data"), shape.clone(),
        contiguousStrides(shape), 0);
  }

  /**
   * A contiguous (C order) float64 tensor over {@code data}, which is not copied. The tensor views
   * the first {@code prod(shape)} elements: a shorter array is rejected, a longer one is not (so a
   * wrong shape is not caught when it needs fewer elements than the array holds).
   */
  public static Tensor of(double[] data, int... shape) {
    return new Tensor(DType.F64, Objects.requireNonNull(data, "data"), shape.clone(),
        contiguousStrides(shape), 0);
  }

  /**
   * A contiguous tensor of 16-bit values over {@code bits}, which is not copied. As for
   * {@link #of(float[], int...)}, the tensor views the first {@code prod(shape)} elements.
   *
   * @param dtype {@link DType#F16} or {@link DType#BF16}
   */
  public static Tensor ofBits(DType dtype, short[] bits, int... shape) {
    if (dtype != DType.F16 && dtype != DType.BF16) {
      throw new IllegalArgumentException("dtype " + dtype + " is not a 16-bit type");
    }
    return new Tensor(dtype, Objects.requireNonNull(bits, "bits"), shape.clone(),
        contiguousStrides(shape), 0);
  }

  /** A new zero-filled contiguous tensor. */
  public static Tensor zeros(DType dtype, int... shape) {
    long n = elementCount(shape);
    if (n > MAX_ARRAY_LENGTH) {
      throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has " + n
          + " elements, more than one array can hold (" + MAX_ARRAY_LENGTH + ")");
    }
    Object data = switch (dtype) {
      case F32 -> new float[(int) n];
      case F16, BF16 -> new short[(int) n];
      case F64 -> new double[(int) n];
    };
    return new Tensor(dtype, data, shape.clone(), contiguousStrides(shape), 0);
  }

  /** A contiguous float32 copy of any tensor's values. */
  public static Tensor copyOf(Tensor t, DType dtype) {
    Tensor out = zeros(dtype, t.shape);
    out.copyFrom(t);
    return out;
  }

  /**
   * Another view of the same storage.
   *
   * @throws IllegalArgumentException if the view reaches outside the backing array
   */
  public Tensor view(int[] shape, long[] strides, long offset) {
    if (shape.length != strides.length) {
      throw new IllegalArgumentException("shape rank " + shape.length + " != strides rank "
          + strides.length);
    }
    return new Tensor(dtype, data, shape.clone(), strides.clone(), offset);
  }

  /** A contiguous reshape of a contiguous tensor (no copy). */
  public Tensor reshape(int... newShape) {
    if (!isContiguous()) {
      throw new IllegalArgumentException("reshape needs a contiguous tensor, strides are "
          + Arrays.toString(strides));
    }
    if (elementCount(newShape) != size) {
      throw new IllegalArgumentException("cannot reshape " + Arrays.toString(shape) + " ("
          + size + " elements) to " + Arrays.toString(newShape));
    }
    return new Tensor(dtype, data, newShape.clone(), contiguousStrides(newShape), offset);
  }

  /**
   * Reorders the axes: axis {@code a} of the result is axis {@code axes[a]} of this tensor.
   * {@code permute(0, 2, 1, 3)} turns a {@code [B, S, H, D]} buffer into a {@code [B, H, S, D]}
   * view.
   */
  public Tensor permute(int... axes) {
    if (axes.length != shape.length) {
      throw new IllegalArgumentException("permute needs " + shape.length + " axes, got "
          + axes.length);
    }
    int[] s = new int[axes.length];
    long[] st = new long[axes.length];
    boolean[] seen = new boolean[axes.length];
    for (int a = 0; a < axes.length; a++) {
      int from = axes[a];
      if (from < 0 || from >= axes.length || seen[from]) {
        throw new IllegalArgumentException("permute axes " + Arrays.toString(axes)
            + " are not a permutation of 0.." + (axes.length - 1));
      }
      seen[from] = true;
      s[a] = shape[from];
      st[a] = strides[from];
    }
    return new Tensor(dtype, data, s, st, offset);
  }

  /** The sub-range {@code [start, end)} of one axis (no copy). */
  public Tensor slice(int axis, int start, int end) {
    checkAxis(axis);
    if (start < 0 || end < start || end > shape[axis]) {
      throw new IllegalArgumentException("slice [" + start + ", " + end + ") out of range for axis "
          + axis + " of length " + shape[axis]);
    }
    int[] s = shape.clone();
    s[axis] = end - start;
    return new Tensor(dtype, data, s, strides.clone(), offset + start * strides[axis]);
  }

  /** Inserts an axis of length 1 at {@code axis} (no copy). */
  public Tensor unsqueeze(int axis) {
    if (axis < 0 || axis > shape.length) {
      throw new IllegalArgumentException("axis " + axis + " out of range for unsqueeze of rank "
          + shape.length);
    }
    int[] s = new int[shape.length + 1];
    long[] st = new long[shape.length + 1];
    for (int a = 0, from = 0; a < s.length; a++) {
      if (a == axis) {
        s[a] = 1;
        st[a] = 0;
      } else {
        s[a] = shape[from];
        st[a] = strides[from++];
      }
    }
    return new Tensor(dtype, data, s, st, offset);
  }

  // ---- geometry

  /** The element type. */
  public DType dtype() {
    return dtype;
  }

  /** The number of axes. */
  public int rank() {
    return shape.length;
  }

  /** The length of axis {@code axis}. */
  public int dim(int axis) {
    checkAxis(axis);
    return shape[axis];
  }

  /** The shape, one length per axis (a copy). */
  public int[] shape() {
    return shape.clone();
  }

  /** The stride of axis {@code axis}, in elements of the backing array. */
  public long stride(int axis) {
    checkAxis(axis);
    return strides[axis];
  }

  /** The strides, in elements of the backing array (a copy). */
  public long[] strides() {
    return strides.clone();
  }

  /** Index into the backing array of element {@code (0, ..., 0)}. */
  public long offset() {
    return offset;
  }

  /** Number of elements. */
  public long size() {
    return size;
  }

  /** True when the elements are laid out in C order with no gaps. */
  public boolean isContiguous() {
    long expect = 1;
    for (int a = shape.length - 1; a >= 0; a--) {
      if (shape[a] != 1 && strides[a] != expect) {
        return false;
      }
      expect *= shape[a];
    }
    return true;
  }

  /** Index into the backing array of the element at {@code index}. */
  public long storageIndex(int... index) {
    if (index.length != shape.length) {
      throw new IllegalArgumentException("index rank " + index.length + " != tensor rank "
          + shape.length);
    }
    long at = offset;
    for (int a = 0; a < index.length; a++) {
      if (index[a] < 0 || index[a] >= shape[a]) {
        throw new IndexOutOfBoundsException("index " + index[a] + " out of range for axis " + a
            + " of length " + shape[a]);
      }
      at += index[a] * strides[a];
    }
    return at;
  }

  // ---- storage

  /** The backing array of an F32 tensor. */
  public float[] floatData() {
    requireDtype(DType.F32);
    return (float[]) data;
  }

  /** The backing array of raw bits of an F16 or BF16 tensor. */
  public short[] shortData() {
    if (dtype != DType.F16 && dtype != DType.BF16) {
      throw new IllegalStateException("tensor dtype is " + dtype + ", not F16 or BF16");
    }
    return (short[]) data;
  }

  /** The backing array of an F64 tensor. */
  public double[] doubleData() {
    requireDtype(DType.F64);
    return (double[]) data;
  }

  /** Length of the backing array. */
  public int storageLength() {
    return dataLength;
  }

  /** The value at a backing-array index, as float. */
  public float getFloatAt(long storageIndex) {
    int at = (int) storageIndex;
    return switch (dtype) {
      case F32 -> ((float[]) data)[at];
      case F16 -> Float.float16ToFloat(((short[]) data)[at]);
      case BF16 -> DType.bf16ToFloat(((short[]) data)[at]);
      case F64 -> (float) ((double[]) data)[at];
    };
  }

  /** The value at a backing-array index, as double (exact for every dtype). */
  public double getDoubleAt(long storageIndex) {
    int at = (int) storageIndex;
    return switch (dtype) {
      case F32 -> ((float[]) data)[at];
      case F16 -> Float.float16ToFloat(((short[]) data)[at]);
      case BF16 -> DType.bf16ToFloat(((short[]) data)[at]);
      case F64 -> ((double[]) data)[at];
    };
  }

  /** Stores a value at a backing-array index, rounding to the tensor's dtype. */
  public void setAt(long storageIndex, double value) {
    int at = (int) storageIndex;
    switch (dtype) {
      case F32 -> ((float[]) data)[at] = (float) value;
      case F16 -> ((short[]) data)[at] = Float.floatToFloat16((float) value);
      case BF16 -> ((short[]) data)[at] = DType.floatToBf16((float) value);
      case F64 -> ((double[]) data)[at] = value;
    }
  }

  /** The element at {@code index} (one index per axis), as a double. */
  public double getDouble(int... index) {
    return getDoubleAt(storageIndex(index));
  }

  /** The element at {@code index} (one index per axis), as a float. */
  public float getFloat(int... index) {
    return getFloatAt(storageIndex(index));
  }

  /** Writes {@code value}, rounded to the dtype, at {@code index} (one index per axis). */
  public void set(double value, int... index) {
    setAt(storageIndex(index), value);
  }

  /** Copies the values of {@code src} (same shape, any dtype) into this view. */
  public void copyFrom(Tensor src) {
    if (!Arrays.equals(shape, src.shape)) {
      throw new IllegalArgumentException("shape " + Arrays.toString(src.shape) + " != "
          + Arrays.toString(shape));
    }
    long ds = innerStride();
    long ss = src.innerStride();
    boolean same = dtype == src.dtype && ds == 1 && ss == 1
        && (dtype == DType.F32 || dtype == DType.F64);
    walk(this, src, (at, from, n) -> {
      if (same) {
        System.arraycopy(src.data, (int) from, data, (int) at, n);
        return;
      }
      for (int e = 0; e < n; e++) {
        setAt(at + e * ds, src.getDoubleAt(from + e * ss));
      }
    });
  }

  /** All values in C order, as float. */
  public float[] toFloatArray() {
    float[] out = new float[checkedSize()];
    long ds = innerStride();
    int[] next = {0};
    walk(this, null, (at, from, n) -> {
      int o = next[0];
      if (dtype == DType.F32 && ds == 1) {
        System.arraycopy(data, (int) at, out, o, n);
      } else {
        for (int e = 0; e < n; e++) {
          out[o + e] = getFloatAt(at + e * ds);
        }
      }
      next[0] = o + n;
    });
    return out;
  }

  /** All values in C order, as double. */
  public double[] toDoubleArray() {
    double[] out = new double[checkedSize()];
    long ds = innerStride();
    int[] next = {0};
    walk(this, null, (at, from, n) -> {
      int o = next[0];
      for (int e = 0; e < n; e++) {
        out[o + e] = getDoubleAt(at + e * ds);
      }
      next[0] = o + n;
    });
    return out;
  }

  /** Fills every element of the view with {@code value}. */
  public void fill(double value) {
    long ds = innerStride();
    walk(this, null, (at, from, n) -> {
      for (int e = 0; e < n; e++) {
        setAt(at + e * ds, value);
      }
    });
  }

  /** One run of elements along the last axis: backing-array starts in two tensors. */
  private interface Run {
    void visit(long at, long from, int n);
  }

  /**
   * Visits the rows of {@code a} along its last axis in C order (the whole tensor as one run of
   * one element for rank 0), with the start of the same row in {@code b} (same shape; 0 when
   * {@code b} is null). No per-element memory.
   */
  private static void walk(Tensor a, Tensor b, Run run) {
    if (a.size == 0) {
      return;
    }
    int r = a.shape.length;
    long from = b == null ? 0 : b.offset;
    if (r == 0) {
      run.visit(a.offset, from, 1);
      return;
    }
    int n = a.shape[r - 1];
    long rows = a.size / n;
    int[] index = new int[r];
    long at = a.offset;
    for (long row = 0; row < rows; row++) {
      run.visit(at, from, n);
      for (int x = r - 2; x >= 0; x--) {
        if (++index[x] < a.shape[x]) {
          at += a.strides[x];
          from += b == null ? 0 : b.strides[x];
          break;
        }
        at -= (long) (a.shape[x] - 1) * a.strides[x];
        from -= b == null ? 0 : (long) (b.shape[x] - 1) * b.strides[x];
        index[x] = 0;
      }
    }
  }

  /** The stride of the last axis (1 for rank 0). */
  private long innerStride() {
    return shape.length == 0 ? 1 : strides[shape.length - 1];
  }

  private int checkedSize() {
    if (size > MAX_ARRAY_LENGTH) {
      throw new IllegalStateException("tensor of " + size + " elements is too large to copy");
    }
    return (int) size;
  }

  /** Backing-array indices of all elements, in C order of the view. */
  public long[] storageIndices() {
    long[] out = new long[checkedSize()];
    if (size == 0) {
      return out;
    }
    int[] index = new int[shape.length];
    long at = offset;
    for (int e = 0; e < out.length; e++) {
      out[e] = at;
      for (int a = shape.length - 1; a >= 0; a--) {
        if (++index[a] < shape[a]) {
          at += strides[a];
          break;
        }
        at -= (long) (shape[a] - 1) * strides[a];
        index[a] = 0;
      }
    }
    return out;
  }

  @Override
  public String toString() {
    return "Tensor[" + dtype + " " + Arrays.toString(shape) + " strides="
        + Arrays.toString(strides) + " offset=" + offset + "]";
  }

  // ---- helpers

  /** Product of the dimensions, with overflow and negative-dimension checks. */
  public static long elementCount(int... shape) {
    long n = 1;
    for (int a = 0; a < shape.length; a++) {
      if (shape[a] < 0) {
        throw new IllegalArgumentException("dimension " + a + " is negative: " + shape[a]);
      }
      try {
        n = Math.multiplyExact(n, shape[a]);
      } catch (ArithmeticException e) {
        throw new IllegalArgumentException("shape " + Arrays.toString(shape)
            + " has more elements than a long can count", e);
      }
    }
    return n;
  }

  /** C-order strides in elements for {@code shape}. */
  public static long[] contiguousStrides(int... shape) {
    elementCount(shape);
    long[] st = new long[shape.length];
    long s = 1;
    for (int a = shape.length - 1; a >= 0; a--) {
      st[a] = s;
      s *= Math.max(1, shape[a]);
    }
    return st;
  }

  private void checkAxis(int axis) {
    if (axis < 0 || axis >= shape.length) {
      throw new IllegalArgumentException("axis " + axis + " out of range for rank " + shape.length);
    }
  }

  private void requireDtype(DType expected) {
    if (dtype != expected) {
      throw new IllegalStateException("tensor dtype is " + dtype + ", not " + expected);
    }
  }

  private void checkBounds() {
    if (size == 0) {
      return;
    }
    long lo = offset;
    long hi = offset;
    try {
      for (int a = 0; a < shape.length; a++) {
        long span = Math.multiplyExact((long) (shape[a] - 1), strides[a]);
        if (span < 0) {
          lo = Math.addExact(lo, span);
        } else {
          hi = Math.addExact(hi, span);
        }
      }
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException("view " + Arrays.toString(shape) + " strides "
          + Arrays.toString(strides) + " overflows a long index", e);
    }
    if (lo < 0 || hi >= dataLength) {
      throw new IllegalArgumentException("view " + Arrays.toString(shape) + " strides "
          + Arrays.toString(strides) + " offset " + offset + " reaches elements [" + lo + ", "
          + hi + "], outside the backing array of length " + dataLength);
    }
  }
}
