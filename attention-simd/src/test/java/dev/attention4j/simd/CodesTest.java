package dev.attention4j.simd;

import static org.junit.jupiter.api.Assertions.assertEquals;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The decode kernel's in-register decoding of 8-bit codes ({@link Micro#codes}) against a scalar
 * decoding written from the format definitions, for all 256 codes in every lane position.
 */
class CodesTest {

  /** OCP FP8 E4M3: sign, 4 exponent bits (bias 7), 3 mantissa bits, NaN at S.1111.111. */
  static float e4m3(int code) {
    int sign = (code >> 7) & 1;
    int exp = (code >> 3) & 0xF;
    int man = code & 7;
    double mag;
    if (exp == 0xF && man == 7) {
      return Float.NaN;
    } else if (exp == 0) {
      mag = man / 8.0 * Math.pow(2, -6);
    } else {
      mag = (1 + man / 8.0) * Math.pow(2, exp - 7);
    }
    return (float) (sign == 1 ? -mag : mag);
  }

  @ParameterizedTest(name = "{0} bits")
  @ValueSource(ints = {256, 512})
  void everyCodeInEveryLane(int bits) {
    Lanes w = Lanes.of(bits);
    int n = w.species().length();
    byte[] codes = new byte[256 + n];
    for (int c = 0; c < codes.length; c++) {
      codes[c] = (byte) c;
    }
    float[] got = new float[n];
    for (int off = 0; off < 256; off++) {
      for (boolean fp8 : new boolean[] {false, true}) {
        Micro.codes(w, codes, off, fp8).intoArray(got, 0);
        for (int x = 0; x < n; x++) {
          int code = (off + x) & 0xFF;
          float want = fp8 ? e4m3(code) : (byte) code;
          assertEquals(want, got[x], (fp8 ? "e4m3 " : "int8 ") + "code " + code);
        }
      }
    }
    assertEquals(FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 256, Lanes.of(0).bytes() != null);
  }
}
