package dev.attention4j.core.io;

import dev.attention4j.core.DType;
import dev.attention4j.core.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The contents of a safetensors file as read by {@link Safetensors#read(Path)}: the
 * {@code __metadata__} strings and the tensors, each an {@link Entry} of dtype, shape and raw
 * little-endian C-order bytes.
 */
public final class SafetensorsFile {

  private final Path source;
  private final Map<String, String> metadata;
  private final Map<String, Entry> entries;

  SafetensorsFile(Path source, Map<String, String> metadata, Map<String, Entry> entries) {
    this.source = source;
    this.metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    this.entries = Collections.unmodifiableMap(new LinkedHashMap<>(entries));
  }

  /** The file this was read from. */
  public Path source() {
    return source;
  }

  /** The {@code __metadata__} map (empty if the file has none), in header order. Unmodifiable. */
  public Map<String, String> metadata() {
    return metadata;
  }

  /** The tensor names, in header order. Unmodifiable. */
  public Set<String> names() {
    return entries.keySet();
  }

  /** Whether the file has a tensor called {@code name}. */
  public boolean contains(String name) {
    return entries.containsKey(name);
  }

  /**
   * The tensor called {@code name}.
   *
   * @throws TensorFileException naming the file and the missing tensor
   */
  public Entry entry(String name) throws TensorFileException {
    Entry e = entries.get(name);
    if (e == null) {
      String have = entries.keySet().stream().limit(20).map(n -> "'" + n + "'")
          .collect(Collectors.joining(", "));
      throw TensorFileException.of(source, "no tensor named '" + name + "' (the file has "
          + entries.size() + (entries.size() == 1 ? " tensor" : " tensors")
          + (entries.isEmpty() ? "" : ": " + have + (entries.size() > 20 ? ", ..." : "")) + ")");
    }
    return e;
  }

  /**
   * The tensor called {@code name} as a new contiguous {@link Tensor}: F32, F16, BF16 and F64
   * map to the {@link DType} of the same name.
   *
   * @throws TensorFileException if there is no such tensor or its dtype has no {@link DType}
   */
  public Tensor tensor(String name) throws TensorFileException {
    Entry e = entry(name);
    if (!Entry.TENSOR_DTYPES.contains(e.dtype())) {
      throw TensorFileException.of(source, "tensor '" + name + "' has dtype " + e.dtype()
          + "; only F32, F16, BF16 and F64 convert to a Tensor");
    }
    return e.toTensor();
  }

  @Override
  public String toString() {
    return "SafetensorsFile[" + source + ", " + entries.size() + " tensors, metadata "
        + metadata.keySet() + "]";
  }

  /**
   * One tensor: a safetensors dtype string, a shape, and {@code numel(shape) * itemsize} bytes of
   * little-endian C-order data. The data array is not copied (neither on construction nor by
   * {@link #data()}); the shape is.
   *
   * <p>Supported dtypes: {@code F64 F32 F16 BF16 I64 I32 I16 I8 U64 U32 U16 U8 BOOL F8_E4M3
   * F8_E5M2}. The one-byte types are kept as raw bytes.
   *
   * @param dtype a supported safetensors dtype string, e.g. {@code "F32"} or {@code "F8_E4M3"}
   * @param shape non-negative dimensions ({@code []} for a scalar)
   * @param data exactly {@code numel(shape) * itemsize(dtype)} bytes
   */
  public record Entry(String dtype, int[] shape, byte[] data) {

    static final Set<String> TENSOR_DTYPES = Set.of("F32", "F16", "BF16", "F64");

    /**
     * Validates the dtype, the shape and the data length.
     *
     * @throws IllegalArgumentException if any of them is wrong
     */
    public Entry {
      Objects.requireNonNull(dtype, "dtype");
      Objects.requireNonNull(shape, "shape");
      Objects.requireNonNull(data, "data");
      StDType t = StDType.byName(dtype);
      if (t == null) {
        throw new IllegalArgumentException(StDType.problem(dtype));
      }
      shape = shape.clone();
      long n = Tensor.elementCount(shape); // rejects negative dims and long overflow
      long bytes = Elements.byteCountOrMinus1(n, t.itemSize);
      if (bytes != data.length) {
        throw new IllegalArgumentException("data is " + data.length + " bytes, shape "
            + Arrays.toString(shape) + " of " + dtype + " needs "
            + (bytes < 0 ? "more than " + Long.MAX_VALUE : Long.toString(bytes)));
      }
    }

    /**
     * The values of {@code t} (any dtype, any strides) converted to {@code dtype}, in C order.
     * F16 to F16 and BF16 to BF16 copy the bits; other conversions round to nearest-even through
     * float, except F64, which is exact.
     *
     * @param dtype {@code "F32"}, {@code "F16"}, {@code "BF16"} or {@code "F64"}
     * @throws IllegalArgumentException for another dtype or a tensor too large for one array
     */
    public static Entry of(Tensor t, String dtype) {
      Objects.requireNonNull(t, "tensor");
      Elements.Encoding enc = switch (Objects.requireNonNull(dtype, "dtype")) {
        case "F32" -> Elements.Encoding.F32;
        case "F16" -> Elements.Encoding.F16;
        case "BF16" -> Elements.Encoding.BF16;
        case "F64" -> Elements.Encoding.F64;
        default -> throw new IllegalArgumentException("cannot convert a Tensor to dtype "
            + dtype + " (supported: F32, F16, BF16, F64)");
      };
      return new Entry(dtype, t.shape(), Elements.encode(t, enc));
    }

    /** The shape. A copy. */
    @Override
    public int[] shape() {
      return shape.clone();
    }

    /** Number of elements. */
    public long size() {
      return Tensor.elementCount(shape);
    }

    /** Bytes per element. */
    public int itemSize() {
      return StDType.byName(dtype).itemSize;
    }

    /**
     * A new contiguous tensor for an F32, F16, BF16 or F64 entry.
     *
     * @throws IllegalArgumentException for other dtypes
     */
    public Tensor toTensor() {
      ByteBuffer buf = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
      int n = (int) size();
      switch (dtype) {
        case "F32" -> {
          float[] out = new float[n];
          buf.asFloatBuffer().get(out);
          return Tensor.of(out, shape);
        }
        case "F64" -> {
          double[] out = new double[n];
          buf.asDoubleBuffer().get(out);
          return Tensor.of(out, shape);
        }
        case "F16", "BF16" -> {
          short[] out = new short[n];
          buf.asShortBuffer().get(out);
          return Tensor.ofBits(dtype.equals("F16") ? DType.F16 : DType.BF16, out, shape);
        }
        default -> throw new IllegalArgumentException("dtype " + dtype + " does not convert to a "
            + "Tensor; only F32, F16, BF16 and F64 do");
      }
    }

    /**
     * Every value as a double, in C order: floats exactly (F8_E4M3 and F8_E5M2 decoded, NaN for
     * their NaN codes), integers converted ({@code U64} above 2^63 as unsigned), BOOL as 0 or 1.
     */
    public double[] toDoubleArray() {
      StDType t = StDType.byName(dtype);
      ByteBuffer buf = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
      double[] out = new double[(int) size()];
      for (int e = 0; e < out.length; e++) {
        out[e] = switch (t) {
          case F64 -> buf.getDouble();
          case F32 -> buf.getFloat();
          case F16 -> Float.float16ToFloat(buf.getShort());
          case BF16 -> DType.bf16ToFloat(buf.getShort());
          case F8_E4M3 -> StDType.e4m3ToFloat(buf.get());
          case F8_E5M2 -> StDType.e5m2ToFloat(buf.get());
          case U64 -> {
            long v = buf.getLong();
            yield v >= 0 ? v : (double) (v >>> 1) * 2.0 + (v & 1);
          }
          default -> readInteger(t, buf);
        };
      }
      return out;
    }

    /**
     * Every value of an integer entry (I8 I16 I32 I64 U8 U16 U32 U64 BOOL) in C order; unsigned
     * values are zero-extended, BOOL bytes map to 0 or 1.
     *
     * @throws IllegalArgumentException for float dtypes, or a U64 value above
     *     {@link Long#MAX_VALUE}
     */
    public long[] toLongArray() {
      StDType t = StDType.byName(dtype);
      if (!t.isInteger()) {
        throw new IllegalArgumentException("dtype " + dtype + " is not an integer type");
      }
      ByteBuffer buf = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
      long[] out = new long[(int) size()];
      for (int e = 0; e < out.length; e++) {
        out[e] = readInteger(t, buf);
        if (t == StDType.U64 && out[e] < 0) {
          throw new IllegalArgumentException("U64 value " + Long.toUnsignedString(out[e])
              + " at index " + e + " does not fit in a long");
        }
      }
      return out;
    }

    private static long readInteger(StDType t, ByteBuffer buf) {
      return switch (t) {
        case I8 -> buf.get();
        case U8 -> buf.get() & 0xFFL;
        case BOOL -> buf.get() != 0 ? 1 : 0;
        case I16 -> buf.getShort();
        case U16 -> buf.getShort() & 0xFFFFL;
        case I32 -> buf.getInt();
        case U32 -> buf.getInt() & 0xFFFF_FFFFL;
        case I64, U64 -> buf.getLong();
        default -> throw new IllegalArgumentException("dtype " + t + " is not an integer type");
      };
    }

    /** Equal when dtype, shape and data bytes are equal. */
    @Override
    public boolean equals(Object o) {
      return o instanceof Entry e && dtype.equals(e.dtype) && Arrays.equals(shape, e.shape)
          && Arrays.equals(data, e.data);
    }

    @Override
    public int hashCode() {
      return Objects.hash(dtype, Arrays.hashCode(shape), Arrays.hashCode(data));
    }

    @Override
    public String toString() {
      return "Entry[" + dtype + " " + Arrays.toString(shape) + ", " + data.length + " bytes]";
    }
  }
}
