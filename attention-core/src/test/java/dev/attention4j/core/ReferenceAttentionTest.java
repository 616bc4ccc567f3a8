package dev.attention4j.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.SplittableRandom;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The float64 reference against an independent naive formulation of SEMANTICS.md. */
class ReferenceAttentionTest {

  static final int[] LENGTHS = {1, 2, 7, 63, 65, 127, 257};
  static final int[] DIMS = {1, 13, 64, 80, 128};
  static final long BASE_SEED = 0x5EED_2026L;

  static Stream<Arguments> randomCases() {
    return IntStream.range(0, 48).mapToObj(c -> Arguments.of(BASE_SEED + c));
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("randomCases")
  void matchesNaiveFormulation(long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    int nb = 1 + rnd.nextInt(2);
    int hkv = 1 + rnd.nextInt(2);
    int hq = hkv * (1 + rnd.nextInt(3));
    int sq = LENGTHS[rnd.nextInt(LENGTHS.length)];
    int sk = LENGTHS[rnd.nextInt(LENGTHS.length)];
    int d = DIMS[rnd.nextInt(DIMS.length)];
    int dv = rnd.nextBoolean() ? d : DIMS[rnd.nextInt(DIMS.length)];
    // keep each case cheap: the naive oracle is O(B Hq Sq Sk (D + Dv))
    if ((long) nb * hq * sq * sk * (d + dv) > 60_000_000L) {
      sq = Math.min(sq, 65);
    }
    Tensor q = TestTensors.gaussian(rnd, DType.F64, 1.0, nb, hq, sq, d);
    Tensor k = TestTensors.gaussian(rnd, DType.F64, 1.0, nb, hkv, sk, d);
    Tensor v = TestTensors.gaussian(rnd, DType.F64, 1.0, nb, hkv, sk, dv);

    NaiveAttention naive = new NaiveAttention();
    AttentionOptions.Builder ob = AttentionOptions.builder();
    if (rnd.nextInt(3) == 0) {
      naive.scale = 0.05 + rnd.nextDouble();
      ob.scale(naive.scale);
    }
    naive.causal = rnd.nextBoolean();
    ob.causal(naive.causal);
    naive.topLeft = rnd.nextBoolean();
    ob.alignment(naive.topLeft ? Alignment.TOP_LEFT : Alignment.BOTTOM_RIGHT);
    if (rnd.nextInt(3) == 0) {
      naive.left = rnd.nextInt(4) == 0 ? -1 : rnd.nextInt(Math.max(1, sk));
      naive.right = rnd.nextInt(4) == 0 ? -1 : rnd.nextInt(Math.max(1, sk));
      ob.window(naive.left, naive.right);
    }
    if (rnd.nextInt(3) == 0) {
      naive.softcap = 0.5 + 20 * rnd.nextDouble();
      ob.softcap(naive.softcap);
    }
    if (rnd.nextInt(3) == 0) {
      naive.slopes = new double[hq];
      for (int h = 0; h < hq; h++) {
        naive.slopes[h] = Math.pow(2, -8.0 * (h + 1) / hq);
      }
      ob.alibiSlopes(naive.slopes);
    }
    if (rnd.nextInt(3) == 0) {
      naive.kvLens = new int[nb];
      for (int b = 0; b < nb; b++) {
        naive.kvLens[b] = rnd.nextInt(sk + 1);
      }
      ob.kvLens(naive.kvLens);
    }
    AttentionOptions opts = ob.build();
    System.out.printf("seed %d: B=%d Hq=%d Hkv=%d Sq=%d Sk=%d D=%d Dv=%d %s%n", seed, nb, hq, hkv,
        sq, sk, d, dv, opts);

    AttentionResult r = ReferenceAttention.INSTANCE.forward(q, k, v, opts);
    naive.run(NaiveAttention.unpack(q), NaiveAttention.unpack(k), NaiveAttention.unpack(v));
    assertMatches(naive, r, 1e-9, "seed " + seed);
  }

  static void assertMatches(NaiveAttention naive, AttentionResult r, double tol, String what) {
    double maxO = 0;
    for (double[][][] a : naive.o) {
      for (double[][] bb : a) {
        for (double[] row : bb) {
          for (double x : row) {
            maxO = Math.max(maxO, Math.abs(x));
          }
        }
      }
    }
    double bound = tol * Math.max(1, maxO);
    Tensor o = r.out();
    for (int b = 0; b < o.dim(0); b++) {
      for (int h = 0; h < o.dim(1); h++) {
        for (int i = 0; i < o.dim(2); i++) {
          double el = naive.lse[b][h][i];
          double al = r.lse().getDouble(b, h, i);
          if (el == Double.NEGATIVE_INFINITY) {
            assertEquals(el, al, what + ": LSE of empty row " + b + "," + h + "," + i);
          } else {
            assertEquals(el, al, tol * Math.max(1, Math.abs(el)),
                what + ": LSE at " + b + "," + h + "," + i);
          }
          for (int c = 0; c < o.dim(3); c++) {
            double x = o.getDouble(b, h, i, c);
            if (!(Math.abs(x - naive.o[b][h][i][c]) <= bound)) {
              fail(what + ": O differs at " + b + "," + h + "," + i + "," + c + ": " + x + " vs "
                  + naive.o[b][h][i][c]);
            }
          }
        }
      }
    }
  }
}
