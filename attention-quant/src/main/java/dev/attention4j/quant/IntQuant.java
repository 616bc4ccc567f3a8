package dev.attention4j.quant;

/**
 * Symmetric integer quantization, scalar reference (kernel-notes §7.1): for a group with largest
 * magnitude {@code amax}, {@code scale = amax / qmax} in float32 ({@code qmax} = 127 for INT8,
 * 7 for INT4), {@code code = clamp(roundHalfAwayFromZero(x / scale), -qmax, qmax)} with the
 * division in float32, and {@code x' = code * scale}. A group of zeros has scale 0 and codes 0.
 * A NaN or infinity in a group makes its scale NaN or infinite, so every dequantized value of the
 * group is NaN: nothing non-finite is ever silently turned into a finite number.
 *
 * <p>Rounding is exact round-half-away-from-zero of the float32 quotient. (SageAttention's Triton
 * kernels compute {@code trunc(y + 0.5 sign(y))} in float32, which differs for the single value
 * {@code y = ±0.49999997} per quotient, where the float addition rounds up.)
 */
public final class IntQuant {

  /** INT8 code range {@code [-127, 127]}. */
  public static final int INT8_MAX = 127;
  /** INT4 code range {@code [-7, 7]}. */
  public static final int INT4_MAX = 7;

  private IntQuant() {
  }

  /** {@code amax / qmax} in float32 (0 for a zero group). */
  public static float scale(float amax, int qmax) {
    return amax / qmax;
  }

  /** Round half away from zero, exactly (NaN gives 0, as a Java cast). */
  public static int roundHalfAway(float y) {
    double a = Math.floor(Math.abs((double) y) + 0.5);
    return (int) Math.copySign(a, y);
  }

  /** The code of {@code x} for {@code scale} (0 when the scale is 0). */
  public static int encode(float x, float scale, int qmax) {
    if (scale == 0f) {
      return 0;
    }
    int c = roundHalfAway(x / scale);
    return Math.max(-qmax, Math.min(qmax, c));
  }

  /** Largest magnitude of {@code x[off .. off + n)} (NaN if any element is NaN). */
  public static float amax(float[] x, int off, int n) {
    float m = 0f;
    for (int i = 0; i < n; i++) {
      m = Math.max(m, Math.abs(x[off + i]));
    }
    return m;
  }

  /** Codes of {@code x[off .. off + n)} into {@code out[oOff ..]}. */
  public static void encode(float[] x, int off, int n, float scale, int qmax, byte[] out,
      int oOff) {
    for (int i = 0; i < n; i++) {
      out[oOff + i] = (byte) encode(x[off + i], scale, qmax);
    }
  }
}
