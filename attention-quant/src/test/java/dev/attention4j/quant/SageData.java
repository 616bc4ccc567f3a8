package dev.attention4j.quant;

import dev.attention4j.core.DType;
import dev.attention4j.core.Tensor;
import java.util.SplittableRandom;

/** The accuracy workload of SEMANTICS.md: Gaussian Q, K, V and a per-channel K bias N(0, 8^2). */
final class SageData {
  final Tensor q;
  final Tensor k;
  final Tensor v;

  SageData(long seed, int b, int hq, int hkv, int sq, int sk, int d, double kBias) {
    SplittableRandom rnd = new SplittableRandom(seed);
    q = gaussian(rnd, b, hq, sq, d);
    k = gaussian(rnd, b, hkv, sk, d);
    v = gaussian(rnd, b, hkv, sk, d);
    float[] kd = k.floatData();
    for (int g = 0; g < b * hkv; g++) {
      for (int c = 0; c < d; c++) {
        float bias = (float) (kBias * rnd.nextGaussian());
        for (int j = 0; j < sk; j++) {
          kd[(g * sk + j) * d + c] += bias;
        }
      }
    }
  }

  static Tensor gaussian(SplittableRandom rnd, int... shape) {
    Tensor t = Tensor.zeros(DType.F32, shape);
    float[] x = t.floatData();
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) rnd.nextGaussian();
    }
    return t;
  }
}
