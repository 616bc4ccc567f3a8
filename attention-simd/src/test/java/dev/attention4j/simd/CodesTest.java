package dev.attention4j.simd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The decode kernel's in-register decoding of 8-bit codes ({@link Micro#codes}) against a scalar
 * decoding written from the format definitions, for all 256 codes in every lane position, and
 * the scan that picks the FP8 decoding with or without the NaN patch ({@link Micro#hasFp8NaN}).
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
      for (int kind : new int[] {Micro.INT8, Micro.FP8, Micro.FP8_NAN}) {
        Micro.codes(w, codes, off, kind).intoArray(got, 0);
        for (int x = 0; x < n; x++) {
          int code = (off + x) & 0xFF;
          boolean nan = (code & 0x7F) == 0x7F;
          if (kind == Micro.FP8 && nan) {
            continue; // the kind for runs without NaN codes (hasFp8NaN decides)
          }
          float want = kind == Micro.INT8 ? (byte) code : e4m3(code);
          assertEquals(want, got[x], "kind " + kind + " code " + code);
        }
      }
    }
    assertEquals(FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 256, Lanes.of(0).bytes() != null);
  }

  /** The NaN-code scan finds 0x7F or 0xFF wherever it sits in the rows it is given, and only there. */
  @ParameterizedTest(name = "{0} bits")
  @ValueSource(ints = {128, 256, 512})
  void nanScanFindsEveryNaNCode(int bits) {
    Lanes w = Lanes.of(bits);
    SplittableRandom rnd = new SplittableRandom(bits);
    for (int width : new int[] {1, 13, 64, 128, 200}) {
      int rows = 5;
      int ld = width + 7;
      byte[] a = new byte[3 + rows * ld];
      for (int i = 0; i < a.length; i++) {
        int c = rnd.nextInt(256);
        a[i] = (byte) ((c & 0x7F) == 0x7F ? c - 1 : c);
      }
      assertFalse(Micro.hasFp8NaN(w, a, 3, ld, width, rows), "no NaN code, width " + width);
      for (int r = 0; r < rows; r++) {
        for (int e : new int[] {0, width / 2, width - 1}) {
          int at = 3 + r * ld + e;
          byte keep = a[at];
          for (int nan : new int[] {0x7F, 0xFF}) {
            a[at] = (byte) nan;
            assertTrue(Micro.hasFp8NaN(w, a, 3, ld, width, rows),
                "code " + nan + " at row " + r + " column " + e + " of " + width);
            assertFalse(Micro.hasFp8NaN(w, a, 3, ld, width, r), "the rows before the code");
          }
          a[at] = keep;
        }
      }
      // codes between the rows (ld > width) are not read
      a[3 + width] = (byte) 0x7F;
      assertFalse(Micro.hasFp8NaN(w, a, 3, ld, width, rows), "gap between rows");
      a[3 + width] = 0;
    }
  }
}
