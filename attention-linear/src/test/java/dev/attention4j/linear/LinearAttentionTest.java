package dev.attention4j.linear;

import static dev.attention4j.linear.Fixtures.assertWithinTolerance;
import static dev.attention4j.linear.Fixtures.fast;
import static dev.attention4j.linear.Fixtures.gaussian;
import static dev.attention4j.linear.Fixtures.reference;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.core.DType;
import dev.attention4j.core.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ForkJoinPool;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The chunked kernel against the float64 quadratic reference (kernel-notes §6.5 invariant 1):
 * every feature map, normalised / unnormalised / decay / hybrid, GQA, Sq != Sk, chunk sizes
 * 1, 2, 7, 64 and N.
 */
class LinearAttentionTest {

  static final String[] MAPS = {"elu1", "relu", "hedgehog", "hedgehog-exp", "identity"};

  static Stream<Arguments> cases() {
    List<Arguments> list = new ArrayList<>();
    long seed = 100;
    for (String map : MAPS) {
      for (String mode : new String[] {"normalized", "unnormalized", "decay", "hybrid",
          "noncausal"}) {
        if (map.equals("identity") && (mode.equals("normalized") || mode.equals("hybrid"))) {
          continue;
        }
        for (int chunk : new int[] {1, 2, 7, 64, -1}) {
          list.add(Arguments.of(map, mode, chunk, seed++));
        }
      }
    }
    return list.stream();
  }

  static LinearOptions options(FeatureMap map, String mode, int chunk, int hq) {
    LinearOptions.Builder b = LinearOptions.builder(map).chunkSize(chunk);
    double[] slopes = new double[hq];
    for (int h = 0; h < hq; h++) {
      slopes[h] = Math.pow(2, -(h + 1));
    }
    switch (mode) {
      case "normalized" -> b.causal(true);
      case "unnormalized" -> b.causal(true).normalize(false);
      case "decay" -> b.causal(true).normalize(false).decaySlopes(slopes);
      case "hybrid" -> b.causal(true).hybrid(5, 0.3, 0.6, 0.5, 0.9);
      case "noncausal" -> b.causal(false).normalize(!map.kind().equals(FeatureMap.Kind.IDENTITY));
      default -> throw new IllegalArgumentException(mode);
    }
    return b.build();
  }

  @ParameterizedTest(name = "{0} {1} chunk={2} seed={3}")
  @MethodSource("cases")
  void chunkedMatchesReference(String mapName, String mode, int chunk, long seed) {
    System.out.println("LinearAttentionTest " + mapName + " " + mode + " chunk " + chunk
        + " seed " + seed);
    SplittableRandom rnd = new SplittableRandom(seed);
    int b = 2;
    int hq = 4;
    int hkv = 2;
    int d = 12;
    int dv = 20;
    // Sq == Sk, Sq < Sk (bottom-right), Sq > Sk (rows that see no key)
    int[][] lens = {{37, 37}, {13, 40}, {30, 21}};
    for (int[] l : lens) {
      Tensor q = gaussian(rnd, 1, b, hq, l[0], d);
      Tensor k = gaussian(rnd, 1, b, hkv, l[1], d);
      Tensor v = gaussian(rnd, 1, b, hkv, l[1], dv);
      FeatureMap map = Fixtures.map(mapName, rnd, hq, hkv, d, 8);
      int c = chunk < 0 ? Math.max(l[0], l[1]) : chunk;
      LinearOptions o = options(map, mode, c, hq);
      Tensor ref = reference(q, k, v, o);
      Tensor got = fast(q, k, v, o);
      assertWithinTolerance(ref, got, mapName + " " + mode + " chunk " + c + " Sq " + l[0]
          + " Sk " + l[1]);
    }
  }

  @ParameterizedTest(name = "seed={0}")
  @MethodSource("seeds")
  void chunkSizeDoesNotMatterBeyondRounding(long seed) {
    System.out.println("chunkSizeDoesNotMatterBeyondRounding seed " + seed);
    SplittableRandom rnd = new SplittableRandom(seed);
    Tensor q = gaussian(rnd, 1, 1, 2, 300, 32);
    Tensor k = gaussian(rnd, 1, 1, 2, 300, 32);
    Tensor v = gaussian(rnd, 1, 1, 2, 300, 48);
    FeatureMap map = Fixtures.map("hedgehog", rnd, 2, 2, 32, 24);
    Tensor base = fast(q, k, v, LinearOptions.builder(map).causal(true).chunkSize(64).build());
    for (int c : new int[] {1, 2, 7, 33, 100, 300}) {
      Tensor other = fast(q, k, v, LinearOptions.builder(map).causal(true).chunkSize(c).build());
      assertWithinTolerance(base, other, "chunk " + c + " vs 64");
    }
  }

  static Stream<Long> seeds() {
    return Stream.of(7L, 8L, 9L);
  }

  @ParameterizedTest(name = "seed={0}")
  @MethodSource("seeds")
  void stridedHalfInputsAndThreads(long seed) {
    System.out.println("stridedHalfInputsAndThreads seed " + seed);
    SplittableRandom rnd = new SplittableRandom(seed);
    Tensor q = gaussian(rnd, 1, 2, 4, 50, 16);
    Tensor k = Tensor.copyOf(gaussian(rnd, 1, 2, 50, 2, 16), DType.F16).permute(0, 2, 1, 3);
    Tensor v = Tensor.copyOf(gaussian(rnd, 1, 2, 2, 50, 16), DType.BF16);
    LinearOptions o = LinearOptions.builder(FeatureMap.elu1()).causal(true).chunkSize(16).build();
    Tensor ref = reference(q, k, v, o);
    Tensor out = Tensor.zeros(DType.F32, 2, 4, 50, 16);
    try (ForkJoinPool pool = new ForkJoinPool(2)) {
      long macs = LinearAttention.forward(q, k, v, out, o, pool);
      assertTrue(macs > 0);
    }
    assertWithinTolerance(ref, out, "strided f16/bf16 inputs on 2 threads");
  }

  @Test
  void decayUnderflowStaysFinite() {
    long seed = 11;
    System.out.println("decayUnderflowStaysFinite seed " + seed);
    SplittableRandom rnd = new SplittableRandom(seed);
    Tensor q = gaussian(rnd, 1, 1, 2, 600, 16);
    Tensor k = gaussian(rnd, 1, 1, 2, 600, 16);
    Tensor v = gaussian(rnd, 1, 1, 2, 600, 16);
    for (int chunk : new int[] {64, 256, 600}) {
      LinearOptions o = LinearOptions.builder(FeatureMap.elu1()).causal(true).normalize(false)
          .decaySlopes(30, 200).chunkSize(chunk).build();
      Tensor got = fast(q, k, v, o);
      for (float x : got.floatData()) {
        assertTrue(Float.isFinite(x), "non-finite output with chunk " + chunk);
      }
      assertWithinTolerance(reference(q, k, v, o), got, "strong decay, chunk " + chunk);
    }
  }

  @Test
  void zeroSlopeIsPlainUnnormalised() {
    long seed = 12;
    System.out.println("zeroSlopeIsPlainUnnormalised seed " + seed);
    SplittableRandom rnd = new SplittableRandom(seed);
    Tensor q = gaussian(rnd, 1, 1, 2, 70, 8);
    Tensor k = gaussian(rnd, 1, 1, 2, 70, 8);
    Tensor v = gaussian(rnd, 1, 1, 2, 70, 8);
    LinearOptions plain = LinearOptions.builder(FeatureMap.relu()).causal(true).normalize(false)
        .chunkSize(16).build();
    LinearOptions zero = plain.toBuilder().decaySlopes(0, 0).build();
    Tensor a = fast(q, k, v, plain);
    Tensor b = fast(q, k, v, zero);
    assertWithinTolerance(a, b, "slope 0 vs no decay");
    assertWithinTolerance(reference(q, k, v, plain), reference(q, k, v, zero), "reference");
  }

  @Test
  void identityOnlyUnnormalised() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> LinearOptions.builder(FeatureMap.identity()).causal(true).build());
    assertTrue(e.getMessage().contains("identity is only allowed unnormalised"), e.getMessage());
    LinearOptions.builder(FeatureMap.identity()).normalize(false).build();
  }

  @Test
  void decayNeedsCausalUnnormalised() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> LinearOptions.builder(FeatureMap.elu1()).causal(true).decaySlopes(0.1).build());
    assertTrue(e.getMessage().contains("decay needs causal, unnormalised"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> LinearOptions.builder(FeatureMap.elu1())
        .normalize(false).decaySlopes(0.1).build());
    assertTrue(e.getMessage().contains("decay needs causal"), e.getMessage());
  }

  @Test
  void badWeightsShapesNameTheNumbers() {
    SplittableRandom rnd = new SplittableRandom(13);
    Tensor q = gaussian(rnd, 1, 1, 4, 5, 8);
    Tensor k = gaussian(rnd, 1, 1, 2, 5, 8);
    Tensor v = gaussian(rnd, 1, 1, 2, 5, 8);
    Tensor out = Tensor.zeros(DType.F32, 1, 4, 5, 8);
    // wrong number of query heads
    FeatureMap m1 = FeatureMap.hedgehog(Fixtures.weights(rnd, 3, 2, 8, 4));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> LinearAttention.forward(q, k, v, out, LinearOptions.builder(m1).build()));
    assertEquals("wq has 3 heads, Q has 4 query heads (wq must be [Hq, D, F] = [4, 8, 4])",
        e.getMessage());
    // wrong head dim
    FeatureMap m2 = FeatureMap.hedgehog(Fixtures.weights(rnd, 4, 2, 6, 4));
    e = assertThrows(IllegalArgumentException.class,
        () -> LinearAttention.forward(q, k, v, out, LinearOptions.builder(m2).build()));
    assertTrue(e.getMessage().contains("head dim 6 != Q head dim 8"), e.getMessage());
    // wrong KV heads
    FeatureMap m3 = FeatureMap.hedgehog(Fixtures.weights(rnd, 4, 1, 8, 4));
    e = assertThrows(IllegalArgumentException.class,
        () -> ReferenceLinearAttention.forward(q, k, v, out, LinearOptions.builder(m3).build()));
    assertTrue(e.getMessage().startsWith("wk has 1 heads, K has 2 KV heads"), e.getMessage());
    // differing F between wq and wk, and a rank-2 tensor
    e = assertThrows(IllegalArgumentException.class, () -> FeatureWeights.of(
        Tensor.zeros(DType.F32, 4, 8, 5), Tensor.zeros(DType.F32, 2, 8, 6)));
    assertTrue(e.getMessage().startsWith("wq feature count 5 != wk feature count 6"),
        e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> FeatureWeights.of(
        Tensor.zeros(DType.F32, 8, 5), Tensor.zeros(DType.F32, 2, 8, 5)));
    assertTrue(e.getMessage().startsWith("wq has rank 2 (shape [8, 5])"), e.getMessage());
  }
}
