package dev.attention4j.simd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.core.Alignment;
import dev.attention4j.core.AttentionKernel;
import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionResult;
import dev.attention4j.core.DType;
import dev.attention4j.core.Tensor;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Masked and padded keys never leak, NaN propagates only where it must, rows that see no key
 * give {@code (0, -inf)}, and huge logits stay finite (SEMANTICS.md).
 */
class NonFiniteTest {

  static final float[] POISON = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};

  /** Overwrites keys {@code j} with {@code pred(j)} in K and V of every batch and head. */
  static void poison(Tensor t, java.util.function.IntPredicate pred, float value) {
    for (int b = 0; b < t.dim(0); b++) {
      for (int h = 0; h < t.dim(1); h++) {
        for (int j = 0; j < t.dim(2); j++) {
          if (pred.test(j)) {
            for (int e = 0; e < t.dim(3); e++) {
              t.set(value, b, h, j, e);
            }
          }
        }
      }
    }
  }

  static void assertAllFinite(AttentionResult r, String what) {
    for (double x : r.out().toDoubleArray()) {
      assertTrue(Double.isFinite(x), what + ": non-finite output " + x);
    }
    for (double x : r.lse().toDoubleArray()) {
      assertFalse(Double.isNaN(x) || x == Double.POSITIVE_INFINITY, what + ": LSE " + x);
    }
  }

  @ParameterizedTest(name = "{0} bits")
  @ValueSource(ints = {128, 256, 512})
  void maskedAndPaddedSlotsNeverLeak(int bits) {
    AttentionKernel kernel = SimdAttention.withBits(bits);
    int sq = 70;
    int sk = 150;
    for (float bad : POISON) {
      SplittableRandom rnd = new SplittableRandom(bits + (long) bad);
      System.out.println("poison " + bad + " seed " + (bits + (long) bad));
      Tensor q = Support.gaussian(rnd, DType.F32, 1, 2, 2, sq, 24);
      Tensor k = Support.gaussian(rnd, DType.F32, 1, 2, 2, sk, 24);
      Tensor v = Support.gaussian(rnd, DType.F32, 1, 2, 2, sk, 20);
      // padding past kvLens
      Tensor kp = Tensor.copyOf(k, DType.F32);
      Tensor vp = Tensor.copyOf(v, DType.F32);
      poison(kp, j -> j >= 101, bad);
      poison(vp, j -> j >= 101, bad);
      AttentionOptions lens = AttentionOptions.builder().kvLens(101, 101).causal(true).build();
      assertAllFinite(Support.check(kernel, q, kp, vp, lens, "kvLens " + bad), "kvLens");
      // keys the top-left causal mask hides from every row (j >= Sq), and keys some rows see
      AttentionOptions topLeft = AttentionOptions.builder().causal(true)
          .alignment(Alignment.TOP_LEFT).build();
      Tensor kf = Tensor.copyOf(k, DType.F32);
      Tensor vf = Tensor.copyOf(v, DType.F32);
      poison(kf, j -> j >= sq || j == 40, bad);
      poison(vf, j -> j >= sq || j == 40, bad);
      AttentionResult r = Support.check(kernel, q, kf, vf, topLeft, "top-left causal " + bad);
      // rows before the poisoned visible key 40 must be finite
      for (int i = 0; i < 40; i++) {
        assertTrue(Double.isFinite(r.out().getDouble(0, 0, i, 0)), "row " + i);
      }
      // a window, a user mask and a score modifier that exclude the poisoned keys
      Tensor kw = Tensor.copyOf(k, DType.F32);
      Tensor vw = Tensor.copyOf(v, DType.F32);
      poison(kw, j -> j % 3 == 0, bad);
      poison(vw, j -> j % 3 == 0, bad);
      assertAllFinite(Support.check(kernel, q, kw, vw,
          AttentionOptions.builder().maskMod((b, h, i, j) -> j % 3 != 0).build(), "mask " + bad),
          "mask");
      assertAllFinite(Support.check(kernel, q, kw, vw, AttentionOptions.builder()
          .scoreMod((s, b, h, i, j) -> j % 3 == 0 ? Double.NEGATIVE_INFINITY : s).build(),
          "scoreMod " + bad), "scoreMod");
      assertAllFinite(Support.check(kernel, q, kw, vw, AttentionOptions.builder()
          .causal(true).maskMod((b, h, i, j) -> j % 3 != 0).build(), "causal+mask " + bad),
          "causal+mask");
      Tensor kb = Tensor.copyOf(k, DType.F32);
      Tensor vb = Tensor.copyOf(v, DType.F32);
      poison(kb, j -> j < 30 || j > 140, bad);
      poison(vb, j -> j < 30 || j > 140, bad);
      // bottom-right: row i is centred on key i + 80; window (10, 0) reaches keys 70..149 minus
      AttentionOptions window = AttentionOptions.builder().window(10, 0)
          .alignment(Alignment.BOTTOM_RIGHT).kvLens(141, 141).build();
      Support.check(kernel, q, kb, vb, window, "window " + bad);
    }
  }

  /**
   * One entry of key 90 or of its value set to NaN, +Inf or -Inf: exactly the rows that see key
   * 90 are NaN, every column of O and the LSE (an infinite key entry gives some rows a
   * {@code -inf} logit, softcap would make it finite: they are NaN all the same); the other rows
   * are finite and match the reference.
   */
  @ParameterizedTest(name = "{0} bits")
  @ValueSource(ints = {128, 256, 512})
  void aVisibleNonFiniteKeyOrValueMakesTheRowsThatSeeItNaN(int bits) {
    AttentionKernel kernel = SimdAttention.withBits(bits);
    int sq = 70;
    int sk = 150;
    int bad = 90;
    // bottom-right: row i is centred on key i + 80
    AttentionOptions[] cases = {
        AttentionOptions.builder().causal(true).build(),
        AttentionOptions.builder().causal(true).softcap(5).build(),
        AttentionOptions.builder().causal(true).alibiSlopes(0.5, 0.25, 0.125, 0.0625).build(),
        AttentionOptions.builder().window(20, 0).build(),
        AttentionOptions.builder().scoreMod((x, b, h, i, j) -> i % 2 == 0 && j == bad
            ? Double.NEGATIVE_INFINITY : x).build(),
    };
    java.util.function.BiPredicate<Integer, Integer> sees = (c, i) -> switch (c) {
      case 0, 1, 2 -> bad <= i + 80;
      case 3 -> bad <= i + 80 && bad >= i + 60;
      default -> i % 2 != 0;
    };
    for (int c = 0; c < cases.length; c++) {
      for (float x : POISON) {
        for (boolean inKey : new boolean[] {true, false}) {
          SplittableRandom rnd = new SplittableRandom(bits * 31L + c * 7 + (long) x);
          Tensor q = Support.gaussian(rnd, DType.F32, 1, 1, 4, sq, 24);
          Tensor k = Support.gaussian(rnd, DType.F32, 1, 1, 2, sk, 24);
          Tensor v = Support.gaussian(rnd, DType.F32, 1, 1, 2, sk, 20);
          (inKey ? k : v).set(x, 0, 1, bad, 3);
          String what = "case " + c + (inKey ? ", key " : ", value ") + x;
          AttentionResult r = Support.check(kernel, q, k, v, cases[c], what);
          for (int h = 0; h < 4; h++) {
            for (int i = 0; i < sq; i++) {
              boolean nan = h >= 2 && sees.test(c, i);
              for (int e = 0; e < 20; e++) {
                assertEquals(nan, Double.isNaN(r.out().getDouble(0, h, i, e)),
                    what + ": head " + h + " row " + i + " column " + e);
              }
              assertEquals(nan, Double.isNaN(r.lse().getDouble(0, h, i)),
                  what + ": LSE of head " + h + " row " + i);
            }
          }
        }
      }
    }
  }

  /** Decoding (row mode, split-KV): a NaN or Inf seen anywhere in 3000 keys makes the row NaN. */
  @Test
  void decodeRowsThatSeeANonFiniteEntryAreNaN() {
    for (float x : POISON) {
      for (boolean inKey : new boolean[] {true, false}) {
        SplittableRandom rnd = new SplittableRandom(11 + (long) x);
        Tensor q = Support.gaussian(rnd, DType.F32, 1, 2, 8, 1, 128);
        Tensor k = Support.gaussian(rnd, DType.F32, 1, 2, 2, 3000, 128);
        Tensor v = Support.gaussian(rnd, DType.F32, 1, 2, 2, 3000, 128);
        (inKey ? k : v).set(x, 1, 0, 2000, 7);
        AttentionOptions o = AttentionOptions.builder().causal(true).kvLens(3000, 2500).build();
        String what = (inKey ? "key " : "value ") + x;
        AttentionResult r = Support.check(SimdAttentionTest.KERNEL, q, k, v, o, what);
        for (int b = 0; b < 2; b++) {
          for (int h = 0; h < 8; h++) {
            boolean nan = b == 1 && h < 4;
            assertEquals(nan, Double.isNaN(r.out().getDouble(b, h, 0, 100)), what + " " + b + h);
            assertEquals(nan, Double.isNaN(r.lse().getDouble(b, h, 0)), what + " " + b + h);
          }
        }
      }
    }
  }

  @Test
  void nanInQueryOrVisibleKeyPropagatesOnlyWhereSeen() {
    SplittableRandom rnd = new SplittableRandom(3);
    Tensor q = Support.gaussian(rnd, DType.F32, 1, 1, 2, 60, 16);
    Tensor k = Support.gaussian(rnd, DType.F32, 1, 1, 2, 60, 16);
    Tensor v = Support.gaussian(rnd, DType.F32, 1, 1, 2, 60, 16);
    q.set(Float.NaN, 0, 1, 17, 5);
    k.set(Float.NaN, 0, 0, 33, 2);
    v.set(Float.NaN, 0, 1, 50, 7);
    AttentionOptions causal = AttentionOptions.builder().causal(true).build();
    AttentionResult r = Support.check(SimdAttentionTest.KERNEL, q, k, v, causal, "NaN");
    for (int i = 0; i < 60; i++) {
      assertEquals(i == 17 || i >= 50, Double.isNaN(r.out().getDouble(0, 1, i, 7)), "head 1 " + i);
      assertEquals(i >= 33, Double.isNaN(r.out().getDouble(0, 0, i, 3)), "head 0 row " + i);
    }
  }

  @Test
  void rowsThatSeeNothingAreZeroAndMinusInfinity() {
    SplittableRandom rnd = new SplittableRandom(4);
    Tensor q = Support.gaussian(rnd, DType.F32, 1, 2, 2, 90, 16);
    Tensor k = Support.gaussian(rnd, DType.F32, 1, 2, 1, 40, 16);
    Tensor v = Support.gaussian(rnd, DType.F32, 1, 2, 1, 40, 16);
    AttentionOptions[] cases = {
        AttentionOptions.builder().causal(true).build(),                 // Sq > Sk bottom-right
        AttentionOptions.builder().kvLens(0, 13).build(),
        AttentionOptions.builder().window(0, 0).alignment(Alignment.TOP_LEFT).build(),
        AttentionOptions.builder().window(3, 2).kvLens(0, 40).causal(true).build(),
        AttentionOptions.builder().scoreMod((s, b, h, i, j) -> i % 2 == 0
            ? Double.NEGATIVE_INFINITY : s).build(),
        AttentionOptions.builder().maskMod((b, h, i, j) -> i > 60).build(),
    };
    for (AttentionOptions o : cases) {
      AttentionResult r = Support.check(SimdAttentionTest.KERNEL, q, k, v, o, o.toString());
      for (double x : r.out().toDoubleArray()) {
        assertFalse(Double.isNaN(x), o.toString());
      }
    }
    // no keys at all
    Tensor k0 = Tensor.zeros(DType.F32, 2, 1, 0, 16);
    Support.check(SimdAttentionTest.KERNEL, q, k0, k0, AttentionOptions.defaults(), "Sk = 0");
  }

  @Test
  void hugeLogitsStayFinite() {
    SplittableRandom rnd = new SplittableRandom(5);
    Tensor q = Support.gaussian(rnd, DType.F32, 10, 1, 2, 100, 64);
    Tensor k = Support.gaussian(rnd, DType.F32, 10, 1, 2, 200, 64);
    Tensor v = Support.gaussian(rnd, DType.F32, 1, 1, 2, 200, 64);
    for (AttentionOptions o : new AttentionOptions[] {
        AttentionOptions.builder().scale(1e3).build(),
        AttentionOptions.builder().scale(1e3).causal(true).build(),
        AttentionOptions.builder().scale(1e3).softcap(50).build(),
        AttentionOptions.builder().scale(30).alibiSlopes(100, 1e3).build()}) {
      assertAllFinite(Support.check(SimdAttentionTest.KERNEL, q, k, v, o, o.toString()),
          o.toString());
    }
  }
}
