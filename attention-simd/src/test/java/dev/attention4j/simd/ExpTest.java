package dev.attention4j.simd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The softmax's polynomial {@link Micro#exp2} and {@link Micro#exp} against {@link Math#pow} and
 * {@link Math#exp} in float64, over a dense sweep of arguments and the special values, at every
 * vector width.
 */
class ExpTest {

  private static float[] apply(VectorSpecies<Float> s, float[] x, boolean base2) {
    int n = s.length();
    float[] in = new float[(x.length + n - 1) / n * n];
    System.arraycopy(x, 0, in, 0, x.length);
    float[] out = new float[in.length];
    for (int i = 0; i < in.length; i += n) {
      FloatVector v = FloatVector.fromArray(s, in, i);
      (base2 ? Micro.exp2(v) : Micro.exp(v)).intoArray(out, i);
    }
    return out;
  }

  @ParameterizedTest(name = "{0} bits")
  @ValueSource(ints = {128, 256, 512})
  void exp2IsWithinItsStatedErrorAndExactAtZero(int bits) {
    VectorSpecies<Float> s = Lanes.of(bits).species();
    // every 1/4096 from -125 to 0, and the float neighbours of the half-integers, where the
    // rounding to n switches and |f| reaches 1/2
    int steps = 125 * 4096;
    float[] t = new float[steps + 1 + 2 * 125];
    for (int i = 0; i <= steps; i++) {
      t[i] = -i / 4096f;
    }
    for (int k = 0; k < 125; k++) {
      float half = -(k + 0.5f);
      t[steps + 1 + 2 * k] = Math.nextUp(half);
      t[steps + 2 + 2 * k] = Math.nextDown(half);
    }
    float[] y = apply(s, t, true);
    double worst = 0;
    for (int i = 0; i < t.length; i++) {
      double exact = Math.pow(2, t[i]);
      double rel = Math.abs(y[i] - exact) / exact;
      worst = Math.max(worst, rel);
      assertTrue(rel <= 1.7e-7, "2^" + t[i] + " = " + y[i] + ", exactly " + exact);
    }
    assertTrue(worst > 0, "the polynomial is not exact");
    assertEquals(1f, y[0], 0f);
  }

  @ParameterizedTest(name = "{0} bits")
  @ValueSource(ints = {128, 256, 512})
  void specialArgumentsGiveZeroOrNaN(int bits) {
    VectorSpecies<Float> s = Lanes.of(bits).species();
    float[] t = {Float.NEGATIVE_INFINITY, Float.NaN, -128f, -200f, -1e30f, -Float.MAX_VALUE,
        0f, -0f};
    float[] y = apply(s, t, true);
    assertEquals(0f, y[0], 0f);
    assertTrue(Float.isNaN(y[1]));
    for (int i = 2; i <= 5; i++) {
      assertEquals(0f, y[i], 0f, "2^" + t[i]);
    }
    assertEquals(1f, y[6], 0f);
    assertEquals(1f, y[7], 0f);
    float[] e = apply(s, t, false);
    assertEquals(0f, e[0], 0f);
    assertTrue(Float.isNaN(e[1]));
  }

  @ParameterizedTest(name = "{0} bits")
  @ValueSource(ints = {128, 256, 512})
  void expMatchesMathExp(int bits) {
    VectorSpecies<Float> s = Lanes.of(bits).species();
    int steps = 87 * 1024;
    float[] x = new float[steps + 1];
    for (int i = 0; i <= steps; i++) {
      x[i] = -i / 1024f;
    }
    float[] y = apply(s, x, false);
    for (int i = 0; i <= steps; i++) {
      double exact = Math.exp(x[i]);
      // the polynomial's 1.7e-7 plus the rounding of x log2 e, relative |x| 2^-24 in the result
      double bound = 1.7e-7 + Math.abs(x[i]) * 0x1p-24 * 1.5;
      assertTrue(Math.abs(y[i] - exact) / exact <= bound, "e^" + x[i] + " = " + y[i]
          + ", exactly " + exact);
    }
  }
}
