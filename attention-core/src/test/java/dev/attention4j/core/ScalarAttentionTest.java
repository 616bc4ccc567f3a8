package dev.attention4j.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.SplittableRandom;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The scalar fallback against the float64 reference, with the tolerance of SEMANTICS.md. */
class ScalarAttentionTest {

  static Stream<Arguments> seeds() {
    return IntStream.range(0, 30).mapToObj(c -> Arguments.of(0x5CA1A5L + c));
  }

  /** Asserts the SEMANTICS.md tolerance for fast float32 kernels. */
  static void assertWithinTolerance(AttentionResult expected, AttentionResult actual, String what) {
    double[] eo = expected.out().toDoubleArray();
    double[] ao = actual.out().toDoubleArray();
    double maxRef = 0;
    for (double x : eo) {
      maxRef = Math.max(maxRef, Math.abs(x));
    }
    double bound = 1e-4 * Math.max(1, maxRef) + 1e-5;
    for (int i = 0; i < eo.length; i++) {
      if (!(Math.abs(eo[i] - ao[i]) <= bound)) {
        fail(what + ": O[" + i + "] = " + ao[i] + ", reference " + eo[i]);
      }
    }
    double[] el = expected.lse().toDoubleArray();
    double[] al = actual.lse().toDoubleArray();
    for (int i = 0; i < el.length; i++) {
      if (el[i] == Double.NEGATIVE_INFINITY) {
        assertEquals(el[i], al[i], what + ": LSE[" + i + "] must be -inf");
      } else if (!(Math.abs(el[i] - al[i]) <= 1e-4 * Math.max(1, Math.abs(el[i])))) {
        fail(what + ": LSE[" + i + "] = " + al[i] + ", reference " + el[i]);
      }
    }
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void matchesReference(long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    int[] lens = {1, 2, 7, 63, 65, 127};
    int hkv = 1 + rnd.nextInt(2);
    int hq = hkv * (1 + rnd.nextInt(2));
    int sq = lens[rnd.nextInt(lens.length)];
    int sk = lens[rnd.nextInt(lens.length)];
    int d = new int[] {1, 13, 64, 80}[rnd.nextInt(4)];
    int dv = rnd.nextBoolean() ? d : 1 + rnd.nextInt(40);
    DType kvType = DType.values()[rnd.nextInt(DType.values().length)];
    Tensor q = TestTensors.gaussian(rnd, DType.F32, 1, 2, hq, sq, d);
    Tensor k = TestTensors.gaussian(rnd, kvType, 1, 2, hkv, sk, d);
    Tensor v = TestTensors.gaussian(rnd, kvType, 1, 2, hkv, sk, dv);
    AttentionOptions.Builder b = AttentionOptions.builder()
        .causal(rnd.nextBoolean())
        .alignment(rnd.nextBoolean() ? Alignment.TOP_LEFT : Alignment.BOTTOM_RIGHT);
    if (rnd.nextInt(3) == 0) {
      b.window(rnd.nextInt(sk + 1) - 1, rnd.nextInt(sk + 1) - 1);
    }
    if (rnd.nextInt(3) == 0) {
      b.softcap(1 + 10 * rnd.nextDouble());
    }
    if (rnd.nextInt(3) == 0) {
      b.alibiSlopes(IntStream.range(0, hq).mapToDouble(h -> 0.25 / (h + 1)).toArray());
    }
    if (rnd.nextInt(3) == 0) {
      b.kvLens(rnd.nextInt(sk + 1), rnd.nextInt(sk + 1));
    }
    if (rnd.nextInt(4) == 0) {
      int mod = 2 + rnd.nextInt(3);
      b.maskMod((bb, h, i, j) -> (i + j) % mod != 0);
    }
    AttentionOptions o = b.build();
    System.out.printf("seed %d: Hq=%d Hkv=%d Sq=%d Sk=%d D=%d Dv=%d kv=%s %s%n", seed, hq, hkv,
        sq, sk, d, dv, kvType, o);
    assertWithinTolerance(ReferenceAttention.INSTANCE.forward(q, k, v, o),
        ScalarAttention.INSTANCE.forward(q, k, v, o), "seed " + seed);
  }
}
