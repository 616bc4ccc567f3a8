package dev.attention4j.quant;

/**
 * The element formats of a {@link QuantizedTensor} and how each block's scale is formed
 * (kernel-notes §7.1).
 *
 * <ul>
 *   <li>{@link #INT8}, {@link #INT4}: symmetric, float32 scale {@code amax / 127} (or 7), codes
 *       rounded half away from zero ({@link IntQuant});
 *   <li>{@link #FP8_E4M3}, {@link #FP8_E5M2}, {@link #FP4_E2M1}: float32 scale
 *       {@code amax / max} (448, 57344, 6), elements {@code encode(x / scale)} with saturation;
 *   <li>{@link #NVFP4}: E2M1 elements, one FP8 E4M3 scale per block ({@code 16} elements along
 *       one axis by convention), {@code s = E4M3(amax / 6)}, elements {@code E2M1(x * (1 / s))},
 *       with {@code 1 / s = 0} when {@code s = 0} (as SageAttention3; no global tensor scale);
 *   <li>{@link #MXFP4}: E2M1 elements, one E8M0 scale per block ({@code 32} elements by
 *       convention; OCP MX v1.0): {@code X = 2^(floor(log2 amax) - 2)} (2 = the largest E2M1
 *       exponent), elements {@code E2M1(x / X)} with saturation; the scale byte is
 *       {@code exponent + 127}, clamped to {@code [0, 254]}, and {@code 0xFF} (NaN) for a block
 *       holding NaN or infinity; a zero block has scale byte 0.
 * </ul>
 *
 * 4-bit codes are stored two per byte, the first element in the low nibble.
 */
public enum QuantFormat {
  INT8("int8", 8),
  INT4("int4", 4),
  FP8_E4M3("fp8_e4m3", 8),
  FP8_E5M2("fp8_e5m2", 8),
  FP4_E2M1("fp4_e2m1", 4),
  NVFP4("nvfp4", 4),
  MXFP4("mxfp4", 4);

  private final String id;
  private final int bits;

  QuantFormat(String id, int bits) {
    this.id = id;
    this.bits = bits;
  }

  /** The name used in files and on the command line, such as {@code "nvfp4"}. */
  public String id() {
    return id;
  }

  /** Bits per element code (8 or 4). */
  public int bits() {
    return bits;
  }

  /** The format named {@code id}. */
  public static QuantFormat byId(String id) {
    for (QuantFormat f : values()) {
      if (f.id.equals(id)) {
        return f;
      }
    }
    throw new IllegalArgumentException("unknown quantized format \"" + id + "\"");
  }

  /** The element minifloat, or null for the integer formats. */
  MiniFloat element() {
    return switch (this) {
      case INT8, INT4 -> null;
      case FP8_E4M3 -> MiniFloat.E4M3;
      case FP8_E5M2 -> MiniFloat.E5M2;
      case FP4_E2M1, NVFP4, MXFP4 -> MiniFloat.E2M1;
    };
  }

  /** Whether the scales are float32 (otherwise one byte: E4M3 for NVFP4, E8M0 for MXFP4). */
  boolean floatScales() {
    return this != NVFP4 && this != MXFP4;
  }
}
