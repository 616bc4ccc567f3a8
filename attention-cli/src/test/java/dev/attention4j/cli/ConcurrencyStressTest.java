package dev.attention4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionResult;
import dev.attention4j.core.DType;
import dev.attention4j.core.PagedKvCache;
import dev.attention4j.core.Tensor;
import dev.attention4j.linear.FeatureMap;
import dev.attention4j.linear.LinearAttention;
import dev.attention4j.linear.LinearOptions;
import dev.attention4j.quant.QuantizedKvCache;
import dev.attention4j.quant.SageAttention;
import dev.attention4j.quant.SageVariant;
import dev.attention4j.simd.SimdAttention;
import dev.attention4j.sparse.BlockMask;
import dev.attention4j.sparse.BlockSparseAttention;
import dev.attention4j.sparse.MobaAttention;
import dev.attention4j.sparse.NablaAttention;
import dev.attention4j.sparse.Neighborhood;
import dev.attention4j.sparse.NeighborhoodAttention;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Many concurrent forward calls of mixed kinds and shapes on one shared {@link ForkJoinPool}
 * (dense, causal with window/ALiBi/softcap, GQA, decode with split-KV, paged and quantized
 * caches, block-sparse, neighborhood, MoBA, NABLA, linear, hybrid, Sage), kernels, options,
 * inputs and caches shared between the threads; each result must equal bitwise the same call
 * run alone on a one-thread pool. Calls come both from outside threads and from tasks inside the
 * shared pool. A cancelled, interrupted or failing call leaves the pool usable.
 *
 * <p>The CI pass runs a few rounds; {@link #longPass} runs for
 * {@code -Dattention4j.stress.seconds} (default 120), tagged {@code long}.
 */
class ConcurrencyStressTest {

  static final long SEED = 0xC0FFEEL;
  static ForkJoinPool shared;
  static ForkJoinPool single;
  static List<Job> jobs;
  static List<float[]> expected;

  /** One kind of call: a name and a computation on a given pool's kernels. */
  record Job(String name, Supplier<float[]> run) {
  }

  static Tensor g(Random rng, int... shape) {
    return EntryPoints.gaussian(rng, shape);
  }

  static float[] cat(AttentionResult r) {
    float[] o = r.out().toFloatArray();
    if (r.lse() == null) {
      return o;
    }
    float[] l = r.lse().toFloatArray();
    float[] all = java.util.Arrays.copyOf(o, o.length + l.length);
    System.arraycopy(l, 0, all, o.length, l.length);
    return all;
  }

  static float[] into(Tensor out, Tensor lse) {
    return cat(new AttentionResult(out, lse));
  }

  /**
   * The jobs on {@code pool}'s kernels. Inputs, options and caches are made once from the seed
   * and shared by every job and thread; kernels are made once per pool and shared.
   */
  static List<Job> jobs(ForkJoinPool pool) {
    Random rng = new Random(SEED);
    SimdAttention simd = new SimdAttention(pool);
    List<Job> all = new ArrayList<>();

    // dense MHA, shared options
    Tensor q1 = g(rng, 1, 4, 200, 64);
    Tensor k1 = g(rng, 1, 4, 200, 64);
    Tensor v1 = g(rng, 1, 4, 200, 64);
    AttentionOptions plain = AttentionOptions.builder().returnLse(true).build();
    all.add(new Job("dense", () -> cat(simd.forward(q1, k1, v1, plain))));

    // causal GQA with window, ALiBi, softcap; strided ([B, S, H, D] view) inputs
    Tensor q2 = g(rng, 2, 150, 8, 32).permute(0, 2, 1, 3);
    Tensor k2 = g(rng, 2, 2, 170, 32);
    Tensor v2 = g(rng, 2, 2, 170, 48);
    AttentionOptions fancy = AttentionOptions.builder().causal(true).window(64, 0).softcap(20)
        .alibiSlopes(0.5, 0.25, 0.125, 0.0625, 0.03, 0.02, 0.01, 0.005).kvLens(170, 120)
        .returnLse(true).build();
    all.add(new Job("causal GQA window ALiBi softcap kvLens",
        () -> cat(simd.forward(q2, k2, v2, fancy))));
    AttentionOptions topLeft = AttentionOptions.builder().causal(true)
        .alignment(dev.attention4j.core.Alignment.TOP_LEFT).returnLse(true).build();
    all.add(new Job("causal top-left", () -> cat(simd.forward(q2, k2, v2, topLeft))));

    // decode: split-KV chosen by shape, and an explicit chunk length
    Tensor qd = g(rng, 1, 8, 1, 64);
    Tensor kd = g(rng, 1, 2, 5000, 64);
    Tensor vd = g(rng, 1, 2, 5000, 64);
    all.add(new Job("decode split-KV (auto)", () -> cat(simd.forward(qd, kd, vd, plain))));
    all.add(new Job("decode split-KV (chunk 384)", () -> {
      Tensor o = Tensor.zeros(DType.F32, 1, 8, 1, 64);
      Tensor l = Tensor.zeros(DType.F32, 1, 8, 1);
      simd.forwardSplitKv(qd, kd, vd, o, l, plain, 384);
      return into(o, l);
    }));

    // paged F16 and quantized caches, shared between threads (no appends meanwhile)
    Tensor kp = g(rng, 2, 2, 700, 64);
    Tensor vp = g(rng, 2, 2, 700, 64);
    PagedKvCache paged = EntryPoints.paged(kp, vp, new int[] {700, 333}, DType.F16, 16);
    Tensor qp = g(rng, 2, 8, 1, 64);
    all.add(new Job("paged decode f16", () -> {
      Tensor o = Tensor.zeros(DType.F32, 2, 8, 1, 64);
      Tensor l = Tensor.zeros(DType.F32, 2, 8, 1);
      simd.forwardPaged(qp, paged, new int[] {0, 1}, o, l, plain);
      return into(o, l);
    }));
    QuantizedKvCache quant = EntryPoints.quantized(kp, vp, new int[] {650, 700},
        QuantizedKvCache.Format.FP8, 32);
    all.add(new Job("quantized-cache decode fp8", () -> {
      Tensor o = Tensor.zeros(DType.F32, 2, 8, 1, 64);
      Tensor l = Tensor.zeros(DType.F32, 2, 8, 1);
      simd.forwardSource(qp, quant.source(0, 1), o, l, plain);
      return into(o, l);
    }));

    // sparse: block mask, 2-D neighborhood, MoBA, NABLA
    Tensor qs = g(rng, 1, 4, 144, 32);
    Tensor ks = g(rng, 1, 2, 144, 32);
    Tensor vs = g(rng, 1, 2, 144, 32);
    BlockSparseAttention bsa = new BlockSparseAttention(simd);
    BlockMask bm = BlockMask.of(AttentionOptions.builder().causal(true).window(40, 0).build(),
        1, 4, 144, 144, 16, 16);
    all.add(new Job("block-sparse", () -> cat(bsa.forward(qs, ks, vs, bm, plain))));
    NeighborhoodAttention na = new NeighborhoodAttention(Neighborhood.of(new int[] {12, 12},
        new int[] {5, 4}, new int[] {1, 2}, new int[] {1, 1}, new boolean[] {false, true}), simd);
    all.add(new Job("neighborhood 2-D", () -> cat(na.forward(qs, ks, vs, plain))));
    MobaAttention moba = new MobaAttention(16, 3, simd);
    all.add(new Job("moba", () -> cat(moba.forward(qs, ks, vs, plain))));
    NablaAttention nabla = new NablaAttention(16, 0.8, null, null, simd);
    all.add(new Job("nabla", () -> cat(nabla.forward(qs, ks, vs, plain))));

    // linear and hybrid
    LinearOptions elu = LinearOptions.builder(FeatureMap.elu1()).causal(true).chunkSize(32)
        .build();
    LinearOptions hybrid = LinearOptions.builder(FeatureMap.elu1()).causal(true).hybrid(8, 0.3)
        .build();
    all.add(new Job("linear elu1 causal", () -> EntryPoints.linear(qs, ks, vs, elu, pool).o()));
    all.add(new Job("linear hybrid", () -> EntryPoints.linear(qs, ks, vs, hybrid, pool).o()));

    // sage
    SageAttention sage2 = SageAttention.builder(SageVariant.SAGE2_INT8).pool(pool).build();
    SageAttention sage3 = SageAttention.builder(SageVariant.SAGE3_NVFP4).pool(pool).build();
    AttentionOptions causal = AttentionOptions.builder().causal(true).returnLse(true).build();
    all.add(new Job("sage2-int8 causal", () -> cat(sage2.forward(qs, ks, vs, causal))));
    all.add(new Job("sage3-nvfp4", () -> cat(sage3.forward(qs, ks, vs, plain))));
    return all;
  }

  @BeforeAll
  static void setUp() {
    shared = new ForkJoinPool(4);
    single = new ForkJoinPool(1);
    System.out.println("ConcurrencyStressTest seed " + SEED);
    List<Job> alone = jobs(single);
    expected = new ArrayList<>();
    for (Job j : alone) {
      expected.add(j.run().get());
    }
    jobs = jobs(shared);
  }

  @AfterAll
  static void tearDown() {
    shared.shutdownNow();
    single.shutdownNow();
  }

  /** Runs {@code calls} calls (job {@code c % jobs}) from outside threads and from pool tasks. */
  static int storm(int calls, long deadlineNanos) throws Exception {
    ExecutorService outside = Executors.newFixedThreadPool(5);
    AtomicInteger done = new AtomicInteger();
    try {
      List<Future<?>> futures = new ArrayList<>();
      Random order = new Random(SEED + calls);
      for (int c = 0; c < calls; c++) {
        int j = order.nextInt(jobs.size());
        Runnable check = () -> {
          if (deadlineNanos != 0 && System.nanoTime() > deadlineNanos) {
            return;
          }
          float[] got = jobs.get(j).run().get();
          assertBitwise(expected.get(j), got, jobs.get(j).name());
          done.incrementAndGet();
        };
        futures.add(c % 3 == 0 ? shared.submit(check) : outside.submit(check));
      }
      for (Future<?> f : futures) {
        f.get(10, TimeUnit.MINUTES);
      }
    } finally {
      outside.shutdownNow();
    }
    return done.get();
  }

  static void assertBitwise(float[] want, float[] got, String what) {
    assertEquals(want.length, got.length, what);
    for (int i = 0; i < want.length; i++) {
      if (Float.floatToIntBits(want[i]) != Float.floatToIntBits(got[i])) {
        throw new AssertionError(what + ": element " + i + " is " + got[i] + ", alone "
            + want[i]);
      }
    }
  }

  @Test
  void concurrentMixedCallsEqualTheirSingleThreadedRunsBitwise() throws Exception {
    long t0 = System.nanoTime();
    int calls = storm(3 * jobs.size(), 0);
    System.out.printf("ConcurrencyStressTest CI pass: %d calls of %d kinds in %.1f s%n", calls,
        jobs.size(), (System.nanoTime() - t0) / 1e9);
    assertEquals(3 * jobs.size(), calls);
  }

  @Test
  @Tag("long")
  void longPass() throws Exception {
    int seconds = Integer.getInteger("attention4j.stress.seconds", 120);
    long t0 = System.nanoTime();
    long deadline = t0 + seconds * 1_000_000_000L;
    long total = 0;
    while (System.nanoTime() < deadline) {
      total += storm(8 * jobs.size(), deadline);
    }
    System.out.printf("ConcurrencyStressTest long pass: %d calls of %d kinds in %.1f s%n", total,
        jobs.size(), (System.nanoTime() - t0) / 1e9);
  }

  /**
   * The expected results were computed cold (interpreted code); repeated calls, compiled by
   * then, must give the same bits (no reduction whose order depends on the JIT tier).
   */
  @Test
  void resultsDoNotDependOnTheJitTier() {
    for (int rep = 0; rep < 10; rep++) {
      checkAllJobs();
    }
  }

  /**
   * A big call cancelled once it has started: it ends cancelled, and the pool finishes the work
   * already handed out and stays usable. The call is cancelled as soon as it has started, and it
   * takes about a third of a second on two cores, so it is still running then (a fixed sleep
   * before cancelling let the call finish first on a busy machine).
   */
  @Test
  void cancelledCallLeavesThePoolUsable() throws Exception {
    Random rng = new Random(SEED + 1);
    Tensor q = g(rng, 1, 16, 4096, 64);
    Tensor k = g(rng, 1, 16, 4096, 64);
    SimdAttention simd = new SimdAttention(shared);
    AttentionOptions o = AttentionOptions.builder().build();
    CountDownLatch started = new CountDownLatch(1);
    ForkJoinTask<AttentionResult> big = shared.submit(() -> {
      started.countDown();
      return simd.forward(q, k, k, o);
    });
    assertTrue(started.await(1, TimeUnit.MINUTES), "the call starts");
    assertTrue(big.cancel(true), "the call is still running when cancelled");
    assertThrows(CancellationException.class, big::join);
    assertTrue(shared.awaitQuiescence(5, TimeUnit.MINUTES), "pool quiesces");
    assertFalse(shared.isShutdown());
    assertEquals(4, shared.getParallelism());
    checkAllJobs();
  }

  /** An interrupted caller: the call completes correctly and the interrupt is kept. */
  @Test
  void interruptedCallerGetsTheRightResultAndKeepsItsInterrupt() throws Exception {
    ExecutorService caller = Executors.newSingleThreadExecutor();
    try {
      Future<Boolean> f = caller.submit(() -> {
        Thread.currentThread().interrupt();
        for (int j = 0; j < jobs.size(); j++) {
          assertBitwise(expected.get(j), jobs.get(j).run().get(), jobs.get(j).name());
        }
        return Thread.interrupted();
      });
      assertTrue(f.get(5, TimeUnit.MINUTES), "the interrupt status survives the calls");
      // cancel(true) interrupts a thread in the middle of a big call
      Random rng = new Random(SEED + 2);
      Tensor q = g(rng, 1, 8, 1536, 64);
      SimdAttention simd = new SimdAttention(shared);
      Future<?> big = caller.submit(() -> simd.forward(q, q, q,
          AttentionOptions.builder().build()));
      Thread.sleep(20);
      big.cancel(true);
      assertTrue(shared.awaitQuiescence(5, TimeUnit.MINUTES), "pool quiesces");
    } finally {
      caller.shutdown();
      assertTrue(caller.awaitTermination(5, TimeUnit.MINUTES));
    }
    checkAllJobs();
  }

  /** A call whose score modifier throws fails with that exception; the pool stays usable. */
  @Test
  void failingCallLeavesThePoolUsable() throws Exception {
    Random rng = new Random(SEED + 3);
    Tensor q = g(rng, 2, 4, 300, 32);
    SimdAttention simd = new SimdAttention(shared);
    AttentionOptions boom = AttentionOptions.builder().scoreMod((s, b, h, i, j) -> {
      if (b == 1 && h == 2 && i == 250 && j == 7) {
        throw new IllegalStateException("score modifier failed at (1, 2, 250, 7)");
      }
      return s;
    }).build();
    for (int round = 0; round < 3; round++) {
      IllegalStateException x = assertThrows(IllegalStateException.class,
          () -> simd.forward(q, q, q, boom));
      assertTrue(x.getMessage().contains("(1, 2, 250, 7)"), x.getMessage());
    }
    assertTrue(shared.awaitQuiescence(5, TimeUnit.MINUTES), "pool quiesces");
    checkAllJobs();
  }

  static void checkAllJobs() {
    for (int j = 0; j < jobs.size(); j++) {
      assertBitwise(expected.get(j), jobs.get(j).run().get(), jobs.get(j).name());
    }
  }
}
