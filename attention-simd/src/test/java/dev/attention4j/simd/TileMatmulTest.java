package dev.attention4j.simd;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** {@link TileMatmul#multiply} against its scalar twin over awkward sizes and strides. */
class TileMatmulTest {

  static Stream<Arguments> sizes() {
    int[] ms = {1, 7, 8, 9, 17, 64};
    int[] ns = {1, 5, 16, 31, 32, 48, 64, 80, 128, 131};
    int[] ks = {1, 3, 64};
    Stream.Builder<Arguments> b = Stream.builder();
    long seed = 1;
    for (int m : ms) {
      for (int n : ns) {
        for (int k : ks) {
          b.add(Arguments.of(m, n, k, seed++));
        }
      }
    }
    return b.build();
  }

  @ParameterizedTest(name = "m={0} n={1} k={2} seed={3}")
  @MethodSource("sizes")
  void matchesScalar(int m, int n, int k, long seed) {
    System.out.println("TileMatmulTest seed " + seed);
    SplittableRandom rnd = new SplittableRandom(seed);
    for (boolean transposedA : new boolean[] {false, true}) {
      for (boolean acc : new boolean[] {false, true}) {
        int a0 = 3;
        int ars = transposedA ? 1 : k + 2;
        int acs = transposedA ? m + 1 : 1;
        float[] a = random(rnd, a0 + m * ars + k * acs + 1);
        int b0 = 5;
        int ldb = n + 3;
        float[] b = random(rnd, b0 + k * ldb + 1);
        int c0 = 2;
        int ldc = n + 7;
        float[] c = random(rnd, c0 + m * ldc + 1);
        float[] expect = c.clone();
        for (int i = 0; i < m; i++) {
          for (int j = 0; j < n; j++) {
            double s = acc ? c[c0 + i * ldc + j] : 0;
            for (int p = 0; p < k; p++) {
              s += (double) a[a0 + i * ars + p * acs] * b[b0 + p * ldb + j];
            }
            expect[c0 + i * ldc + j] = (float) s;
          }
        }
        TileMatmul.multiply(m, n, k, a, a0, ars, acs, b, b0, ldb, c, c0, ldc, acc);
        // tolerance from the size: k products of values below 1 plus the accumulator
        double tol = 1e-6 * (k + 2);
        for (int i = 0; i < c.length; i++) {
          assertEquals(expect[i], c[i], tol, "element " + i + " (transposedA=" + transposedA
              + ", accumulate=" + acc + ")");
        }
      }
    }
  }

  private static float[] random(SplittableRandom rnd, int n) {
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = (float) (2 * rnd.nextDouble() - 1);
    }
    return x;
  }
}
