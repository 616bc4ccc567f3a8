package dev.attention4j.core;

import java.util.SplittableRandom;

/** Seeded random tensors for tests. */
final class TestTensors {
  private TestTensors() {
  }

  static Tensor gaussian(SplittableRandom rnd, DType dtype, double sigma, int... shape) {
    Tensor t = Tensor.zeros(dtype, shape);
    long[] at = t.storageIndices();
    for (long i : at) {
      t.setAt(i, sigma * gauss(rnd));
    }
    return t;
  }

  static double gauss(SplittableRandom rnd) {
    // Box-Muller
    double u = 1.0 - rnd.nextDouble();
    double w = rnd.nextDouble();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * w);
  }

  /** Largest |x| over a tensor. */
  static double maxAbs(Tensor t) {
    double m = 0;
    for (double x : t.toDoubleArray()) {
      m = Math.max(m, Math.abs(x));
    }
    return m;
  }
}
