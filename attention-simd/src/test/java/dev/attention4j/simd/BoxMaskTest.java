package dev.attention4j.simd;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionResult;
import dev.attention4j.core.DType;
import dev.attention4j.core.Mask;
import dev.attention4j.core.MaskMod;
import dev.attention4j.core.Tensor;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link BoxMask} through the engine's vector path (PARTIAL tiles masked by compares) against the
 * float64 reference under an independently written predicate over the same intervals, for every
 * vector width, tiles with fully masked rows, GQA and head dims that are not powers of two.
 */
class BoxMaskTest {

  static IntStream seeds() {
    return IntStream.range(0, 8);
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void vectorMaskEqualsTheReference(int seed) {
    SplittableRandom rnd = new SplittableRandom(9100 + seed);
    int axes = 1 + rnd.nextInt(3);
    int sq = 1 + rnd.nextInt(150);
    int sk = 1 + rnd.nextInt(300);
    int range = 1 + rnd.nextInt(40);
    int[][] lo = new int[axes][sq];
    int[][] hi = new int[axes][sq];
    int[][] key = new int[axes][sk];
    for (int a = 0; a < axes; a++) {
      for (int i = 0; i < sq; i++) {
        lo[a][i] = rnd.nextInt(range) - 3;
        // about one row in eight sees nothing on this axis
        hi[a][i] = rnd.nextInt(8) == 0 ? lo[a][i] - 1 : lo[a][i] + rnd.nextInt(range);
      }
      for (int j = 0; j < sk; j++) {
        key[a][j] = rnd.nextInt(range + 6) - 3;
      }
    }
    MaskMod independent = (b, h, i, j) -> {
      boolean ok = true;
      for (int a = 0; a < axes; a++) {
        ok &= lo[a][i] <= key[a][j] && key[a][j] <= hi[a][i];
      }
      return ok;
    };
    int d = 5 + rnd.nextInt(60);
    int dv = 3 + rnd.nextInt(40);
    Tensor q = Support.gaussian(rnd, DType.F32, 1, 1, 4, sq, d);
    Tensor k = Support.gaussian(rnd, DType.F32, 1, 1, 2, sk, d);
    Tensor v = Support.gaussian(rnd, DType.F32, 1, 1, 2, sk, dv);
    AttentionOptions box = AttentionOptions.builder().mask(Mask.custom(new BoxMask(lo, hi, key)))
        .build();
    AttentionResult ref = Support.reference(q, k, v,
        AttentionOptions.builder().mask(Mask.custom(independent)).build());
    for (int bits : new int[] {128, 256, 512}) {
      Support.assertClose(ref, Support.run(SimdAttention.withBits(bits), q, k, v, box),
          "box mask, " + bits + " bits, seed " + seed);
    }
  }

  /**
   * A NaN value row seen by some queries only: rows that cannot see it stay finite (SEMANTICS.md),
   * also when the same thread has just run a call with all-finite values of the same shape, whose
   * remembered per-block answer must not carry over, and the other way round.
   */
  @Test
  void nonFiniteValuesStayWithTheRowsThatSeeThem() {
    SplittableRandom rnd = new SplittableRandom(77);
    int sq = 96;
    int sk = 200;
    int[][] lo = new int[1][sq];
    int[][] hi = new int[1][sq];
    int[][] key = new int[1][sk];
    for (int i = 0; i < sq; i++) {
      lo[0][i] = 2 * i - 20;
      hi[0][i] = 2 * i + 20;
    }
    for (int j = 0; j < sk; j++) {
      key[0][j] = j;
    }
    AttentionOptions o = AttentionOptions.builder().mask(Mask.custom(new BoxMask(lo, hi, key)))
        .build();
    Tensor q = Support.gaussian(rnd, DType.F32, 1, 1, 1, sq, 32);
    Tensor k = Support.gaussian(rnd, DType.F32, 1, 1, 1, sk, 32);
    Tensor finite = Support.gaussian(rnd, DType.F32, 1, 1, 1, sk, 32);
    Tensor poisoned = Tensor.zeros(DType.F32, 1, 1, sk, 32);
    poisoned.copyFrom(finite);
    poisoned.setAt(poisoned.offset() + 150 * 32 + 3, Float.NaN);
    MaskMod same = (b, h, i, j) -> lo[0][i] <= j && j <= hi[0][i];
    AttentionOptions ref = AttentionOptions.builder().mask(Mask.custom(same)).build();
    SimdAttention one = SimdAttention.withBits(512, new java.util.concurrent.ForkJoinPool(1));
    for (Tensor v : new Tensor[] {finite, poisoned, finite, poisoned}) {
      Support.assertClose(Support.reference(q, k, v, ref), Support.run(one, q, k, v, o),
          v == finite ? "finite values" : "NaN at key 150");
    }
  }

  @Test
  void badShapesNameTheNumbers() {
    int[][] one = {{0, 1}};
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new BoxMask(one, new int[][] {{0}}, one));
    assertTrue(e.getMessage().contains("axis 0"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> new BoxMask(one, one, new int[][] {{1 << 25, 0}}));
    assertTrue(e.getMessage().contains("33554432"), e.getMessage());
    Tensor q = Tensor.zeros(DType.F32, 1, 1, 3, 4);
    Tensor k = Tensor.zeros(DType.F32, 1, 1, 2, 4);
    AttentionOptions small = AttentionOptions.builder()
        .mask(Mask.custom(new BoxMask(one, one, one))).build();
    e = assertThrows(IllegalArgumentException.class,
        () -> new SimdAttention().forward(q, k, k, small));
    assertTrue(e.getMessage().contains("Sq = 3"), e.getMessage());
  }
}
