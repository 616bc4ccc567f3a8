package dev.attention4j.linear;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.core.DType;
import dev.attention4j.core.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * A non-finite value of a later key never reaches an earlier row of a causal call, also inside
 * one chunk (where the masked weights are 0 but {@code 0 * NaN} is NaN); the rows that see it are
 * NaN in every column (SEMANTICS.md).
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
              if (h == 1 && i >= j) {
                assertTrue(Float.isNaN(got), "row " + i + " sees the value: " + got);
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

  @Test
  void referenceAndRecurrentStateGiveTheSameNaNRows() {
    Random rng = new Random(89);
    int s = 30;
    int d = 8;
    float[] q = gaussian(rng, s * d);
    float[] k = gaussian(rng, s * d);
    float[] v = gaussian(rng, s * d);
    int j = 11;
    for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
      for (boolean inKey : new boolean[] {true, false}) {
        float[] kb = k.clone();
        float[] vb = v.clone();
        (inKey ? kb : vb)[j * d + 2] = bad;
        LinearOptions o = LinearOptions.builder(FeatureMap.elu1()).causal(true).build();
        Tensor ref = Tensor.zeros(DType.F64, 1, 1, s, d);
        ReferenceLinearAttention.forward(Tensor.of(q, 1, 1, s, d), Tensor.of(kb, 1, 1, s, d),
            Tensor.of(vb, 1, 1, s, d), ref, o);
        LinearAttentionState state = LinearAttentionState.create(o, 0, 0, d, d);
        float[] row = new float[d];
        for (int i = 0; i < s; i++) {
          state.step(java.util.Arrays.copyOfRange(q, i * d, i * d + d),
              java.util.Arrays.copyOfRange(kb, i * d, i * d + d),
              java.util.Arrays.copyOfRange(vb, i * d, i * d + d), row);
          for (int e = 0; e < d; e++) {
            String what = (inKey ? "key " : "value ") + bad + ", row " + i + ", column " + e;
            assertEquals(i >= j, Double.isNaN(ref.getDouble(0, 0, i, e)), "reference " + what);
            assertEquals(i >= j, Float.isNaN(row[e]), "state " + what);
          }
        }
      }
    }
  }

  @Test
  void hybridRowsThatSeeAnInfiniteKeyAreNaN() {
    Random rng = new Random(90);
    int s = 30;
    int d = 8;
    float[] q = gaussian(rng, s * d);
    float[] k = gaussian(rng, s * d);
    float[] v = gaussian(rng, s * d);
    int j = 11;
    k[j * d + 2] = Float.NEGATIVE_INFINITY;
    LinearOptions o = LinearOptions.builder(FeatureMap.elu1()).causal(true).hybrid(4, 0.5)
        .chunkSize(8).build();
    Tensor fast = Tensor.zeros(DType.F32, 1, 1, s, d);
    Tensor ref = Tensor.zeros(DType.F64, 1, 1, s, d);
    LinearAttention.forward(Tensor.of(q, 1, 1, s, d), Tensor.of(k, 1, 1, s, d),
        Tensor.of(v, 1, 1, s, d), fast, o);
    ReferenceLinearAttention.forward(Tensor.of(q, 1, 1, s, d), Tensor.of(k, 1, 1, s, d),
        Tensor.of(v, 1, 1, s, d), ref, o);
    for (int i = 0; i < s; i++) {
      for (int e = 0; e < d; e++) {
        // rows j .. j + 3 see the key in their softmax window, later rows through the state
        assertEquals(i >= j, Float.isNaN(fast.getFloat(0, 0, i, e)), "fast row " + i);
        assertEquals(i >= j, Double.isNaN(ref.getDouble(0, 0, i, e)), "reference row " + i);
      }
    }
  }

  static float[] gaussian(Random rng, int n) {
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = (float) rng.nextGaussian();
    }
    return x;
  }
}
