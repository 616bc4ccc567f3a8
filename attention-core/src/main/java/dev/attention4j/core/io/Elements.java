package dev.attention4j.core.io;

import dev.attention4j.core.DType;
import dev.attention4j.core.Tensor;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Helpers shared by the readers and writers: C-order traversal, element encoding, sizes. */
final class Elements {

  private Elements() {}

  /** Target encodings of a tensor's values. */
  enum Encoding {
    /** IEEE binary32, little-endian. */
    F32(4),
    /** IEEE binary64, little-endian. */
    F64(8),
    /** IEEE binary16 bits, little-endian. */
    F16(2),
    /** bfloat16 bits, little-endian. */
    BF16(2);

    final int itemSize;

    Encoding(int itemSize) {
      this.itemSize = itemSize;
    }
  }

  /** Receives the backing-array index of each element. */
  @FunctionalInterface
  interface IndexSink {
    void accept(long storageIndex) throws IOException;
  }

  /** Calls {@code sink} with the backing-array index of every element of {@code t}, in C order. */
  static void forEachIndex(Tensor t, IndexSink sink) throws IOException {
    long n = t.size();
    if (n == 0) {
      return;
    }
    int[] shape = t.shape();
    long[] strides = t.strides();
    int[] index = new int[shape.length];
    long at = t.offset();
    for (long e = 0; e < n; e++) {
      sink.accept(at);
      for (int a = shape.length - 1; a >= 0; a--) {
        if (++index[a] < shape[a]) {
          at += strides[a];
          break;
        }
        at -= (long) (shape[a] - 1) * strides[a];
        index[a] = 0;
      }
    }
  }

  /**
   * Streams the values of {@code t} in C order to {@code out}, little-endian, converted to
   * {@code enc}. F16 to F16 and BF16 to BF16 copy the raw bits (NaN payloads survive); other
   * conversions round through float ({@code float -> binary16/bfloat16} with
   * round-to-nearest-even), except F64 which is exact from every dtype.
   */
  static void writeValues(Tensor t, Encoding enc, OutputStream out) throws IOException {
    ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
    DType src = t.dtype();
    short[] bits = src == DType.F16 || src == DType.BF16 ? t.shortData() : null;
    forEachIndex(t, i -> {
      if (buf.remaining() < 8) {
        out.write(buf.array(), 0, buf.position());
        buf.clear();
      }
      switch (enc) {
        case F32 -> buf.putFloat(t.getFloatAt(i));
        case F64 -> buf.putDouble(t.getDoubleAt(i));
        case F16 -> buf.putShort(src == DType.F16 ? bits[(int) i]
            : Float.floatToFloat16(t.getFloatAt(i)));
        case BF16 -> buf.putShort(src == DType.BF16 ? bits[(int) i]
            : DType.floatToBf16(t.getFloatAt(i)));
      }
    });
    out.write(buf.array(), 0, buf.position());
  }

  /** {@code t}'s values as little-endian bytes of {@code enc}, in C order. */
  static byte[] encode(Tensor t, Encoding enc) {
    long bytes = Math.multiplyExact(t.size(), enc.itemSize);
    if (bytes > Tensor.MAX_ARRAY_LENGTH) {
      throw new IllegalArgumentException("tensor " + java.util.Arrays.toString(t.shape()) + " is "
          + bytes + " bytes as " + enc + ", more than one array can hold ("
          + Tensor.MAX_ARRAY_LENGTH + ")");
    }
    var out = new java.io.ByteArrayOutputStream((int) bytes);
    try {
      writeValues(t, enc, out);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e); // cannot happen for a byte array stream
    }
    return out.toByteArray();
  }

  /**
   * Number of elements of {@code shape}, or -1 if it overflows a long. Dimensions must already
   * be known to be non-negative.
   */
  static long elementCountOrMinus1(long[] shape) {
    for (long d : shape) {
      if (d == 0) {
        return 0;
      }
    }
    long n = 1;
    for (long d : shape) {
      try {
        n = Math.multiplyExact(n, d);
      } catch (ArithmeticException e) {
        return -1;
      }
    }
    return n;
  }

  /** Byte count of {@code elements} items of {@code itemSize} bytes, or -1 on overflow. */
  static long byteCountOrMinus1(long elements, int itemSize) {
    if (elements < 0) {
      return -1;
    }
    try {
      return Math.multiplyExact(elements, itemSize);
    } catch (ArithmeticException e) {
      return -1;
    }
  }

  /** Python's repr of a shape tuple: {@code ()}, {@code (5,)}, {@code (2, 3)}. */
  static String pyShape(long[] shape) {
    StringBuilder sb = new StringBuilder("(");
    for (int a = 0; a < shape.length; a++) {
      sb.append(a == 0 ? "" : ", ").append(shape[a]);
    }
    return sb.append(shape.length == 1 ? ",)" : ")").toString();
  }

  /** Python's repr of a shape tuple. */
  static String pyShape(int[] shape) {
    long[] l = new long[shape.length];
    for (int a = 0; a < shape.length; a++) {
      l[a] = shape[a];
    }
    return pyShape(l);
  }

  /** A JSON-style shape: {@code []}, {@code [5]}, {@code [2, 3]}. */
  static String jsonShape(long[] shape) {
    StringBuilder sb = new StringBuilder("[");
    for (int a = 0; a < shape.length; a++) {
      sb.append(a == 0 ? "" : ", ").append(shape[a]);
    }
    return sb.append(']').toString();
  }

  /** A JSON-style shape. */
  static String jsonShape(int[] shape) {
    return java.util.Arrays.toString(shape);
  }
}
