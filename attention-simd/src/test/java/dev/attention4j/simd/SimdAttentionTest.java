package dev.attention4j.simd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.core.Alignment;
import dev.attention4j.core.AttentionKernel;
import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionResult;
import dev.attention4j.core.DType;
import dev.attention4j.core.Kernels;
import dev.attention4j.core.Tensor;
import dev.attention4j.core.TileClass;
import java.util.SplittableRandom;
import java.util.concurrent.ForkJoinPool;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The SIMD kernel against the float64 reference, with the tolerance of SEMANTICS.md. */
class SimdAttentionTest {

  @Test
  void missingVectorApiIsNamedInsteadOfNoClassDefFoundError() {
    Lanes.requireVectorApi(true);
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> Lanes.requireVectorApi(false));
    assertTrue(e.getMessage().contains("--add-modules jdk.incubator.vector"), e.getMessage());
    IllegalArgumentException w = assertThrows(IllegalArgumentException.class,
        () -> SimdAttention.withBits(300));
    assertTrue(w.getMessage().startsWith("vector width 300 bits is not supported"),
        w.getMessage());
  }

  static final AttentionKernel KERNEL = new SimdAttention();

  static final int[] LENGTHS = {1, 2, 7, 63, 64, 65, 127, 257};
  static final int[] HEAD_DIMS = {1, 13, 32, 64, 80, 96, 128, 256};

  static Stream<Arguments> seeds() {
    return IntStream.range(0, 60).mapToObj(c -> Arguments.of(0x51D0L + c));
  }

  /** A random problem with random options, small enough for the reference. */
  static void randomCase(long seed, AttentionKernel kernel, long budget) {
    SplittableRandom rnd = new SplittableRandom(seed);
    int batch;
    int hkv;
    int hq;
    int sq;
    int sk;
    int d;
    int dv;
    do {
      batch = 1 + rnd.nextInt(2);
      hkv = 1 + rnd.nextInt(2);
      hq = hkv * new int[] {1, 2, 3}[rnd.nextInt(3)];
      sq = LENGTHS[rnd.nextInt(LENGTHS.length)];
      sk = LENGTHS[rnd.nextInt(LENGTHS.length)];
      d = HEAD_DIMS[rnd.nextInt(HEAD_DIMS.length)];
      dv = rnd.nextInt(3) == 0 ? HEAD_DIMS[rnd.nextInt(HEAD_DIMS.length)] : d;
    } while ((long) batch * hq * sq * sk * (d + dv) > budget);
    DType kvType = DType.values()[rnd.nextInt(DType.values().length)];
    DType qType = rnd.nextInt(4) == 0 ? DType.values()[rnd.nextInt(4)] : DType.F32;
    Tensor q = Support.gaussian(rnd, qType, 1, batch, hq, sq, d);
    Tensor k = Support.gaussian(rnd, kvType, 1, batch, hkv, sk, d);
    Tensor v = Support.gaussian(rnd, kvType, 1, batch, hkv, sk, dv);
    if (rnd.nextInt(4) == 0) {
      q = Support.strided(q);
      k = Support.strided(k);
      v = Support.strided(v);
    }
    AttentionOptions.Builder b = AttentionOptions.builder()
        .causal(rnd.nextBoolean())
        .alignment(rnd.nextBoolean() ? Alignment.TOP_LEFT : Alignment.BOTTOM_RIGHT);
    if (rnd.nextInt(3) == 0) {
      b.window(rnd.nextInt(sk + 1) - 1, rnd.nextInt(sk + 1) - 1);
    }
    if (rnd.nextInt(4) == 0) {
      b.softcap(1 + 10 * rnd.nextDouble());
    }
    if (rnd.nextInt(4) == 0) {
      b.alibiSlopes(IntStream.range(0, hq).mapToDouble(h -> 0.5 / (h + 1)).toArray());
    }
    if (rnd.nextInt(3) == 0) {
      int[] lens = new int[batch];
      for (int i = 0; i < batch; i++) {
        lens[i] = rnd.nextInt(sk + 1);
      }
      b.kvLens(lens);
    }
    if (rnd.nextInt(6) == 0) {
      int mod = 2 + rnd.nextInt(3);
      b.maskMod((bb, h, i, j) -> (i + 2 * j + h) % mod != 0);
    }
    if (rnd.nextInt(6) == 0) {
      b.scoreMod((s, bb, h, i, j) -> s + 0.1 * ((i * 7 + j * 3 + h) % 5));
    }
    if (sq == sk && rnd.nextInt(5) == 0) {
      int[][] ids = new int[batch][sq];
      for (int i = 0; i < batch; i++) {
        int doc = 0;
        for (int t = 0; t < sq; t++) {
          if (rnd.nextInt(20) == 0) {
            doc++;
          }
          ids[i][t] = doc;
        }
      }
      b.documentIds(ids);
    }
    if (rnd.nextInt(5) == 0) {
      // any finite scale, a negative one in a third of the cases
      b.scale(rnd.nextDouble() * 3 - 1);
    }
    AttentionOptions o = b.build();
    String what = String.format("seed %d: B=%d Hq=%d Hkv=%d Sq=%d Sk=%d D=%d Dv=%d q=%s kv=%s %s",
        seed, batch, hq, hkv, sq, sk, d, dv, qType, kvType, o);
    System.out.println(what);
    Support.check(kernel, q, k, v, o, what);
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void randomProblemsMatchReference(long seed) {
    randomCase(seed, KERNEL, 1_500_000);
  }

  @ParameterizedTest(name = "{0} bits")
  @ValueSource(ints = {128, 256, 512})
  void everyVectorWidthMatchesReference(int bits) {
    AttentionKernel kernel = SimdAttention.withBits(bits);
    assertEquals("simd-" + bits, kernel.name());
    for (long seed = 0; seed < 12; seed++) {
      randomCase(0xB175L * bits + seed, kernel, 400_000);
    }
  }

  static Stream<Arguments> awkwardSizes() {
    return Stream.of(
        Arguments.of(1, 1, 1), Arguments.of(2, 7, 13), Arguments.of(7, 2, 32),
        Arguments.of(63, 65, 64), Arguments.of(64, 64, 80), Arguments.of(65, 63, 96),
        Arguments.of(127, 129, 128), Arguments.of(257, 130, 13), Arguments.of(1, 1000, 64),
        Arguments.of(1000, 7, 32), Arguments.of(49, 257, 256), Arguments.of(47, 1, 256));
  }

  @ParameterizedTest(name = "Sq={0} Sk={1} D={2}")
  @MethodSource("awkwardSizes")
  void awkwardSizesAllMaskModes(int sq, int sk, int d) {
    long seed = 31L * sq + 17L * sk + d;
    SplittableRandom rnd = new SplittableRandom(seed);
    System.out.println("awkward sizes seed " + seed);
    Tensor q = Support.gaussian(rnd, DType.F32, 1, 1, 2, sq, d);
    Tensor k = Support.gaussian(rnd, DType.F32, 1, 1, 2, sk, d);
    Tensor v = Support.gaussian(rnd, DType.F32, 1, 1, 2, sk, d + 3);
    for (AttentionOptions o : new AttentionOptions[] {
        AttentionOptions.defaults(),
        AttentionOptions.builder().causal(true).build(),
        AttentionOptions.builder().causal(true).alignment(Alignment.TOP_LEFT).build(),
        AttentionOptions.builder().window(5, 3).build(),
        AttentionOptions.builder().causal(true).window(9, -1).alignment(Alignment.TOP_LEFT)
            .build()}) {
      Support.check(KERNEL, q, k, v, o, "Sq=" + sq + " Sk=" + sk + " D=" + d + " " + o);
    }
  }

  @Test
  void everyOptionAlone() {
    SplittableRandom rnd = new SplittableRandom(42);
    int sq = 100;
    int sk = 150;
    Tensor q = Support.gaussian(rnd, DType.F32, 1, 2, 4, sq, 40);
    Tensor k = Support.gaussian(rnd, DType.F32, 1, 2, 2, sk, 40);
    Tensor v = Support.gaussian(rnd, DType.F32, 1, 2, 2, sk, 24);
    double[] slopes = {0.5, 0.25, 0.125, 0.0625};
    int[][] docs = null;
    AttentionOptions[] cases = {
        AttentionOptions.builder().causal(true).build(),
        AttentionOptions.builder().causal(true).alignment(Alignment.TOP_LEFT).build(),
        AttentionOptions.builder().window(20, 10).build(),
        AttentionOptions.builder().window(-1, 0).build(),
        AttentionOptions.builder().window(0, -1).build(),
        AttentionOptions.builder().softcap(2.5).build(),
        AttentionOptions.builder().softcap(1e9).build(),
        AttentionOptions.builder().alibiSlopes(slopes).build(),
        AttentionOptions.builder().alibiSlopes(slopes).causal(true).build(),
        AttentionOptions.builder().kvLens(0, 77).build(),
        AttentionOptions.builder().kvLens(150, 1).causal(true).build(),
        AttentionOptions.builder().scoreMod((s, b, h, i, j) -> s * 0.5 + (i - j) * 0.01).build(),
        AttentionOptions.builder().scoreMod((s, b, h, i, j) -> j % 3 == 0
            ? Double.NEGATIVE_INFINITY : s).build(),
        AttentionOptions.builder().maskMod((b, h, i, j) -> (i ^ j) % 4 != 1).build(),
        AttentionOptions.builder().maskMod((b, h, i, j) -> j < 70 + h,
            (b, h, i0, i1, j0, j1) -> j1 <= 70 + h ? TileClass.FULL
                : j0 >= 70 + h ? TileClass.EMPTY : TileClass.PARTIAL).build(),
        AttentionOptions.builder().causal(true).window(16, 0).softcap(5).alibiSlopes(slopes)
            .kvLens(120, 140).scale(0.3).build(),
        AttentionOptions.builder().causal(true).alignment(Alignment.TOP_LEFT).window(30, 0)
            .maskMod((b, h, i, j) -> (i + j + h) % 5 != 0)
            .scoreMod((s, b, h, i, j) -> s - 0.01 * j).build(),
    };
    for (AttentionOptions o : cases) {
      Support.check(KERNEL, q, k, v, o, o.toString());
    }
  }

  @Test
  void documentMasksAloneAndWithCausal() {
    SplittableRandom rnd = new SplittableRandom(7);
    int s = 300;
    Tensor q = Support.gaussian(rnd, DType.F32, 1, 2, 2, s, 32);
    Tensor k = Support.gaussian(rnd, DType.F32, 1, 2, 1, s, 32);
    Tensor v = Support.gaussian(rnd, DType.F32, 1, 2, 1, s, 32);
    int[][] ids = new int[2][s];
    for (int t = 0; t < s; t++) {
      ids[0][t] = t / 37;
      ids[1][t] = t < 200 ? 0 : (t < 230 ? 1 : 2);
    }
    int[][] shuffled = new int[2][s];
    for (int t = 0; t < s; t++) {
      shuffled[0][t] = (t * 7) % 3;
      shuffled[1][t] = t % 2;
    }
    for (AttentionOptions o : new AttentionOptions[] {
        AttentionOptions.builder().documentIds(ids).build(),
        AttentionOptions.builder().documentIds(ids).causal(true).build(),
        AttentionOptions.builder().documentIds(shuffled).causal(true).window(50, 0).build()}) {
      Support.check(KERNEL, q, k, v, o, o.toString());
    }
  }

  @Test
  void inputDtypesAndStridesAndOutputs() {
    SplittableRandom rnd = new SplittableRandom(99);
    AttentionOptions o = AttentionOptions.builder().causal(true).build();
    for (DType kv : DType.values()) {
      for (DType qd : new DType[] {DType.F32, kv}) {
        Tensor q = Support.gaussian(rnd, qd, 1, 1, 3, 70, 48);
        Tensor k = Support.gaussian(rnd, kv, 1, 1, 3, 90, 48);
        Tensor v = Support.gaussian(rnd, kv, 1, 1, 3, 90, 20);
        Support.check(KERNEL, q, k, v, o, "q=" + qd + " kv=" + kv);
        Support.check(KERNEL, Support.strided(q), Support.strided(k), Support.strided(v), o,
            "strided q=" + qd + " kv=" + kv);
      }
    }
    // F64 and strided outputs
    Tensor q = Support.gaussian(rnd, DType.F32, 1, 2, 2, 50, 16);
    Tensor k = Support.gaussian(rnd, DType.F32, 1, 2, 2, 60, 16);
    Tensor v = Support.gaussian(rnd, DType.F32, 1, 2, 2, 60, 16);
    AttentionResult ref = Support.reference(q, k, v, o);
    Tensor out64 = Tensor.zeros(DType.F64, 2, 2, 50, 16);
    Tensor lse64 = Tensor.zeros(DType.F64, 2, 2, 50);
    KERNEL.forward(q, k, v, out64, lse64, o);
    Support.assertClose(ref, new AttentionResult(out64, lse64), "F64 outputs");
    Tensor outS = Tensor.zeros(DType.F32, 2, 50, 2, 16).permute(0, 2, 1, 3);
    Tensor lseS = Tensor.zeros(DType.F32, 2, 50, 2).permute(0, 2, 1);
    KERNEL.forward(q, k, v, outS, lseS, o);
    Support.assertClose(ref, new AttentionResult(outS, lseS), "strided outputs");
    // a strided view along D (every second element)
    Tensor wide = Support.gaussian(rnd, DType.F32, 1, 2, 2, 60, 32);
    Tensor kHalf = wide.view(new int[] {2, 2, 60, 16}, new long[] {2 * 60 * 32, 60 * 32, 32, 2}, 1);
    Support.check(KERNEL, q, kHalf, v, o, "K with stride 2 along D");
    // no LSE requested
    Tensor out = Tensor.zeros(DType.F32, 2, 2, 50, 16);
    KERNEL.forward(q, k, v, out, null, o);
    Support.assertClose(ref, new AttentionResult(out, null), "without LSE");
  }

  @Test
  void gqaEqualsRepeatedHeads() {
    SplittableRandom rnd = new SplittableRandom(5);
    Tensor q = Support.gaussian(rnd, DType.F32, 1, 1, 6, 3, 64);
    Tensor k = Support.gaussian(rnd, DType.F32, 1, 1, 2, 200, 64);
    Tensor v = Support.gaussian(rnd, DType.F32, 1, 1, 2, 200, 64);
    Tensor kr = Tensor.zeros(DType.F32, 1, 6, 200, 64);
    Tensor vr = Tensor.zeros(DType.F32, 1, 6, 200, 64);
    for (int h = 0; h < 6; h++) {
      kr.slice(1, h, h + 1).copyFrom(k.slice(1, h / 3, h / 3 + 1));
      vr.slice(1, h, h + 1).copyFrom(v.slice(1, h / 3, h / 3 + 1));
    }
    AttentionOptions o = AttentionOptions.builder().causal(true).build();
    AttentionResult gqa = Support.check(KERNEL, q, k, v, o, "GQA decode");
    AttentionResult mha = Support.run(KERNEL, q, kr, vr, o);
    Support.assertClose(mha, gqa, "GQA vs repeated heads");
    // MQA, a longer query
    Tensor q2 = Support.gaussian(rnd, DType.F32, 1, 1, 4, 77, 64);
    Support.check(KERNEL, q2, k.slice(1, 0, 1), v.slice(1, 0, 1), o, "MQA");
  }

  @ParameterizedTest(name = "{0} threads")
  @ValueSource(ints = {2, 3})
  void threadCountsAreBitwiseEqual(int threads) {
    SplittableRandom rnd = new SplittableRandom(11);
    Tensor q = Support.gaussian(rnd, DType.F32, 1, 2, 4, 300, 64);
    Tensor k = Support.gaussian(rnd, DType.F32, 1, 2, 2, 300, 64);
    Tensor v = Support.gaussian(rnd, DType.F32, 1, 2, 2, 300, 64);
    AttentionOptions o = AttentionOptions.builder().causal(true).softcap(20).build();
    ForkJoinPool one = new ForkJoinPool(1);
    ForkJoinPool many = new ForkJoinPool(threads);
    try {
      AttentionResult a = Support.run(new SimdAttention(one), q, k, v, o);
      AttentionResult b = Support.run(new SimdAttention(many), q, k, v, o);
      AttentionResult c = Support.run(new SimdAttention(many), q, k, v, o);
      assertArrayEquals(a.out().toFloatArray(), b.out().toFloatArray());
      assertArrayEquals(a.lse().toFloatArray(), b.lse().toFloatArray());
      assertArrayEquals(b.out().toFloatArray(), c.out().toFloatArray());
      AttentionResult common = Support.run(new SimdAttention(), q, k, v, o);
      assertArrayEquals(a.out().toFloatArray(), common.out().toFloatArray());
      assertArrayEquals(a.lse().toFloatArray(), common.lse().toFloatArray());
      Support.assertClose(Support.reference(q, k, v, o), a, "threads");
    } finally {
      one.shutdown();
      many.shutdown();
    }
  }

  @Test
  void providerIsSimd() {
    assertEquals("simd", Kernels.provider().name());
    assertTrue(Kernels.dense() instanceof SimdAttention, Kernels.dense().name());
    assertEquals("simd", new SimdKernelProvider().name());
  }

  @Test
  void rejectsBadArguments() {
    assertThrows(IllegalArgumentException.class, () -> SimdAttention.withBits(64));
    Tensor q = Tensor.zeros(DType.F32, 1, 3, 4, 8);
    Tensor k = Tensor.zeros(DType.F32, 1, 2, 4, 8);
    assertThrows(IllegalArgumentException.class,
        () -> KERNEL.forward(q, k, k, AttentionOptions.defaults()));
  }
}
