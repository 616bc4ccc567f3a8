package dev.attention4j.simd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.core.Alignment;
import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionResult;
import dev.attention4j.core.DType;
import dev.attention4j.core.PagedKvCache;
import dev.attention4j.core.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ForkJoinPool;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Decoding: few query rows against long keys (row-mode microkernels, automatic and explicit
 * split-KV) and the paged KV cache read in place, against the float64 reference with the
 * SEMANTICS.md tolerance; bitwise determinism across thread counts.
 */
class DecodeTest {

  static final ForkJoinPool[] POOLS = {new ForkJoinPool(1), new ForkJoinPool(2),
      new ForkJoinPool(3)};
  static final SimdAttention KERNEL = new SimdAttention(POOLS[1]);

  @AfterAll
  static void shutdown() {
    for (ForkJoinPool p : POOLS) {
      p.shutdown();
    }
  }

  static Stream<Arguments> seeds(int n, long base) {
    return IntStream.range(0, n).mapToObj(c -> Arguments.of(base + c));
  }

  static Stream<Arguments> decodeSeeds() {
    return seeds(16, 0xDEC0L);
  }

  static Stream<Arguments> pagedSeeds() {
    return seeds(20, 0xFA6EL);
  }

  static Stream<Arguments> longSeeds() {
    return seeds(60, 0x10DEC0L);
  }

  /** Random decode options: causal/window/ALiBi/softcap in both alignments. */
  static AttentionOptions.Builder randomOptions(SplittableRandom rnd, int hq, int sk) {
    AttentionOptions.Builder b = AttentionOptions.builder()
        .causal(rnd.nextBoolean())
        .alignment(rnd.nextInt(4) == 0 ? Alignment.TOP_LEFT : Alignment.BOTTOM_RIGHT);
    if (rnd.nextInt(3) == 0) {
      b.window(rnd.nextInt(sk + 1) - 1, rnd.nextInt(4) == 0 ? rnd.nextInt(sk + 1) - 1 : -1);
    }
    if (rnd.nextInt(4) == 0) {
      b.softcap(1 + 10 * rnd.nextDouble());
    }
    if (rnd.nextInt(4) == 0) {
      b.alibiSlopes(IntStream.range(0, hq).mapToDouble(h -> Math.pow(2, -8.0 * (h + 1) / hq))
          .toArray());
    }
    if (rnd.nextInt(8) == 0) {
      b.scoreMod((s, bb, h, i, j) -> s + 0.1 * ((i * 7 + j * 3 + h) % 5));
    }
    return b;
  }

  static int[] groupShape(SplittableRandom rnd) {
    // {Hq, Hkv}: GQA 32/8, MQA 8/1 and 32/1, MHA 2/2, odd group 6/2
    int[][] shapes = {{32, 8}, {8, 1}, {32, 1}, {2, 2}, {6, 2}, {4, 1}};
    return shapes[rnd.nextInt(shapes.length)];
  }

  // ---- contiguous decode (row mode, automatic split)

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("decodeSeeds")
  void decodeMatchesReference(long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    int[] hs = groupShape(rnd);
    int batch = 1 + rnd.nextInt(2);
    int sq = 1 + rnd.nextInt(rnd.nextBoolean() ? 1 : 3);
    int sk = new int[] {1, 5, 130, 2048, 2500, 4100}[rnd.nextInt(6)];
    int d = new int[] {16, 64, 80, 128, 13}[rnd.nextInt(5)];
    DType kvType = new DType[] {DType.F32, DType.F16, DType.BF16}[rnd.nextInt(3)];
    Tensor q = Support.gaussian(rnd, DType.F32, 1, batch, hs[0], sq, d);
    Tensor k = Support.gaussian(rnd, kvType, 1, batch, hs[1], sk, d);
    Tensor v = Support.gaussian(rnd, kvType, 1, batch, hs[1], sk, d);
    AttentionOptions.Builder b = randomOptions(rnd, hs[0], sk);
    if (rnd.nextInt(3) == 0) {
      int[] lens = new int[batch];
      for (int i = 0; i < batch; i++) {
        lens[i] = rnd.nextInt(4) == 0 ? 0 : rnd.nextInt(sk + 1);
      }
      b.kvLens(lens);
    }
    AttentionOptions o = b.build();
    String what = String.format("seed %d: B=%d Hq=%d Hkv=%d Sq=%d Sk=%d D=%d kv=%s split=%d %s",
        seed, batch, hs[0], hs[1], sq, sk, d, kvType,
        KERNEL.engine(q, k, v, o).splitKeys(), o);
    System.out.println(what);
    Support.check(KERNEL, q, k, v, o, what);
  }

  /** A float32 cache above {@link DenseEngine#TOUCH_MIN_BYTES}: its tiles are touched first. */
  @Test
  void largeCacheIsTouchedFirstAndMatchesReference() {
    SplittableRandom rnd = new SplittableRandom(0x70C4L);
    int sk = 50_000;
    int d = 128;
    Tensor q = Support.gaussian(rnd, DType.F32, 1, 1, 4, 1, d);
    Tensor k = Support.gaussian(rnd, DType.F32, 1, 1, 1, sk, d);
    Tensor v = Support.gaussian(rnd, DType.F32, 1, 1, 1, sk, d);
    AttentionOptions o = AttentionOptions.builder().causal(true).build();
    assertTrue(4L * sk * 2 * d > DenseEngine.TOUCH_MIN_BYTES);
    assertTrue(KERNEL.engine(q, k, v, o).touchesRows());
    assertTrue(!KERNEL.engine(q, k.slice(2, 0, 1000), v.slice(2, 0, 1000), o).touchesRows());
    Support.check(KERNEL, q, k, v, o, "Sk = " + sk + ", touched");
  }

  /**
   * Float16 and bfloat16 caches above {@link DenseEngine#TOUCH_MIN_BYTES}, contiguous and paged:
   * their rows are touched before they are converted, and the result is the reference's.
   */
  @ParameterizedTest(name = "{0}")
  @EnumSource(value = DType.class, names = {"F16", "BF16"})
  void largeHalfCacheIsTouchedFirstAndMatchesReference(DType dtype) {
    SplittableRandom rnd = new SplittableRandom(0x7016L);
    int sk = 100_000;
    int d = 128;
    Tensor q = Support.gaussian(rnd, DType.F32, 1, 1, 4, 1, d);
    Tensor k = Support.gaussian(rnd, dtype, 1, 1, 1, sk, d);
    Tensor v = Support.gaussian(rnd, dtype, 1, 1, 1, sk, d);
    AttentionOptions o = AttentionOptions.defaults();
    assertTrue(2L * sk * 2 * d > DenseEngine.TOUCH_MIN_BYTES);
    assertTrue(KERNEL.engine(q, k, v, o).touchesRows());
    Support.check(KERNEL, q, k, v, o, dtype + ", Sk = " + sk + ", touched");
    Filled f = fill(rnd, 1, d, d, 256, dtype, new int[] {sk});
    Tensor out = Tensor.zeros(DType.F32, 1, 4, 1, d);
    Tensor lse = Tensor.zeros(DType.F32, 1, 4, 1);
    KERNEL.forwardPaged(q, f.cache(), f.seqIds(), out, lse, o);
    Tensor[] kv = f.cache().gather(f.seqIds());
    Support.assertClose(Support.reference(q, kv[0], kv[1], o.toBuilder().kvLens(new int[] {sk})
        .build()), new AttentionResult(out, lse), dtype + " paged, Sk = " + sk + ", touched");
  }

  @Test
  void automaticSplitDependsOnShapeOnly() {
    Tensor q = Tensor.zeros(DType.F32, 1, 32, 1, 128);
    Tensor k = Tensor.zeros(DType.F32, 1, 8, 32768, 128);
    for (ForkJoinPool p : POOLS) {
      DenseEngine e = new SimdAttention(p).engine(q, k, k, AttentionOptions.defaults());
      assertEquals(4096, e.splitKeys(), "8 query tiles over 32768 keys: 8 chunks");
    }
    Tensor shortK = Tensor.zeros(DType.F32, 1, 8, 1000, 128);
    assertEquals(0, KERNEL.engine(q, shortK, shortK, AttentionOptions.defaults()).splitKeys());
    Tensor prefillQ = Tensor.zeros(DType.F32, 1, 32, 2048, 128);
    assertEquals(0, KERNEL.engine(prefillQ, k, k, AttentionOptions.defaults()).splitKeys(),
        "enough query tiles: no split");
  }

  // ---- explicit split-KV

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("decodeSeeds")
  void splitKvEqualsUnsplitAndReference(long seed) {
    SplittableRandom rnd = new SplittableRandom(seed ^ 0x5EED);
    int[] hs = groupShape(rnd);
    int batch = 1 + rnd.nextInt(2);
    int sq = rnd.nextInt(3) == 0 ? 1 + rnd.nextInt(70) : 1 + rnd.nextInt(3);
    int sk = 1 + rnd.nextInt(1500);
    int d = new int[] {32, 64, 128, 24}[rnd.nextInt(4)];
    Tensor q = Support.gaussian(rnd, DType.F32, 1, batch, hs[0], sq, d);
    Tensor k = Support.gaussian(rnd, DType.F32, 1, batch, hs[1], sk, d);
    Tensor v = Support.gaussian(rnd, DType.F32, 1, batch, hs[1], sk, d);
    AttentionOptions.Builder b = randomOptions(rnd, hs[0], sk);
    if (rnd.nextBoolean()) {
      int[] lens = new int[batch];
      for (int i = 0; i < batch; i++) {
        lens[i] = rnd.nextInt(sk + 1);
      }
      b.kvLens(lens);
    }
    AttentionOptions o = b.build();
    int chunk = new int[] {1, 7, 128, 300, 1000}[rnd.nextInt(5)];
    String what = String.format("seed %d: B=%d Hq=%d Hkv=%d Sq=%d Sk=%d D=%d chunk=%d %s", seed,
        batch, hs[0], hs[1], sq, sk, d, chunk, o);
    System.out.println(what);
    AttentionResult unsplit = runSplit(KERNEL, q, k, v, o, 0);
    AttentionResult split = runSplit(KERNEL, q, k, v, o, chunk);
    Support.assertClose(unsplit, split, what + " (split vs unsplit)");
    Support.assertClose(Support.reference(q, k, v, o), split, what + " (split vs reference)");
  }

  @Test
  void emptyChunksAndFullyMaskedRowsGiveZeroAndMinusInfinity() {
    SplittableRandom rnd = new SplittableRandom(77);
    Tensor q = Support.gaussian(rnd, DType.F32, 1, 2, 8, 3, 64);
    Tensor k = Support.gaussian(rnd, DType.F32, 1, 2, 2, 900, 64);
    Tensor v = Support.gaussian(rnd, DType.F32, 1, 2, 2, 900, 64);
    // batch 0 sees no key at all; batch 1 a window of 4 keys inside one chunk of 100
    AttentionOptions o = AttentionOptions.builder().causal(true).window(3, 0)
        .kvLens(0, 650).build();
    AttentionResult split = runSplit(KERNEL, q, k, v, o, 100);
    Support.assertClose(Support.reference(q, k, v, o), split, "empty chunks");
    for (float x : split.out().slice(0, 0, 1).toFloatArray()) {
      assertEquals(0f, x);
    }
    for (float x : split.lse().slice(0, 0, 1).toFloatArray()) {
      assertEquals(Float.NEGATIVE_INFINITY, x);
    }
  }

  static AttentionResult runSplit(SimdAttention kernel, Tensor q, Tensor k, Tensor v,
      AttentionOptions o, int chunk) {
    Tensor out = Tensor.zeros(DType.F32, q.dim(0), q.dim(1), q.dim(2), v.dim(3));
    Tensor lse = Tensor.zeros(DType.F32, q.dim(0), q.dim(1), q.dim(2));
    kernel.forwardSplitKv(q, k, v, out, lse, o, chunk);
    return new AttentionResult(out, lse);
  }

  // ---- threads

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("decodeSeeds")
  void threadCountsGiveBitwiseTheSameResult(long seed) {
    SplittableRandom rnd = new SplittableRandom(seed ^ 0x7EAD);
    int[] hs = groupShape(rnd);
    int sk = 2048 + rnd.nextInt(3000);
    int sq = 1 + rnd.nextInt(2);
    Tensor q = Support.gaussian(rnd, DType.F32, 1, 1, hs[0], sq, 64);
    Tensor k = Support.gaussian(rnd, DType.F32, 1, 1, hs[1], sk, 64);
    Tensor v = Support.gaussian(rnd, DType.F32, 1, 1, hs[1], sk, 64);
    AttentionOptions o = randomOptions(rnd, hs[0], sk).build();
    int chunk = 64 + rnd.nextInt(900);
    List<float[]> outs = new ArrayList<>();
    for (ForkJoinPool p : POOLS) {
      SimdAttention kernel = new SimdAttention(p);
      outs.add(Support.run(kernel, q, k, v, o).out().toFloatArray());
      outs.add(runSplit(kernel, q, k, v, o, chunk).out().toFloatArray());
      outs.add(runSplit(kernel, q, k, v, o, 0).out().toFloatArray());
    }
    System.out.println("seed " + seed + ": Hq=" + hs[0] + " Hkv=" + hs[1] + " Sk=" + sk
        + " chunk=" + chunk);
    for (int i = 3; i < outs.size(); i++) {
      assertArrayEquals(outs.get(i % 3), outs.get(i), "seed " + seed + ", variant " + i % 3
          + ", pool " + i / 3);
    }
  }

  // ---- paged cache

  /** A cache filled by interleaved appends, NaN in every unfilled slot. */
  record Filled(PagedKvCache cache, int[] seqIds, Tensor k, Tensor v, int[] lens) {
  }

  static Filled fill(SplittableRandom rnd, int hkv, int d, int dv, int pageSize, DType dtype,
      int[] lens) {
    int batch = lens.length;
    int max = 0;
    for (int l : lens) {
      max = Math.max(max, l);
    }
    PagedKvCache cache = new PagedKvCache(hkv, d, dv, pageSize, 1 << 20, dtype);
    // a decoy sequence that is freed, so that pages are recycled (with stale contents)
    int decoy = cache.newSequence();
    cache.append(decoy, Support.gaussian(rnd, DType.F32, 1, hkv, 2 * pageSize + 1, d),
        Support.gaussian(rnd, DType.F32, 1, hkv, 2 * pageSize + 1, dv));
    cache.free(decoy);
    int[] ids = new int[batch];
    for (int b = 0; b < batch; b++) {
      ids[b] = cache.newSequence();
    }
    Tensor k = Support.gaussian(rnd, DType.F32, 1, batch, hkv, max, d);
    Tensor v = Support.gaussian(rnd, DType.F32, 1, batch, hkv, max, dv);
    int[] done = new int[batch];
    boolean more = true;
    while (more) {
      more = false;
      for (int b = 0; b < batch; b++) {
        int n = Math.min(lens[b] - done[b], rnd.nextInt(3) == 0 ? 1 : 1 + rnd.nextInt(300));
        if (n > 0) {
          cache.append(ids[b], k.slice(0, b, b + 1).slice(2, done[b], done[b] + n).view(
              new int[] {hkv, n, d}, new long[] {k.stride(1), k.stride(2), k.stride(3)},
              k.offset() + b * k.stride(0) + done[b] * k.stride(2)),
              v.slice(0, b, b + 1).slice(2, done[b], done[b] + n).view(
              new int[] {hkv, n, dv}, new long[] {v.stride(1), v.stride(2), v.stride(3)},
              v.offset() + b * v.stride(0) + done[b] * v.stride(2)));
          done[b] += n;
          more |= done[b] < lens[b];
        }
      }
    }
    // garbage past every length
    for (int b = 0; b < batch; b++) {
      int len = lens[b];
      if (len % pageSize != 0) {
        int p = cache.page(ids[b], len / pageSize);
        for (Tensor page : new Tensor[] {cache.keyPage(p), cache.valuePage(p)}) {
          page.slice(1, len % pageSize, pageSize).fill(Double.NaN);
        }
      }
    }
    return new Filled(cache, ids, k, v, lens);
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("pagedSeeds")
  void pagedMatchesContiguousAndReference(long seed) {
    pagedCase(seed, 1 << 25);
  }

  static void pagedCase(long seed, long budget) {
    SplittableRandom rnd = new SplittableRandom(seed);
    int[] hs = groupShape(rnd);
    int batch = 1 + rnd.nextInt(3);
    int pageSize = new int[] {1, 3, 16, 128, 256}[rnd.nextInt(5)];
    DType dtype = new DType[] {DType.F32, DType.F16, DType.BF16}[rnd.nextInt(3)];
    int d = new int[] {16, 64, 128, 20}[rnd.nextInt(4)];
    int dv = rnd.nextInt(4) == 0 ? 48 : d;
    int sq = rnd.nextInt(4) == 0 ? 2 : 1;
    int[] lens = new int[batch];
    long work;
    do {
      for (int b = 0; b < batch; b++) {
        lens[b] = new int[] {0, 1, 2, 255, 256, 257, 1000, 2500, 5000}[rnd.nextInt(9)];
      }
      work = 0;
      for (int l : lens) {
        work += (long) l * hs[0] * sq * (d + dv);
      }
    } while (work > budget);
    Filled f = fill(rnd, hs[1], d, dv, pageSize, dtype, lens);
    Tensor q = Support.gaussian(rnd, DType.F32, 1, batch, hs[0], sq, d);
    AttentionOptions o = randomOptions(rnd, hs[0], 1000).build();
    String what = String.format("seed %d: B=%d Hq=%d Hkv=%d Sq=%d lens=%s D=%d Dv=%d page=%d %s %s",
        seed, batch, hs[0], hs[1], sq, java.util.Arrays.toString(lens), d, dv, pageSize, dtype, o);
    System.out.println(what);
    Tensor out = Tensor.zeros(DType.F32, batch, hs[0], sq, dv);
    Tensor lse = Tensor.zeros(DType.F32, batch, hs[0], sq);
    KERNEL.forwardPaged(q, f.cache(), f.seqIds(), out, lse, o);
    AttentionResult paged = new AttentionResult(out, lse);
    Tensor[] kv = f.cache().gather(f.seqIds());
    AttentionOptions withLens = o.toBuilder().kvLens(lens).build();
    AttentionResult contiguous = Support.run(KERNEL, q, kv[0], kv[1], withLens);
    Support.assertClose(contiguous, paged, what + " (paged vs contiguous)");
    Support.assertClose(Support.reference(q, kv[0], kv[1], withLens), paged,
        what + " (paged vs reference)");
    for (float x : out.toFloatArray()) {
      assertTrue(!Float.isNaN(x), what + ": NaN leaked from an unfilled slot");
    }
  }

  @Test
  void pagedIsBitwiseTheSameForAnyThreadCount() {
    SplittableRandom rnd = new SplittableRandom(5150);
    Filled f = fill(rnd, 8, 128, 128, 128, DType.F16, new int[] {4500, 1, 0, 3000});
    Tensor q = Support.gaussian(rnd, DType.F32, 1, 4, 32, 1, 128);
    float[] first = null;
    for (ForkJoinPool p : POOLS) {
      Tensor out = Tensor.zeros(DType.F32, 4, 32, 1, 128);
      new SimdAttention(p).forwardPaged(q, f.cache(), f.seqIds(), out, null,
          AttentionOptions.defaults());
      if (first == null) {
        first = out.toFloatArray();
      } else {
        assertArrayEquals(first, out.toFloatArray(), "pool " + p.getParallelism());
      }
    }
  }

  @Test
  void pagedRejectsKvLensAndBadSequences() {
    SplittableRandom rnd = new SplittableRandom(9);
    Filled f = fill(rnd, 2, 16, 16, 4, DType.F32, new int[] {5});
    Tensor q = Support.gaussian(rnd, DType.F32, 1, 1, 4, 1, 16);
    Tensor out = Tensor.zeros(DType.F32, 1, 4, 1, 16);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> KERNEL.forwardPaged(q, f.cache(), f.seqIds(), out, null,
            AttentionOptions.builder().kvLens(5).build()));
    assertTrue(e.getMessage().contains("kvLens must be null"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> KERNEL.forwardPaged(q, f.cache(),
        new int[] {7}, out, null, AttentionOptions.defaults()));
    assertTrue(e.getMessage().contains("seqIds[0] = 7"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> KERNEL.forwardPaged(q, f.cache(),
        new int[] {1, 1}, out, null, AttentionOptions.defaults()));
    assertTrue(e.getMessage().contains("seqIds has 2 entries"), e.getMessage());
  }

  @Test
  void narrowerVectorWidthsAgree() {
    SplittableRandom rnd = new SplittableRandom(31337);
    Filled f = fill(rnd, 2, 64, 64, 16, DType.F32, new int[] {700, 33});
    Tensor q = Support.gaussian(rnd, DType.F32, 1, 2, 8, 1, 64);
    Tensor[] kv = f.cache().gather(f.seqIds());
    AttentionOptions o = AttentionOptions.builder().causal(true).softcap(20).build();
    AttentionOptions withLens = o.toBuilder().kvLens(f.lens()).build();
    AttentionResult ref = Support.reference(q, kv[0], kv[1], withLens);
    for (int bits : new int[] {128, 256}) {
      SimdAttention kernel = SimdAttention.withBits(bits, POOLS[0]);
      Tensor out = Tensor.zeros(DType.F32, 2, 8, 1, 64);
      Tensor lse = Tensor.zeros(DType.F32, 2, 8, 1);
      kernel.forwardPaged(q, f.cache(), f.seqIds(), out, lse, o);
      Support.assertClose(ref, new AttentionResult(out, lse), bits + " bits paged");
      Support.assertClose(ref, runSplit(kernel, q, kv[0], kv[1], withLens, 100),
          bits + " bits split");
    }
  }

  @Tag("long")
  @ParameterizedTest(name = "seed {0}")
  @MethodSource("longSeeds")
  void longPagedSweep(long seed) {
    pagedCase(seed, 1 << 28);
  }
}
