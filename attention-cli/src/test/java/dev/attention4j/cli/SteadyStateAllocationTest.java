package dev.attention4j.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.core.AttentionOptions;
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
import java.lang.management.ManagementFactory;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.function.IntFunction;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Steady-state calls allocate nothing in proportion to the problem: for each kernel, a call at
 * four times the scale (tokens, or the side of a neighborhood grid) allocates at most 1 % of the
 * extra bytes of its inputs and outputs more than a call at the smaller one (tile lists and
 * tasks grow with the number of tiles, which is far below that). NABLA, which builds its block mask from the data on every call, may also
 * allocate 32 bytes per (query block, key block) pair: the mask is {@code O(tiles)}. A kernel
 * that copies an operand per call, or whose vectors the JIT boxes, fails.
 *
 * <p>Counted: the fewest bytes that one call allocated, in the calling thread and the threads of
 * the kernel's one-thread pool, over calls repeated until that figure stops falling (the JIT has
 * compiled the kernels; the interpreter boxes every vector), for at most
 * {@link #WARM_UP_NANOS} per size.
 */
class SteadyStateAllocationTest {

  private static final long WARM_UP_NANOS = 40_000_000_000L;
  private static final double SHARE = 0.01;

  private static final ConcurrentLinkedQueue<Thread> WORKERS = new ConcurrentLinkedQueue<>();
  private static ForkJoinPool pool;

  @BeforeAll
  static void pool() {
    pool = new ForkJoinPool(1, p -> {
      ForkJoinWorkerThread t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(p);
      WORKERS.add(t);
      return t;
    }, null, false);
  }

  @AfterAll
  static void close() {
    pool.shutdown();
  }

  /**
   * One call at scale {@code n} (a sequence length or a grid side), its tensors' bytes, and the
   * bytes its mask may take when the kernel builds one per call.
   */
  record Call(Runnable run, long bytes, long maskBytes) {
    Call(Runnable run, long bytes) {
      this(run, bytes, 0);
    }
  }

  record Case(String name, int small, IntFunction<Call> at) {
    @Override
    public String toString() {
      return name;
    }
  }

  private static Tensor gaussian(Random rng, int... shape) {
    float[] x = new float[(int) Tensor.elementCount(shape)];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) rng.nextGaussian();
    }
    return Tensor.of(x, shape);
  }

  /** Q, K, V, O and LSE of a self-attention call of {@code n} tokens, 2 heads of 64. */
  private record Qkv(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, long bytes) {
    static Qkv of(int n) {
      Random rng = new Random(n);
      Tensor q = gaussian(rng, 1, 2, n, 64);
      Tensor k = gaussian(rng, 1, 2, n, 64);
      Tensor v = gaussian(rng, 1, 2, n, 64);
      return new Qkv(q, k, v, Tensor.zeros(DType.F32, 1, 2, n, 64),
          Tensor.zeros(DType.F32, 1, 2, n), 4L * (4 * 2 * n * 64 + 2 * n));
    }
  }

  /** A decode step: 8 query heads, 2 KV heads, one token against {@code n} keys. */
  private record Step(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, long bytes) {
    static Step of(int n) {
      Random rng = new Random(n);
      return new Step(gaussian(rng, 1, 8, 1, 64), gaussian(rng, 1, 2, n, 64),
          gaussian(rng, 1, 2, n, 64), Tensor.zeros(DType.F32, 1, 8, 1, 64),
          Tensor.zeros(DType.F32, 1, 8, 1), 4L * 2 * 2 * n * 64);
    }
  }

  static Stream<Case> cases() {
    SimdAttention simd = new SimdAttention(pool);
    AttentionOptions plain = AttentionOptions.defaults();
    AttentionOptions causal = AttentionOptions.builder().causal(true).build();
    return Stream.of(
        new Case("dense, 250 tokens", 250, n -> {
          Qkv x = Qkv.of(n);
          return new Call(() -> simd.forward(x.q, x.k, x.v, x.out, x.lse, causal), x.bytes);
        }),
        new Case("dense, float16 K and V", 256, n -> {
          Qkv x = Qkv.of(n);
          Tensor k = Tensor.copyOf(x.k, DType.F16);
          Tensor v = Tensor.copyOf(x.v, DType.F16);
          return new Call(() -> simd.forward(x.q, k, v, x.out, x.lse, plain), x.bytes);
        }),
        new Case("decode, split keys", 2048, n -> {
          Step x = Step.of(n);
          return new Call(() -> simd.forward(x.q, x.k, x.v, x.out, x.lse, causal), x.bytes);
        }),
        new Case("decode, paged float16 cache", 2048, n -> {
          Step x = Step.of(n);
          PagedKvCache c = new PagedKvCache(2, 64, 64, 64, n / 64, DType.F16);
          int seq = c.newSequence();
          c.append(seq, EntryPoints.first(x.k, 0, n), EntryPoints.first(x.v, 0, n));
          int[] ids = {seq};
          return new Call(() -> simd.forwardPaged(x.q, c, ids, x.out, x.lse, causal), x.bytes);
        }),
        new Case("decode, INT8 cache", 2048, n -> quantizedStep(simd, n,
            QuantizedKvCache.Format.INT8)),
        new Case("decode, FP8 cache", 2048, n -> quantizedStep(simd, n,
            QuantizedKvCache.Format.FP8)),
        new Case("block-sparse window", 256, n -> {
          Qkv x = Qkv.of(n);
          BlockMask m = BlockMask.of(AttentionOptions.builder().causal(true).window(64, 0)
              .build(), 1, 2, n, n, 64, 64);
          BlockSparseAttention bs = new BlockSparseAttention(simd);
          return new Call(() -> bs.forward(x.q, x.k, x.v, x.out, x.lse, m, plain), x.bytes);
        }),
        new Case("neighborhood 2-D 7x7", 16, n -> {
          Qkv x = Qkv.of(n * n);
          NeighborhoodAttention na = new NeighborhoodAttention(
              Neighborhood.of(new int[] {n, n}, 7, 7), simd).prepare();
          return new Call(() -> na.forward(x.q, x.k, x.v, x.out, x.lse, plain), x.bytes);
        }),
        new Case("neighborhood, Swin windows", 16, n -> {
          Qkv x = Qkv.of(n * n);
          NeighborhoodAttention na = new NeighborhoodAttention(Neighborhood.of(new int[] {n, n},
              new int[] {8, 8}, new int[] {8, 8}, new int[] {1, 1}, new boolean[2]), simd)
              .prepare();
          return new Call(() -> na.forward(x.q, x.k, x.v, x.out, x.lse, plain), x.bytes);
        }),
        new Case("MoBA", 512, n -> {
          Qkv x = Qkv.of(n);
          MobaAttention moba = new MobaAttention(64, 3, simd);
          return new Call(() -> moba.forward(x.q, x.k, x.v, x.out, x.lse, plain), x.bytes);
        }),
        new Case("NABLA", 512, n -> {
          Qkv x = Qkv.of(n);
          NablaAttention nabla = new NablaAttention(64, 0.5, null, null, simd);
          long pairs = 2L * (n / 64) * (n / 64);
          return new Call(() -> nabla.forward(x.q, x.k, x.v, x.out, x.lse, plain), x.bytes,
              32 * pairs);
        }),
        new Case("linear, chunked", 512, n -> {
          Qkv x = Qkv.of(n);
          LinearOptions o = LinearOptions.builder(FeatureMap.elu1()).causal(true).build();
          return new Call(() -> LinearAttention.forward(x.q, x.k, x.v, x.out, o, pool),
              x.bytes);
        }),
        sage(SageVariant.SAGE1), sage(SageVariant.SAGE2_INT8), sage(SageVariant.SAGE3_NVFP4));
  }

  private static Case sage(SageVariant variant) {
    SageAttention kernel = SageAttention.builder(variant).pool(pool).build();
    return new Case("sage " + variant.id(), 256, n -> {
      Qkv x = Qkv.of(n);
      return new Call(() -> kernel.forward(x.q, x.k, x.v, x.out, x.lse,
          AttentionOptions.defaults()), x.bytes);
    });
  }

  private static Call quantizedStep(SimdAttention simd, int n, QuantizedKvCache.Format f) {
    Step x = Step.of(n);
    QuantizedKvCache c = new QuantizedKvCache(2, 64, 64, 64, n / 64, f);
    int seq = c.newSequence();
    c.append(seq, EntryPoints.first(x.k, 0, n), EntryPoints.first(x.v, 0, n));
    AttentionOptions causal = AttentionOptions.builder().causal(true).build();
    return new Call(() -> simd.forwardSource(x.q, c.source(seq), x.out, x.lse, causal),
        x.bytes);
  }

  /** Bytes allocated so far by this thread and the pool's threads. */
  private static long allocated() {
    var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long sum = mx.getCurrentThreadAllocatedBytes();
    for (Thread t : List.copyOf(WORKERS)) {
      long b = mx.getThreadAllocatedBytes(t.threadId());
      sum += Math.max(0, b);
    }
    return sum;
  }

  /**
   * Calls {@code call} until the fewest bytes one call allocated has not fallen for a second and
   * ten calls (the JIT has compiled what it runs), or the warm-up time is up; returns that
   * fewest.
   */
  private static long settle(Call call) {
    long start = System.nanoTime();
    long best = Long.MAX_VALUE;
    long bestAt = start;
    int since = 0;
    while (true) {
      long before = allocated();
      call.run.run();
      long bytes = allocated() - before;
      long now = System.nanoTime();
      if (bytes < best) {
        best = bytes;
        bestAt = now;
        since = 0;
      } else {
        since++;
      }
      if (since >= 10 && now - bestAt > 1_000_000_000L || now - start > WARM_UP_NANOS) {
        return best;
      }
    }
  }

  @ParameterizedTest
  @MethodSource("cases")
  void allocationDoesNotGrowWithTheProblem(Case c) {
    Call small = c.at.apply(c.small);
    Call large = c.at.apply(4 * c.small);
    long slack = (long) (SHARE * (large.bytes - small.bytes)) + large.maskBytes
        - small.maskBytes;
    long a = settle(small);
    long b = settle(large);
    System.out.printf("%s: %d bytes per call on %d bytes of tensors, %d on %d%n", c, a,
        small.bytes, b, large.bytes);
    assertTrue(b - a <= slack, c + ": a call on " + large.bytes + " bytes of tensors allocated "
        + b + " bytes, on " + small.bytes + " bytes " + a + ": " + (b - a)
        + " more, over the bound of " + slack);
  }
}
