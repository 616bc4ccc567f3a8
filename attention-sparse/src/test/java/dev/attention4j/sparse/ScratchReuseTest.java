package dev.attention4j.sparse;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.attention4j.core.AttentionKernel;
import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionResult;
import dev.attention4j.core.Tensor;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * Kernels that keep scratch between calls give the same bits as a fresh instance, whatever an
 * earlier call of another shape left in the scratch.
 */
class ScratchReuseTest {

  private static void check(Supplier<AttentionKernel> make, int[] bigQ, int[] bigKv, int[] q2,
      int[] kv2) {
    SplittableRandom rnd = new SplittableRandom(5);
    AttentionKernel reused = make.get();
    AttentionOptions o = AttentionOptions.builder().returnLse(true).build();
    // a large call fills the scratch with its rows
    reused.forward(Support.gaussian(rnd, 3, bigQ), Support.gaussian(rnd, 3, bigKv),
        Support.gaussian(rnd, 3, bigKv), o);
    for (int round = 0; round < 2; round++) {
      Tensor q = Support.gaussian(rnd, 1, q2);
      Tensor k = Support.gaussian(rnd, 1, kv2);
      Tensor v = Support.gaussian(rnd, 1, kv2);
      AttentionResult got = reused.forward(q, k, v, o);
      AttentionResult fresh = make.get().forward(q, k, v, o);
      assertArrayEquals(fresh.out().toDoubleArray(), got.out().toDoubleArray());
      assertArrayEquals(fresh.lse().toDoubleArray(), got.lse().toDoubleArray());
    }
  }

  @Test
  void neighborhoodReusesItsScratch() {
    Neighborhood nb = Neighborhood.of(new int[] {9, 11}, 5, 3);
    check(() -> new NeighborhoodAttention(nb), new int[] {2, 4, 99, 24},
        new int[] {2, 4, 99, 24}, new int[] {1, 2, 99, 16}, new int[] {1, 1, 99, 16});
  }

  @Test
  void mobaReusesItsScratch() {
    check(() -> new MobaAttention(16, 3), new int[] {2, 4, 150, 24}, new int[] {2, 2, 150, 24},
        new int[] {1, 2, 97, 16}, new int[] {1, 1, 97, 16});
  }
}
