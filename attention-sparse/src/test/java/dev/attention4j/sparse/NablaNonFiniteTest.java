package dev.attention4j.sparse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionResult;
import dev.attention4j.core.DType;
import dev.attention4j.core.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * NABLA on empty batches and with a NaN query or key: the routing keeps every block of a row whose
 * block scores are not finite, so the NaN reaches the rows that see it instead of being dropped.
 */
class NablaNonFiniteTest {

  static Tensor gaussian(Random rng, int... shape) {
    float[] x = new float[(int) Tensor.elementCount(shape)];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) rng.nextGaussian();
    }
    return Tensor.of(x, shape);
  }

  @Test
  void noBatchesGiveAnEmptyResult() {
    Tensor q = Tensor.zeros(DType.F32, 0, 4, 32, 16);
    Tensor k = Tensor.zeros(DType.F32, 0, 2, 32, 16);
    AttentionResult r = new NablaAttention(8, 0.9).forward(q, k, k, AttentionOptions.defaults());
    assertEquals(0, r.out().size());
  }

  @Test
  void nanQueryOrKeyIsNotDropped() {
    Random rng = new Random(12);
    Tensor q = gaussian(rng, 1, 2, 32, 16);
    Tensor k = gaussian(rng, 1, 1, 32, 16);
    Tensor v = gaussian(rng, 1, 1, 32, 16);
    NablaAttention nabla = new NablaAttention(8, 0.5);
    AttentionOptions o = AttentionOptions.builder().returnLse(true).build();
    q.set(Float.NaN, 0, 1, 5, 3);
    AttentionResult r = nabla.forward(q, k, v, o);
    for (int e = 0; e < 16; e++) {
      assertTrue(Float.isNaN(r.out().getFloat(0, 1, 5, e)), "the NaN query's row is NaN");
      assertTrue(Float.isFinite(r.out().getFloat(0, 1, 4, e)), "its neighbour stays finite");
      assertTrue(Float.isFinite(r.out().getFloat(0, 0, 5, e)), "the other head stays finite");
    }
    q.set(0.5, 0, 1, 5, 3);
    k.set(Float.NaN, 0, 0, 20, 7);
    r = nabla.forward(q, k, v, o);
    for (int i = 0; i < 32; i++) {
      assertTrue(Float.isNaN(r.out().getFloat(0, 0, i, 0)), "every row now sees key 20");
    }
  }
}
