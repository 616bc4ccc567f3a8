package dev.attention4j.quant;

/**
 * A small binary floating-point format (sign, {@code e} exponent bits, {@code m} mantissa bits,
 * exponent bias), with the scalar reference encoder and decoder. The three formats of
 * kernel-notes §7.1 are constants:
 *
 * <ul>
 *   <li>{@link #E4M3}: OCP FP8 E4M3 "fn", bias 7, no infinities, NaN {@code S.1111.111}
 *       ({@code 0x7F}/{@code 0xFF}), largest finite 448, smallest normal 2^-6, smallest subnormal
 *       2^-9;
 *   <li>{@link #E5M2}: FP8 E5M2, bias 15, IEEE-like: infinity {@code 0x7C}, NaN
 *       {@code 0x7D..0x7F}, largest finite 57344;
 *   <li>{@link #E2M1}: FP4 E2M1 (OCP MX and NVFP4 element), bias 1, magnitudes
 *       {0, 0.5, 1, 1.5, 2, 3, 4, 6}, no infinity and no NaN.
 * </ul>
 *
 * <p><b>Encoding</b> rounds to nearest, ties to even, from the exact float32 value (never through
 * an intermediate format, so there is no double rounding). Codes are {@code sign << (e + m) |
 * magnitude}. A result beyond the largest finite value (after rounding) becomes, when
 * {@code saturate} is set (the mode used when quantizing with a scale), the largest finite value
 * of the same sign; otherwise E4M3 gives NaN ({@code sign | 0x7F}, as PyTorch's
 * {@code float8_e4m3fn} cast) and E5M2 gives infinity. Infinities behave like overflow. NaN
 * encodes as the format's canonical NaN ({@code 0x7F} for E4M3, {@code 0x7E} for E5M2); E2M1 has
 * no NaN and encodes NaN as {@code 0x7} (+6, saturation), so a NaN entering an NVFP4/MXFP4 block
 * is carried by the block scale instead (which is NaN then).
 *
 * <p>The vectorized twins are in {@link SimdCodecs} and are bit-exact with these methods.
 */
public final class MiniFloat {

  /** OCP FP8 E4M3 ("fn"). */
  public static final MiniFloat E4M3 = new MiniFloat("E4M3", 4, 3, 7, false, true, 0x7F);
  /** FP8 E5M2. */
  public static final MiniFloat E5M2 = new MiniFloat("E5M2", 5, 2, 15, true, true, 0x7E);
  /** FP4 E2M1. */
  public static final MiniFloat E2M1 = new MiniFloat("E2M1", 2, 1, 1, false, false, 0x7);

  final String name;
  final int expBits;
  final int manBits;
  final int bias;
  final boolean hasInf;
  /** Largest finite magnitude code. */
  final int maxCode;
  /** Code of +infinity (E5M2) or of NaN for overflow (E4M3), without sign; maxCode for E2M1. */
  final int overflowCode;
  final int nanCode;
  /** Whether the all-ones magnitude is the (only) NaN, as in E4M3. */
  final boolean hasNaNCode;
  final int signBit;
  /** float32 bits of the smallest normal value, 2^(1 - bias). */
  final int minNormalBits;
  /** Value of one subnormal step, 2^(1 - bias - m). */
  final float subnormalStep;
  final float maxValue;
  private final float[] table;

  private MiniFloat(String name, int expBits, int manBits, int bias, boolean hasInf,
      boolean hasNaN, int nanCode) {
    this.name = name;
    this.expBits = expBits;
    this.manBits = manBits;
    this.bias = bias;
    this.hasInf = hasInf;
    this.signBit = 1 << (expBits + manBits);
    int allOnes = signBit - 1;
    if (hasInf) {
      this.maxCode = allOnes - (1 << manBits); // below the all-ones exponent
      this.overflowCode = maxCode + 1; // infinity
    } else if (hasNaN) {
      this.maxCode = allOnes - 1; // E4M3: only S.1111.111 is NaN
      this.overflowCode = allOnes;
    } else {
      this.maxCode = allOnes; // E2M1: no specials
      this.overflowCode = allOnes;
    }
    this.nanCode = nanCode;
    this.hasNaNCode = hasNaN && !hasInf;
    this.minNormalBits = Float.floatToRawIntBits(Math.scalb(1f, 1 - bias));
    this.subnormalStep = Math.scalb(1f, 1 - bias - manBits);
    this.table = new float[2 * signBit];
    for (int c = 0; c < table.length; c++) {
      table[c] = decodeBits(c);
    }
    this.maxValue = table[maxCode];
  }

  /** The format's name ({@code "E4M3"}, {@code "E5M2"}, {@code "E2M1"}). */
  public String name() {
    return name;
  }

  /** Bits per code (8 or 4). */
  public int bits() {
    return 1 + expBits + manBits;
  }

  /** Largest finite value (448, 57344 or 6). */
  public float maxValue() {
    return maxValue;
  }

  /** Whether {@code code} (low {@link #bits()} bits) is NaN. */
  public boolean isNaN(int code) {
    return Float.isNaN(table[code & (2 * signBit - 1)]);
  }

  /** The value of a code (only the low {@link #bits()} bits are used). */
  public float decode(int code) {
    return table[code & (2 * signBit - 1)];
  }

  /** Every code's value, indexed by code. A copy. */
  public float[] table() {
    return table.clone();
  }

  /** The shared decode table (not copied), for the package's loops. */
  float[] tableUnsafe() {
    return table;
  }

  private float decodeBits(int c) {
    boolean neg = (c & signBit) != 0;
    int mag = c & (signBit - 1);
    int exp = mag >>> manBits;
    int man = mag & ((1 << manBits) - 1);
    float v;
    if (hasInf && exp == (1 << expBits) - 1) {
      v = man == 0 ? Float.POSITIVE_INFINITY : Float.NaN;
    } else if (hasNaNCode && mag == signBit - 1) {
      v = Float.NaN;
    } else if (exp == 0) {
      v = man * subnormalStep;
    } else {
      v = Math.scalb(1f + man / (float) (1 << manBits), exp - bias);
    }
    return neg ? -v : v;
  }

  /**
   * Encodes {@code x}: round to nearest even, then overflow per {@code saturate} (see the class
   * documentation).
   *
   * @return the code in the low {@link #bits()} bits
   */
  public int encode(float x, boolean saturate) {
    int bits = Float.floatToRawIntBits(x);
    int sign = bits < 0 ? signBit : 0;
    int a = bits & 0x7FFFFFFF;
    if (a > 0x7F800000) {
      return nanCode;
    }
    int mag;
    if (a < minNormalBits) {
      // subnormal range: a multiple of the subnormal step, rounded to nearest even
      mag = (int) Math.rint(Math.abs(x) / subnormalStep);
    } else {
      // drop the extra mantissa bits with round-to-nearest-even, then rebias the exponent
      int drop = 23 - manBits;
      int r = (a + ((1 << (drop - 1)) - 1) + ((a >>> drop) & 1)) >>> drop;
      mag = r - ((127 - bias) << manBits);
    }
    if (mag > maxCode) {
      mag = saturate ? maxCode : overflowCode;
    }
    return sign | mag;
  }

  /** {@code decode(encode(x, saturate))}. */
  public float round(float x, boolean saturate) {
    return decode(encode(x, saturate));
  }

  @Override
  public String toString() {
    return name;
  }
}
