package dev.attention4j.linear;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.core.DType;
import dev.attention4j.core.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * A non-finite value of a later key never reaches an earlier row of a causal call, also inside
 * one chunk (where the masked weights are 0 but {@code 0 * NaN} is NaN).
 */
class NonFiniteTest {

  @Test
  void laterNonFiniteValueDoesNotReachEarlierRowsOfItsChunk() {
    Random rng = new Random(88);
    int s = 40;
    float[] q = new float[2 * s * 16];
    float[] k = new float[2 * s * 16];
    float[] v = new float[2 * s * 16];
    for (float[] x : new float[][] {q, k, v}) {
      for (int i = 0; i < x.length; i++) {
        x[i] = (float) rng.nextGaussian();
      }
    }
    for (boolean normalize : new boolean[] {true, false}) {
      LinearOptions o = LinearOptions.builder(FeatureMap.elu1()).causal(true)
          .normalize(normalize).chunkSize(16).build();
      Tensor clean = Tensor.zeros(DType.F32, 1, 2, s, 16);
      LinearAttention.forward(Tensor.of(q, 1, 2, s, 16), Tensor.of(k, 1, 2, s, 16),
          Tensor.of(v, 1, 2, s, 16), clean, o);
      for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY}) {
        float[] vb = v.clone();
        int j = 21; // the sixth key of the second chunk
        vb[(s + j) * 16 + 4] = bad; // head 1
        Tensor out = Tensor.zeros(DType.F32, 1, 2, s, 16);
        LinearAttention.forward(Tensor.of(q, 1, 2, s, 16), Tensor.of(k, 1, 2, s, 16),
            Tensor.of(vb, 1, 2, s, 16), out, o);
        for (int h = 0; h < 2; h++) {
          for (int i = 0; i < s; i++) {
            for (int e = 0; e < 16; e++) {
              float got = out.getFloat(0, h, i, e);
              if (h == 1 && i >= j && e == 4) {
                assertTrue(!Float.isFinite(got), "row " + i + " sees the value");
              } else {
                assertEquals(Float.floatToIntBits(clean.getFloat(0, h, i, e)),
                    Float.floatToIntBits(got), "head " + h + " row " + i + " col " + e);
              }
            }
          }
        }
      }
    }
  }
}
