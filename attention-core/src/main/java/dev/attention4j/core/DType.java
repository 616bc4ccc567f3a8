package dev.attention4j.core;

/**
 * Element storage types of a {@link Tensor}. Values are always read as float (or double) and
 * accumulated in float32 by the fast kernels and in float64 by the reference.
 */
public enum DType {
  /** IEEE binary32, backed by {@code float[]}. */
  F32(4),
  /** IEEE binary16, backed by {@code short[]} holding the raw bits. */
  F16(2),
  /** bfloat16 (the upper half of a binary32), backed by {@code short[]} holding the raw bits. */
  BF16(2),
  /** IEEE binary64, backed by {@code double[]}. */
  F64(8);

  private final int byteSize;

  DType(int byteSize) {
    this.byteSize = byteSize;
  }

  /** Bytes per element. */
  public int byteSize() {
    return byteSize;
  }

  /** Decodes bfloat16 bits. */
  public static float bf16ToFloat(short bits) {
    return Float.intBitsToFloat((bits & 0xFFFF) << 16);
  }

  /** Encodes a float as bfloat16 with round-to-nearest-even; NaN stays a (quiet) NaN. */
  public static short floatToBf16(float value) {
    int bits = Float.floatToRawIntBits(value);
    if (Float.isNaN(value)) {
      return (short) ((bits >>> 16) | 0x0040);
    }
    return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
  }
}
