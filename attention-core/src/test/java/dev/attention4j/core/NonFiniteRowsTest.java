package dev.attention4j.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * SEMANTICS.md: NaN or Inf in a visible key or value makes the rows that see it NaN (every
 * column of O, and the LSE), and nothing else; a key that a mask or the score modifier hides
 * ({@code -inf}) is not seen. Checked on the float64 reference and the scalar kernel, against
 * the set of rows that see the key, worked out from the mask rules.
 */
class NonFiniteRowsTest {

  static final float[] POISON = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};

  @Test
  void exactlyTheRowsThatSeeANonFiniteKeyOrValueAreNaN() {
    int sq = 40;
    int sk = 60;
    int bad = 35;
    // bottom-right: row i is centred on key i + 20
    AttentionOptions[] cases = {
        AttentionOptions.builder().causal(true).build(),
        AttentionOptions.builder().causal(true).softcap(3).build(),
        AttentionOptions.builder().window(5, 0).alibiSlopes(0.5, 0.25).build(),
        AttentionOptions.builder().scoreMod((x, b, h, i, j) -> i % 3 == 0 && j == bad
            ? Double.NEGATIVE_INFINITY : x).build(),
    };
    for (int c = 0; c < cases.length; c++) {
      for (float x : POISON) {
        for (boolean inKey : new boolean[] {true, false}) {
          SplittableRandom rnd = new SplittableRandom(c * 13L + (long) x);
          Tensor q = TestTensors.gaussian(rnd, DType.F32, 1, 1, 2, sq, 8);
          Tensor k = TestTensors.gaussian(rnd, DType.F32, 1, 1, 1, sk, 8);
          Tensor v = TestTensors.gaussian(rnd, DType.F32, 1, 1, 1, sk, 6);
          (inKey ? k : v).set(x, 0, 0, bad, 2);
          for (AttentionKernel kernel : new AttentionKernel[] {
              ReferenceAttention.INSTANCE, ScalarAttention.INSTANCE}) {
            String what = kernel.name() + " case " + c + (inKey ? " key " : " value ") + x;
            AttentionResult r = AttentionResult.allocateAndRun(kernel, DType.F64, q, k, v,
                cases[c]);
            for (int h = 0; h < 2; h++) {
              for (int i = 0; i < sq; i++) {
                boolean sees = switch (c) {
                  case 0, 1 -> bad <= i + 20;
                  case 2 -> bad <= i + 20 && bad >= i + 15;
                  default -> i % 3 != 0;
                };
                for (int e = 0; e < 6; e++) {
                  double o = r.out().getDouble(0, h, i, e);
                  assertEquals(sees, Double.isNaN(o), what + ": row " + i + " column " + e);
                  assertTrue(sees || Double.isFinite(o), what + ": row " + i + " O " + o);
                }
                assertEquals(sees, Double.isNaN(r.lse().getDouble(0, h, i)), what + " LSE " + i);
              }
            }
          }
        }
      }
    }
  }
}
