package dev.attention4j.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The vector P quantization of {@link SageHook} against the scalar {@link PQuant}. */
class SageHookTest {

  static final long SEED = 20250602L;

  /** Awkward float32 values: rounding ties, subnormals of both formats, the saturation edge. */
  static float awkward(SplittableRandom rnd) {
    return switch (rnd.nextInt(8)) {
      case 0 -> (float) rnd.nextDouble();
      case 1 -> (float) Math.exp(-rnd.nextDouble() * 30);
      case 2 -> MiniFloat.E4M3.decode(rnd.nextInt(0x7F)) / 448f
          * (1 + (rnd.nextBoolean() ? 1 : -1) * 0x1p-24f); // near E4M3 grid points
      case 3 -> (MiniFloat.E4M3.decode(rnd.nextInt(0x7E)) + MiniFloat.E4M3.decode(
          rnd.nextInt(0x7E))) / 896f; // midpoints (ties)
      case 4 -> 1f;
      case 5 -> 0f;
      case 6 -> Math.nextDown(1f);
      default -> (float) (rnd.nextDouble() * 1e-4);
    };
  }

  @ParameterizedTest
  @EnumSource(value = SageVariant.class, names = {"SAGE2_INT8", "SAGE3_NVFP4"})
  void vectorPQuantizationIsBitExactWithPQuant(SageVariant variant) {
    System.out.println("SageHookTest seed " + SEED);
    SplittableRandom rnd = new SplittableRandom(SEED + variant.ordinal());
    int n = FloatVector.SPECIES_PREFERRED.length();
    int ld = 3 * n;
    SageHook hook = new SageHook(variant, true, null, 1, 1, 1, 1);
    for (int trial = 0; trial < 200; trial++) {
      int cols = 1 + rnd.nextInt(128);
      int rows = 1 + rnd.nextInt(ld);
      float[] st = new float[cols * ld];
      for (int i = 0; i < st.length; i++) {
        st[i] = awkward(rnd);
      }
      float[] want = st.clone();
      float[] col = new float[cols];
      float pScale = variant.pScale();
      for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) {
          col[c] = want[c * ld + r] * pScale;
        }
        PQuant.quantize(variant, col, 0, 1, cols);
        for (int c = 0; c < cols; c++) {
          want[c * ld + r] = col[c] * (1f / pScale);
        }
      }
      hook.weights(0, 0, 0, rows, 0, cols, st, ld, null);
      for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) {
          assertEquals(Float.floatToIntBits(want[c * ld + r]), Float.floatToIntBits(st[c * ld + r]),
              variant + " trial " + trial + " row " + r + " key " + c);
        }
      }
    }
  }

  @Test
  void miniFloatRoundingIsBitExactOnEveryLane() {
    SplittableRandom rnd = new SplittableRandom(SEED + 7);
    int n = FloatVector.SPECIES_PREFERRED.length();
    float[] x = new float[n];
    float[] e4 = new float[n];
    float[] e2 = new float[n];
    float[] specials = {Float.NaN, -Float.NaN, Float.POSITIVE_INFINITY,
        Float.NEGATIVE_INFINITY, 464f, 465f, -464f, 480f, 7f, 5f, -5f, 6.5f, 0.25f, 0.75f,
        -0.25f, 0x1p-10f, 0x1p-9f * 1.5f, Float.MIN_VALUE, -0f, Float.MAX_VALUE};
    for (int trial = 0; trial < 20000; trial++) {
      for (int i = 0; i < n; i++) {
        x[i] = trial < 4 ? specials[(trial * n + i) % specials.length]
            : Float.intBitsToFloat(rnd.nextInt());
      }
      FloatVector v = FloatVector.fromArray(FloatVector.SPECIES_PREFERRED, x, 0);
      SageHook.roundE4m3(v).intoArray(e4, 0);
      SageHook.roundE2m1(v).intoArray(e2, 0);
      for (int i = 0; i < n; i++) {
        float w4 = MiniFloat.E4M3.round(x[i], true);
        float w2 = MiniFloat.E2M1.round(x[i], true);
        assertTrue(Float.floatToIntBits(w4) == Float.floatToIntBits(e4[i]),
            "E4M3 " + x[i] + ": " + e4[i] + " != " + w4);
        assertTrue(Float.floatToIntBits(w2) == Float.floatToIntBits(e2[i]),
            "E2M1 " + x[i] + ": " + e2[i] + " != " + w2);
      }
    }
  }
}
