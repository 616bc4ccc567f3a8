package dev.attention4j.cli;

import dev.attention4j.core.DType;
import dev.attention4j.core.Tensor;
import java.util.SplittableRandom;

/** Seeded standard-normal float32 tensors for {@code bench} and {@code demo}. */
final class RandomTensors {

  private RandomTensors() {
  }

  /** A contiguous float32 tensor of N(0, 1) values from {@code rng}. */
  static Tensor gaussian(SplittableRandom rng, int... shape) {
    Tensor t = SoftmaxRunCommand.allocate("tensor " + java.util.Arrays.toString(shape), DType.F32,
        shape);
    float[] data = t.floatData();
    for (int e = 0; e < data.length; e++) {
      data[e] = (float) rng.nextGaussian();
    }
    return t;
  }
}
