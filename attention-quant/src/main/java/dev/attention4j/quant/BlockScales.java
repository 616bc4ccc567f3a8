package dev.attention4j.quant;

/**
 * Per-block scale rules of the block formats (scalar; shared by the scalar and vector paths,
 * since a block has one scale). See {@link QuantFormat}.
 */
public final class BlockScales {

  private BlockScales() {
  }

  /**
   * The NVFP4 block scale code: {@code E4M3(amax / 6)}, saturating for finite {@code amax};
   * NaN ({@code 0x7F}) for NaN or infinity, so a non-finite element is not saturated into a
   * finite block (as the MXFP4 scale does).
   */
  public static int nvfp4Scale(float amax) {
    if (!Float.isFinite(amax)) {
      return 0x7F;
    }
    return MiniFloat.E4M3.encode(amax / 6f, true);
  }

  /** The multiplier applied to NVFP4 elements: {@code 1 / s}, or 0 when {@code s == 0}. */
  public static float nvfp4Inverse(int scaleCode) {
    float s = MiniFloat.E4M3.decode(scaleCode);
    return s == 0f ? 0f : 1f / s;
  }

  /**
   * The MXFP4 block scale byte (E8M0): {@code floor(log2 amax) - 2 + 127}, clamped to
   * {@code [0, 254]}; 0 for a zero block; {@code 0xFF} for NaN or infinity.
   */
  public static int mxfp4Scale(float amax) {
    if (!Float.isFinite(amax)) {
      return 0xFF;
    }
    if (amax == 0f) {
      return 0;
    }
    int bits = Float.floatToRawIntBits(amax);
    int e = bits >>> 23;
    int log2 = e == 0 ? (31 - Integer.numberOfLeadingZeros(bits)) - 149 : e - 127;
    return Math.max(0, Math.min(254, log2 - 2 + 127));
  }

  /** The value of an E8M0 byte, {@code 2^(code - 127)}, NaN for {@code 0xFF}. */
  public static float e8m0(int code) {
    int c = code & 0xFF;
    if (c == 0xFF) {
      return Float.NaN;
    }
    return Math.scalb(1f, c - 127);
  }

  /** The multiplier applied to MXFP4 elements, {@code 2^(127 - code)} (exact). */
  public static float mxfp4Inverse(int scaleCode) {
    int c = scaleCode & 0xFF;
    if (c == 0xFF) {
      return Float.NaN;
    }
    return Math.scalb(1f, 127 - c);
  }
}
