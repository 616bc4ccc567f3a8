package dev.attention4j.quant;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API twins of the scalar codecs ({@link MiniFloat}, {@link IntQuant}), bit-exact with
 * them on every input (tests compare them over awkward lengths and every special value). Each
 * routine runs a vector loop to {@code loopBound(n)} and finishes with the scalar reference.
 *
 * <p>Tricks: the round-to-nearest-even to a narrower mantissa is an integer add on the float32
 * bits ({@code a + (half - 1) + lsb}, then a shift); the subnormal range rounds by adding the
 * magic constant {@code 2^23 * step} in float32, whose ulp is the subnormal step, and reading the
 * difference of the bit patterns; round-half-away is a truncating conversion plus a fraction test.
 */
public final class SimdCodecs {

  static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
  static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
  static final VectorSpecies<Byte> B =
      VectorSpecies.of(byte.class, VectorShape.forBitSize(F.length() * 8));

  private SimdCodecs() {
  }

  /** Lanes per vector step. */
  public static int lanes() {
    return F.length();
  }

  /**
   * {@code out[oOff + i] = fmt.encode(x[off + i] * mul, saturate)} for {@code i < n} (the
   * multiplication in float32; pass 1 for none).
   */
  public static void encode(MiniFloat fmt, float[] x, int off, int n, float mul,
      boolean saturate, byte[] out, int oOff) {
    int drop = 23 - fmt.manBits;
    int half = (1 << (drop - 1)) - 1;
    int rebias = (127 - fmt.bias) << fmt.manBits;
    int maxCode = fmt.maxCode;
    int over = saturate ? fmt.maxCode : fmt.overflowCode;
    int signBit = fmt.signBit;
    int nan = fmt.nanCode;
    int minNormal = fmt.minNormalBits;
    float magic = fmt.subnormalStep * 0x1p23f;
    int magicBits = Float.floatToRawIntBits(magic);
    int i = 0;
    int bound = F.loopBound(n);
    // vector loop
    for (; i < bound; i += F.length()) {
      FloatVector v = FloatVector.fromArray(F, x, off + i);
      if (mul != 1f) {
        v = v.mul(mul);
      }
      IntVector bits = v.reinterpretAsInts();
      IntVector a = bits.and(0x7FFFFFFF);
      // normal range
      IntVector r = a.add(half).add(a.lanewise(VectorOperators.LSHR, drop).and(1))
          .lanewise(VectorOperators.LSHR, drop).sub(rebias);
      // subnormal range: the float add rounds to a multiple of the step
      IntVector sub = a.reinterpretAsFloats().add(magic).reinterpretAsInts().sub(magicBits);
      IntVector mag = r.blend(sub, a.lt(minNormal));
      mag = mag.blend(over, mag.compare(VectorOperators.GT, maxCode));
      IntVector sign = bits.lt(0).toVector().reinterpretAsInts().and(signBit);
      IntVector code = mag.or(sign);
      code = code.blend(nan, a.compare(VectorOperators.GT, 0x7F800000));
      code.convertShape(VectorOperators.I2B, B, 0).reinterpretAsBytes()
          .intoArray(out, oOff + i);
    }
    // scalar tail
    for (; i < n; i++) {
      out[oOff + i] = (byte) fmt.encode(x[off + i] * mul, saturate);
    }
  }

  /** {@code out[oOff + i] = fmt.decode(codes[cOff + i]) * mul} for {@code i < n}. */
  public static void decode(MiniFloat fmt, byte[] codes, int cOff, int n, float mul,
      float[] out, int oOff) {
    decode(fmt, codes, cOff, n, mul, null, 0, out, oOff);
  }

  /**
   * {@code out[oOff + i] = fmt.decode(codes[cOff + i]) * scales[sOff + i]} for {@code i < n}
   * (per-channel scales, applied in the same pass).
   */
  public static void decode(MiniFloat fmt, byte[] codes, int cOff, int n, float[] scales,
      int sOff, float[] out, int oOff) {
    decode(fmt, codes, cOff, n, 1f, scales, sOff, out, oOff);
  }

  private static void decode(MiniFloat fmt, byte[] codes, int cOff, int n, float mul,
      float[] scales, int sOff, float[] out, int oOff) {
    if (fmt == MiniFloat.E4M3) {
      decodeE4M3(codes, cOff, n, mul, scales, sOff, out, oOff);
      return;
    }
    int man = fmt.manBits;
    int magMask = fmt.signBit - 1;
    int expMask = ((1 << fmt.expBits) - 1) << man;
    int rebias = (127 - fmt.bias) << 23;
    int shift = 23 - man;
    float step = fmt.subnormalStep;
    int signBit = fmt.signBit;
    int signShift = 31 - (fmt.expBits + fmt.manBits);
    boolean nanCode = fmt.hasNaNCode;
    int i = 0;
    int bound = F.loopBound(n);
    for (; i < bound; i += F.length()) {
      IntVector c = (IntVector) ByteVector.fromArray(B, codes, cOff + i)
          .convertShape(VectorOperators.B2I, I, 0);
      c = c.and(2 * signBit - 1);
      IntVector mag = c.and(magMask);
      IntVector expField = mag.and(expMask);
      // normal: move the exponent and mantissa into place, rebias
      FloatVector normal = mag.lanewise(VectorOperators.LSHL, shift).add(rebias)
          .reinterpretAsFloats();
      // subnormal: mantissa * step
      FloatVector sub = ((FloatVector) mag.convert(VectorOperators.I2F, 0)).mul(step);
      FloatVector val = normal.blend(sub, expField.eq(0).cast(F));
      if (fmt.hasInf) {
        VectorMask<Integer> special = expField.eq(expMask);
        VectorMask<Integer> inf = special.and(mag.eq(expMask));
        val = val.blend(Float.NaN, special.cast(F))
            .blend(Float.POSITIVE_INFINITY, inf.cast(F));
      } else if (nanCode) {
        val = val.blend(Float.NaN, mag.eq(magMask).cast(F));
      }
      IntVector sign = c.and(signBit).lanewise(VectorOperators.LSHL, signShift);
      FloatVector out1 = val.reinterpretAsInts().or(sign).reinterpretAsFloats();
      if (mul != 1f) {
        out1 = out1.mul(mul);
      }
      if (scales != null) {
        out1 = out1.mul(FloatVector.fromArray(F, scales, sOff + i));
      }
      out1.intoArray(out, oOff + i);
    }
    for (; i < n; i++) {
      float x = fmt.decode(codes[cOff + i]) * mul;
      out[oOff + i] = scales == null ? x : x * scales[sOff + i];
    }
  }

  /**
   * {@code out[oOff + i] = IntQuant.encode(x[off + i], scale, qmax)} for {@code i < n}: the
   * float32 quotient rounded half away from zero and clamped.
   */
  public static void encodeInt(float[] x, int off, int n, float scale, int qmax, byte[] out,
      int oOff) {
    if (scale == 0f) {
      java.util.Arrays.fill(out, oOff, oOff + n, (byte) 0);
      return;
    }
    float lim = qmax + 1f;
    int i = 0;
    int bound = F.loopBound(n);
    for (; i < bound; i += F.length()) {
      FloatVector y = FloatVector.fromArray(F, x, off + i).div(scale);
      // clamp just beyond the range first, so that the int conversion cannot overflow
      y = y.blend(lim, y.compare(VectorOperators.GT, lim))
          .blend(-lim, y.compare(VectorOperators.LT, -lim));
      // truncate toward zero (NaN -> 0, as a Java cast), then step away on |fraction| >= 0.5
      IntVector t = (IntVector) y.convert(VectorOperators.F2I, 0);
      FloatVector frac = y.sub((FloatVector) t.convert(VectorOperators.I2F, 0));
      IntVector up = frac.compare(VectorOperators.GE, 0.5f).cast(I).toVector()
          .reinterpretAsInts(); // -1 where set
      IntVector down = frac.compare(VectorOperators.LE, -0.5f).cast(I).toVector()
          .reinterpretAsInts();
      IntVector c = t.sub(up).add(down);
      c = c.max(-qmax).min(qmax);
      c.convertShape(VectorOperators.I2B, B, 0).reinterpretAsBytes().intoArray(out, oOff + i);
    }
    for (; i < n; i++) {
      out[oOff + i] = (byte) IntQuant.encode(x[off + i], scale, qmax);
    }
  }

  /**
   * FP8 E4M3 decode in fewer operations: the 7 magnitude bits shifted to the top of a float32
   * mantissa (exponent field 4 bits above it) are the code's value times {@code 2^-120}, for
   * normal and subnormal codes alike, so one exact multiply by {@code 2^120} rebiases both; the
   * NaN code and the sign are patched in.
   */
  private static void decodeE4M3(byte[] codes, int cOff, int n, float mul, float[] scales,
      int sOff, float[] out, int oOff) {
    float rebias = 0x1p120f;
    int i = 0;
    int bound = F.loopBound(n);
    for (; i < bound; i += F.length()) {
      IntVector c = (IntVector) ByteVector.fromArray(B, codes, cOff + i)
          .convertShape(VectorOperators.B2I, I, 0);
      IntVector mag = c.and(0x7F);
      FloatVector val = mag.lanewise(VectorOperators.LSHL, 20).reinterpretAsFloats().mul(rebias);
      val = val.blend(Float.NaN, mag.eq(0x7F).cast(F));
      IntVector sign = c.and(0x80).lanewise(VectorOperators.LSHL, 24);
      FloatVector out1 = val.reinterpretAsInts().or(sign).reinterpretAsFloats();
      if (mul != 1f) {
        out1 = out1.mul(mul);
      }
      if (scales != null) {
        out1 = out1.mul(FloatVector.fromArray(F, scales, sOff + i));
      }
      out1.intoArray(out, oOff + i);
    }
    for (; i < n; i++) {
      float x = MiniFloat.E4M3.decode(codes[cOff + i]) * mul;
      out[oOff + i] = scales == null ? x : x * scales[sOff + i];
    }
  }

  /** {@code out[oOff + i] = codes[cOff + i] * scales[sOff + i]} (per-channel scales). */
  public static void decodeInt(byte[] codes, int cOff, int n, float[] scales, int sOff,
      float[] out, int oOff) {
    int i = 0;
    int bound = F.loopBound(n);
    for (; i < bound; i += F.length()) {
      IntVector c = (IntVector) ByteVector.fromArray(B, codes, cOff + i)
          .convertShape(VectorOperators.B2I, I, 0);
      ((FloatVector) c.convert(VectorOperators.I2F, 0))
          .mul(FloatVector.fromArray(F, scales, sOff + i)).intoArray(out, oOff + i);
    }
    for (; i < n; i++) {
      out[oOff + i] = codes[cOff + i] * scales[sOff + i];
    }
  }

  /** {@code out[oOff + i] = codes[cOff + i] * scale}. */
  public static void decodeInt(byte[] codes, int cOff, int n, float scale, float[] out,
      int oOff) {
    int i = 0;
    int bound = F.loopBound(n);
    for (; i < bound; i += F.length()) {
      IntVector c = (IntVector) ByteVector.fromArray(B, codes, cOff + i)
          .convertShape(VectorOperators.B2I, I, 0);
      ((FloatVector) c.convert(VectorOperators.I2F, 0)).mul(scale).intoArray(out, oOff + i);
    }
    for (; i < n; i++) {
      out[oOff + i] = codes[cOff + i] * scale;
    }
  }

  /** Largest magnitude of {@code x[off .. off + n)}, NaN if any is NaN (as the scalar loop). */
  public static float amax(float[] x, int off, int n) {
    int i = 0;
    int bound = F.loopBound(n);
    float m = 0f;
    if (bound > 0) {
      FloatVector acc = FloatVector.zero(F);
      for (; i < bound; i += F.length()) {
        acc = acc.lanewise(VectorOperators.MAX,
            FloatVector.fromArray(F, x, off + i).lanewise(VectorOperators.ABS));
      }
      m = acc.reduceLanes(VectorOperators.MAX);
    }
    for (; i < n; i++) {
      m = Math.max(m, Math.abs(x[off + i]));
    }
    return m;
  }
}
