package dev.attention4j.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Bit-exact codec tests. The expected tables are built here from the format definitions
 * (enumerating sign, exponent and mantissa), independently of {@link MiniFloat}; rounding is
 * checked against a brute-force nearest-even search over those tables.
 */
class CodecTest {

  static final long SEED = 0x5A6E_2024L;

  /** Value of (sign, exponent field, mantissa field) per IEEE-style rules, from scratch. */
  static double value(int s, int e, int m, int manBits, int bias) {
    double mag = e == 0 ? m / (double) (1 << manBits) * Math.pow(2, 1 - bias)
        : (1 + m / (double) (1 << manBits)) * Math.pow(2, e - bias);
    return s == 1 ? -mag : mag;
  }

  static float[] e4m3Table() {
    float[] t = new float[256];
    for (int s = 0; s < 2; s++) {
      for (int e = 0; e < 16; e++) {
        for (int m = 0; m < 8; m++) {
          int code = s << 7 | e << 3 | m;
          t[code] = e == 15 && m == 7 ? Float.NaN : (float) value(s, e, m, 3, 7);
        }
      }
    }
    return t;
  }

  static float[] e5m2Table() {
    float[] t = new float[256];
    for (int s = 0; s < 2; s++) {
      for (int e = 0; e < 32; e++) {
        for (int m = 0; m < 4; m++) {
          int code = s << 7 | e << 2 | m;
          if (e == 31) {
            t[code] = m == 0 ? (s == 1 ? Float.NEGATIVE_INFINITY : Float.POSITIVE_INFINITY)
                : Float.NaN;
          } else {
            t[code] = (float) value(s, e, m, 2, 15);
          }
        }
      }
    }
    return t;
  }

  static float[] e2m1Table() {
    float[] t = new float[16];
    for (int s = 0; s < 2; s++) {
      for (int e = 0; e < 4; e++) {
        for (int m = 0; m < 2; m++) {
          t[s << 3 | e << 1 | m] = (float) value(s, e, m, 1, 1);
        }
      }
    }
    return t;
  }

  @Test
  void tablesOfAllCodes() {
    check(MiniFloat.E4M3, e4m3Table());
    check(MiniFloat.E5M2, e5m2Table());
    check(MiniFloat.E2M1, e2m1Table());
    assertEquals(448f, MiniFloat.E4M3.maxValue());
    assertEquals(57344f, MiniFloat.E5M2.maxValue());
    assertEquals(6f, MiniFloat.E2M1.maxValue());
    assertArrayEquals(new float[] {0, 0.5f, 1, 1.5f, 2, 3, 4, 6},
        java.util.Arrays.copyOf(MiniFloat.E2M1.table(), 8));
    assertEquals(0x1p-9f, MiniFloat.E4M3.decode(1));
    assertEquals(0x1p-6f, MiniFloat.E4M3.decode(8));
  }

  private static void check(MiniFloat f, float[] expected) {
    for (int c = 0; c < expected.length; c++) {
      float got = f.decode(c);
      assertEquals(Float.floatToIntBits(expected[c]), Float.floatToIntBits(got),
          f + " code 0x" + Integer.toHexString(c));
      // decode -> encode returns the code for every finite value (and infinity for E5M2)
      if (!Float.isNaN(expected[c])) {
        assertEquals(c, f.encode(expected[c], false), f + " re-encode 0x" + Integer.toHexString(c));
      } else {
        assertTrue(f.isNaN(c));
      }
    }
    // the vector decoder over every code
    byte[] codes = new byte[expected.length];
    for (int c = 0; c < codes.length; c++) {
      codes[c] = (byte) c;
    }
    float[] out = new float[codes.length];
    SimdCodecs.decode(f, codes, 0, codes.length, 1f, out, 0);
    for (int c = 0; c < codes.length; c++) {
      assertEquals(Float.floatToIntBits(expected[c]), Float.floatToIntBits(out[c]),
          f + " vector decode 0x" + Integer.toHexString(c));
    }
  }

  /** Brute force: nearest finite value of the table, ties to the even code, saturating. */
  static int nearestEven(float[] table, int signBit, float x) {
    double max = 0;
    for (int c = 0; c < signBit; c++) {
      if (Float.isFinite(table[c])) {
        max = Math.max(max, table[c]);
      }
    }
    double ax = Math.min(Math.abs((double) x), max); // saturating
    int best = -1;
    double bestErr = Double.POSITIVE_INFINITY;
    for (int c = 0; c < signBit; c++) {
      float v = table[c];
      if (!Float.isFinite(v)) {
        continue;
      }
      double err = Math.abs(ax - v);
      if (err < bestErr || (err == bestErr && (c & 1) == 0)) {
        best = c;
        bestErr = err;
      }
    }
    return (x < 0 || (x == 0 && 1 / x < 0) ? signBit : 0) | best;
  }

  /** Random floats of every magnitude, the table values, midpoints and their neighbours. */
  static float[] probes(float[] table, long seed, int count) {
    List<Float> p = new ArrayList<>();
    List<Float> finite = new ArrayList<>();
    for (float v : table) {
      if (Float.isFinite(v) && v >= 0) {
        finite.add(v);
      }
    }
    finite.sort(null);
    for (int i = 0; i < finite.size(); i++) {
      float v = finite.get(i);
      p.add(v);
      if (i + 1 < finite.size()) {
        float mid = (float) ((v + (double) finite.get(i + 1)) / 2);
        p.add(mid);
        p.add(Math.nextUp(mid));
        p.add(Math.nextDown(mid));
      }
    }
    float max = finite.get(finite.size() - 1);
    p.add(max * 1.03f);
    p.add(max * 1.5f);
    p.add(Float.MAX_VALUE);
    p.add(Float.MIN_VALUE);
    SplittableRandom rnd = new SplittableRandom(seed);
    for (int i = 0; i < count; i++) {
      p.add((float) (Math.scalb(rnd.nextDouble(), rnd.nextInt(-30, 20))));
    }
    int n = p.size();
    float[] out = new float[2 * n];
    for (int i = 0; i < n; i++) {
      out[i] = p.get(i);
      out[n + i] = -p.get(i);
    }
    return out;
  }

  @Test
  void roundingAgainstBruteForce() {
    for (MiniFloat f : new MiniFloat[] {MiniFloat.E4M3, MiniFloat.E5M2, MiniFloat.E2M1}) {
      float[] table = f == MiniFloat.E4M3 ? e4m3Table() : f == MiniFloat.E5M2 ? e5m2Table()
          : e2m1Table();
      int signBit = table.length / 2;
      for (float x : probes(table, SEED, 3000)) {
        int want = nearestEven(table, signBit, x);
        assertEquals(want, f.encode(x, true), f + " saturating encode of " + x);
      }
    }
  }

  @Test
  void overflowSaturationAndNaN() {
    MiniFloat e4 = MiniFloat.E4M3;
    assertEquals(0x7E, e4.encode(448f, false));
    assertEquals(0x7E, e4.encode(464f, false)); // tie rounds to even 448
    assertEquals(0x7F, e4.encode(Math.nextUp(464f), false)); // rounds to 480: NaN
    assertEquals(0xFF, e4.encode(-1000f, false));
    assertEquals(0x7E, e4.encode(1e30f, true));
    assertEquals(0xFE, e4.encode(Float.NEGATIVE_INFINITY, true));
    assertEquals(0x7F, e4.encode(Float.POSITIVE_INFINITY, false));
    assertEquals(0x7F, e4.encode(Float.NaN, true));
    assertEquals(0x7F, e4.encode(Float.NaN, false));
    MiniFloat e5 = MiniFloat.E5M2;
    assertEquals(0x7B, e5.encode(61440f, false) - 1); // 61440 is a tie -> even (inf)
    assertEquals(0x7C, e5.encode(61440f, false));
    assertEquals(0x7B, e5.encode(61439f, false));
    assertEquals(0x7B, e5.encode(1e9f, true));
    assertEquals(0xFC, e5.encode(Float.NEGATIVE_INFINITY, false));
    assertTrue(e5.isNaN(e5.encode(Float.NaN, false)));
    MiniFloat e2 = MiniFloat.E2M1;
    assertEquals(0x7, e2.encode(100f, true));
    assertEquals(0xF, e2.encode(-7f, false));
    assertEquals(0x2, e2.encode(0.75f, true)); // tie 0.5 / 1.0 -> even 1.0 (code 2)
    assertEquals(0x6, e2.encode(5f, true)); // tie 4 / 6 -> even 4 (code 6)
    assertEquals(0x0, e2.encode(0.25f, true)); // tie 0 / 0.5 -> 0
    assertEquals(0x7, e2.encode(Float.NaN, true));
    assertEquals(0x8, e2.encode(-0f, true));
  }

  @Test
  void intRoundingTiesAndClamp() {
    assertEquals(1, IntQuant.encode(0.5f, 1f, 127));
    assertEquals(-1, IntQuant.encode(-0.5f, 1f, 127));
    assertEquals(2, IntQuant.encode(1.5f, 1f, 127));
    assertEquals(3, IntQuant.encode(2.5f, 1f, 127));
    assertEquals(-3, IntQuant.encode(-2.5f, 1f, 127));
    assertEquals(0, IntQuant.encode(0.49999997f, 1f, 127));
    assertEquals(127, IntQuant.encode(300f, 1f, 127));
    assertEquals(-7, IntQuant.encode(-8f, 1f, 7));
    assertEquals(0, IntQuant.encode(5f, 0f, 127));
    assertEquals(127, IntQuant.encode(12.7f, IntQuant.scale(12.7f, 127), 127));
    // round-trip of codes: c * scale / scale == c
    float sc = IntQuant.scale(3.3f, 127);
    for (int c = -127; c <= 127; c++) {
      assertEquals(c, IntQuant.encode(c * sc, sc, 127));
    }
  }

  static final int[] LENGTHS = {0, 1, 3, 7, 15, 16, 17, 31, 32, 33, 63, 100, 257, 1031};

  static float[] awkward(SplittableRandom rnd, int n) {
    float[] special = {0f, -0f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY,
        448f, 464f, -464f, 0.5f, -2.5f, 0x1p-10f, 0x1p-7f, Float.MIN_VALUE, 6f, 5f, 0.75f,
        61440f, 1e-30f, 127.5f, -0.49999997f};
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      int kind = rnd.nextInt(4);
      x[i] = switch (kind) {
        case 0 -> special[rnd.nextInt(special.length)];
        case 1 -> (float) (rnd.nextDouble(-1, 1) * Math.scalb(1.0, rnd.nextInt(-20, 18)));
        case 2 -> (float) Math.rint(rnd.nextDouble(-300, 300)) * 0.5f; // halves
        default -> (float) rnd.nextGaussian();
      };
    }
    return x;
  }

  @Test
  void vectorEqualsScalarOnAwkwardLengths() {
    SplittableRandom rnd = new SplittableRandom(SEED);
    System.out.println("CodecTest seed " + SEED + ", " + SimdCodecs.lanes() + " lanes");
    for (int n : LENGTHS) {
      for (int off : new int[] {0, 5}) {
        float[] x = awkward(rnd, n + off);
        for (MiniFloat f : new MiniFloat[] {MiniFloat.E4M3, MiniFloat.E5M2, MiniFloat.E2M1}) {
          for (boolean sat : new boolean[] {true, false}) {
            for (float mul : new float[] {1f, 0.37f, 448f}) {
              byte[] v = new byte[n + 2];
              SimdCodecs.encode(f, x, off, n, mul, sat, v, 1);
              for (int i = 0; i < n; i++) {
                assertEquals((byte) f.encode(x[off + i] * mul, sat), v[1 + i],
                    f + " n=" + n + " i=" + i + " x=" + x[off + i] + " mul=" + mul);
              }
              // decode back, vector vs scalar
              float[] d = new float[n];
              SimdCodecs.decode(f, v, 1, n, mul, d, 0);
              for (int i = 0; i < n; i++) {
                assertEquals(Float.floatToIntBits(f.decode(v[1 + i]) * mul),
                    Float.floatToIntBits(d[i]), f + " decode n=" + n + " i=" + i);
              }
            }
          }
        }
        for (int qmax : new int[] {127, 7}) {
          for (float sc : new float[] {1f, 0.1f, 0.5f, 0f, 3e-3f}) {
            byte[] v = new byte[n];
            byte[] s = new byte[n];
            SimdCodecs.encodeInt(x, off, n, sc, qmax, v, 0);
            IntQuant.encode(x, off, n, sc, qmax, s, 0);
            assertArrayEquals(s, v, "int qmax=" + qmax + " scale=" + sc + " n=" + n);
          }
        }
        float a = SimdCodecs.amax(x, off, n);
        assertEquals(Float.floatToIntBits(IntQuant.amax(x, off, n)), Float.floatToIntBits(a));
      }
    }
  }
}
