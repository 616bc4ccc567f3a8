package dev.attention4j.core.io;

import dev.attention4j.core.DType;
import dev.attention4j.core.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;

/**
 * The contents of a {@code .npy} file as read by {@link Npy#read(Path)}: a normalized descriptor,
 * a shape, and the raw data as little-endian bytes in C (row-major) order, whatever the byte
 * order and {@code fortran_order} of the file were.
 *
 * <p>Conversions:
 *
 * <ul>
 *   <li>{@link #toTensor(boolean)}: {@code <f4} → {@link DType#F32}, {@code <f8} →
 *       {@link DType#F64}, {@code <f2} → {@link DType#F16}, and {@code <u2} (or {@code |V2}) →
 *       {@link DType#BF16} raw bits only when the caller asks for it;
 *   <li>{@link #toDoubleArray()}: the float kinds {@code f2 f4 f8};
 *   <li>{@link #toLongArray()}: the integer kinds {@code i1 u1 b1 i2 u2 i4 u4 i8} ({@code b1}
 *       bytes map to 0 for zero and 1 for anything else).
 * </ul>
 *
 * Every other combination is a {@link TensorFileException} naming the file and the dtype.
 */
public final class NpyArray {

  private final Path source;
  private final NpyType type;
  private final int[] shape;
  private final byte[] data;

  NpyArray(Path source, NpyType type, int[] shape, byte[] data) {
    this.source = source;
    this.type = type;
    this.shape = shape;
    this.data = data;
  }

  /** The file this array was read from. */
  public Path source() {
    return source;
  }

  /**
   * The normalized descriptor: {@code <f2 <f4 <f8 <i2 <i4 <i8 <u2 <u4} (big-endian files are
   * reported with {@code <} because the data has been byte-swapped), or {@code |i1 |u1 |b1 |V2}.
   */
  public String descr() {
    return type.descr();
  }

  /** The shape ({@code []} for a scalar). A copy. */
  public int[] shape() {
    return shape.clone();
  }

  /** Number of elements. */
  public long size() {
    return Tensor.elementCount(shape);
  }

  /** Bytes per element. */
  public int itemSize() {
    return type.itemSize;
  }

  /** True for {@code f2 f4 f8}. */
  public boolean isFloat() {
    return type.isFloat();
  }

  /** A copy of the data: little-endian, C order, {@code size() * itemSize()} bytes. */
  public byte[] rawBytes() {
    return data.clone();
  }

  /** Same as {@link #toTensor(boolean) toTensor(false)}. */
  public Tensor toTensor() throws TensorFileException {
    return toTensor(false);
  }

  /**
   * A new contiguous tensor holding the values.
   *
   * @param u2AsBf16 read {@code <u2} (and {@code |V2}) as bfloat16 bits; otherwise they are
   *     rejected like the other integer kinds
   * @throws TensorFileException for integer kinds (and {@code <u2} without {@code u2AsBf16})
   */
  public Tensor toTensor(boolean u2AsBf16) throws TensorFileException {
    ByteBuffer buf = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
    int n = (int) size();
    switch (type) {
      case F4 -> {
        float[] out = new float[n];
        buf.asFloatBuffer().get(out);
        return Tensor.of(out, shape);
      }
      case F8 -> {
        double[] out = new double[n];
        buf.asDoubleBuffer().get(out);
        return Tensor.of(out, shape);
      }
      case F2 -> {
        short[] out = new short[n];
        buf.asShortBuffer().get(out);
        return Tensor.ofBits(DType.F16, out, shape);
      }
      case U2, V2 -> {
        if (!u2AsBf16) {
          throw TensorFileException.of(source, "dtype " + descr() + " holds 16-bit integers; "
              + "it is read as bfloat16 bits only when asked to (--bf16)");
        }
        short[] out = new short[n];
        buf.asShortBuffer().get(out);
        return Tensor.ofBits(DType.BF16, out, shape);
      }
      default -> throw TensorFileException.of(source, "dtype " + descr() + " is an integer type; "
          + "a tensor needs <f4, <f8, <f2 or (with --bf16) <u2");
    }
  }

  /**
   * The values of a float array ({@code f2 f4 f8}) in C order, exactly.
   *
   * @throws TensorFileException for any other dtype
   */
  public double[] toDoubleArray() throws TensorFileException {
    if (!type.isFloat()) {
      throw TensorFileException.of(source, "dtype " + descr() + " is not a float type; "
          + "expected <f2, <f4 or <f8");
    }
    return toTensor(false).toDoubleArray();
  }

  /**
   * The values of an integer array ({@code i1 u1 b1 i2 u2 i4 u4 i8}) in C order; unsigned values
   * are zero-extended and {@code b1} maps to 0 or 1.
   *
   * @throws TensorFileException for float (and void) dtypes
   */
  public long[] toLongArray() throws TensorFileException {
    if (!type.isInteger()) {
      throw TensorFileException.of(source, "dtype " + descr() + " is not an integer type; "
          + "expected one of |i1 |u1 |b1 <i2 <u2 <i4 <u4 <i8");
    }
    ByteBuffer buf = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
    long[] out = new long[(int) size()];
    for (int e = 0; e < out.length; e++) {
      out[e] = switch (type) {
        case I1 -> buf.get();
        case U1 -> buf.get() & 0xFFL;
        case B1 -> buf.get() != 0 ? 1 : 0;
        case I2 -> buf.getShort();
        case U2 -> buf.getShort() & 0xFFFFL;
        case I4 -> buf.getInt();
        case U4 -> buf.getInt() & 0xFFFF_FFFFL;
        case I8 -> buf.getLong();
        default -> throw new AssertionError(type);
      };
    }
    return out;
  }

  @Override
  public String toString() {
    return "NpyArray[" + descr() + " " + Elements.pyShape(shape) + " from " + source + "]";
  }
}
