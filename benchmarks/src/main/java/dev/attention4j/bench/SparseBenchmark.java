package dev.attention4j.bench;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.DType;
import dev.attention4j.core.MaskMod;
import dev.attention4j.core.Tensor;
import dev.attention4j.simd.SimdAttention;
import dev.attention4j.sparse.BlockMask;
import dev.attention4j.sparse.BlockSparseAttention;
import dev.attention4j.sparse.MobaAttention;
import dev.attention4j.sparse.Neighborhood;
import dev.attention4j.sparse.NeighborhoodAttention;
import dev.attention4j.sparse.TokenPermutation;
import java.util.SplittableRandom;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The sparse workloads of PERFORMANCE.md (float32, B = 1, H = 8, D = 128):
 * {@code neighborhood} = 2-D neighborhood attention, 64x64 grid, kernel 13x13 (N = 4096, 4.1 %
 * visible pairs); {@code swin} = 8x8 windows on the same grid (kernel = stride = 8, 1.6 %); their
 * {@code -permuted} forms take Q, K, V and give O already in the kernel's token order
 * ({@link NeighborhoodAttention#forwardPermuted}, no gather or scatter); {@code window} = causal sliding window 512 at N = 8192 as a {@link BlockMask}
 * (6.1 %); {@code moba} = MoBA block 512, top-3 at N = 4096. Useful GFLOP/s =
 * {@code 4 D pairs / time} with the visible pairs printed at setup. {@code threads} is the size of
 * the kernels' pool (run JMH with {@code -t 1}). After every iteration sampled output rows are
 * checked against a float64 computation made at setup under the same mask.
 *
 * <pre>
 * bin/mvn25 -q -pl benchmarks -am package -DskipTests
 * java -jar benchmarks/target/benchmarks.jar SparseBenchmark -t 1 -f 1 -wi 2 -i 3
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = "--add-modules=jdk.incubator.vector")
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
public class SparseBenchmark {

  private static final int HEADS = 8;
  private static final int D = 128;
  private static final int SAMPLES = 6;

  @Param({"neighborhood", "neighborhood-permuted", "swin", "swin-permuted", "window", "moba",
      "causal"})
  String workload;

  @Param({"1"})
  int threads;

  private ForkJoinPool pool;
  private Runnable call;
  private Tensor q;
  private Tensor k;
  private Tensor v;
  private Tensor out;
  private int n;
  private int[] sampleHead;
  private int[] sampleRow;
  /** Where output row {@code i} is written (the token order of a permuted workload). */
  private int[] rowAt;
  private double[][] expected;

  @Setup(Level.Trial)
  public void setup() {
    n = workload.equals("window") ? 8192 : 4096;
    SplittableRandom rnd = new SplittableRandom(20240612L + n);
    q = BenchData.gaussian(rnd, 1, HEADS, n, D);
    k = BenchData.gaussian(rnd, 1, HEADS, n, D);
    v = BenchData.gaussian(rnd, 1, HEADS, n, D);
    out = Tensor.zeros(DType.F32, 1, HEADS, n, D);
    Tensor lse = Tensor.zeros(DType.F32, 1, HEADS, n);
    pool = new ForkJoinPool(threads);
    SimdAttention simd = new SimdAttention(pool);
    AttentionOptions plain = AttentionOptions.defaults();
    MaskMod mask;
    switch (workload) {
      case "neighborhood", "neighborhood-permuted", "swin", "swin-permuted" -> {
        int[] grid = {64, 64};
        Neighborhood nb = workload.startsWith("swin")
            ? Neighborhood.of(grid, new int[] {8, 8}, new int[] {8, 8}, new int[] {1, 1},
                new boolean[] {false, false})
            : Neighborhood.of(grid, 13, 13);
        NeighborhoodAttention na = new NeighborhoodAttention(nb, simd).prepare();
        mask = na.mask();
        if (workload.endsWith("-permuted")) {
          TokenPermutation p = na.permutation();
          Tensor qp = p.permute(q);
          Tensor kp = p.permute(k);
          Tensor vp = p.permute(v);
          rowAt = p.inverse();
          call = () -> na.forwardPermuted(qp, kp, vp, out, lse, plain);
        } else {
          call = () -> na.forward(q, k, v, out, lse, plain);
        }
      }
      case "window" -> {
        BlockMask bm = BlockMask.of(AttentionOptions.builder().causal(true).window(512, 0)
            .build(), 1, 1, n, n, 128, 128);
        BlockSparseAttention bs = new BlockSparseAttention(simd);
        mask = bm::allows;
        call = () -> bs.forward(q, k, v, out, lse, bm, plain);
      }
      case "moba" -> {
        MobaAttention moba = new MobaAttention(512, 3, simd);
        mask = moba.route(q, k, plain);
        call = () -> moba.forward(q, k, v, out, lse, plain);
      }
      case "causal" -> {
        // the dense causal baseline MoBA is compared with (same N, same session)
        AttentionOptions causal = AttentionOptions.builder().causal(true).build();
        mask = (b, h, i, j) -> j <= i;
        call = () -> simd.forward(q, k, v, out, lse, causal);
      }
      default -> throw new IllegalArgumentException(workload);
    }
    if (rowAt == null) {
      rowAt = java.util.stream.IntStream.range(0, n).toArray();
    }
    long pairs = 0;
    for (int i = 0; i < n; i += 7) {
      for (int j = 0; j < n; j++) {
        pairs += mask.allows(0, 0, i, j) ? 1 : 0;
      }
    }
    System.out.printf("%n%s: about %.2f%% visible pairs (sampled every 7th row), %.3e pairs%n",
        workload, 100.0 * pairs * 7 / ((double) n * n), (double) pairs * 7 * HEADS);
    sampleHead = new int[SAMPLES];
    sampleRow = new int[SAMPLES];
    expected = new double[SAMPLES][];
    for (int s = 0; s < SAMPLES; s++) {
      sampleHead[s] = rnd.nextInt(HEADS);
      sampleRow[s] = s == 0 ? 0 : (s == 1 ? n - 1 : rnd.nextInt(n));
      expected[s] = referenceRow(mask, sampleHead[s], sampleRow[s]);
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    pool.shutdown();
  }

  /** Fails the run if the last invocation's output is wrong. */
  @TearDown(Level.Iteration)
  public void verify() {
    for (int s = 0; s < SAMPLES; s++) {
      double max = 0;
      for (double x : expected[s]) {
        max = Math.max(max, Math.abs(x));
      }
      double bound = 1e-4 * Math.max(1, max) + 1e-5;
      for (int e = 0; e < D; e++) {
        double got = out.getDouble(0, sampleHead[s], rowAt[sampleRow[s]], e);
        if (!(Math.abs(got - expected[s][e]) <= bound)) {
          throw new IllegalStateException(workload + ": wrong output at head " + sampleHead[s]
              + " row " + sampleRow[s] + " column " + e + ": " + got + ", expected "
              + expected[s][e]);
        }
      }
    }
    out.fill(0);
  }

  @Benchmark
  public Tensor forward() {
    call.run();
    return out;
  }

  /** One output row in float64 under the mask, straight from the definition. */
  private double[] referenceRow(MaskMod mask, int h, int i) {
    double scale = 1 / Math.sqrt(D);
    double[] s = new double[n];
    double m = Double.NEGATIVE_INFINITY;
    for (int j = 0; j < n; j++) {
      s[j] = Double.NEGATIVE_INFINITY;
      if (mask.allows(0, h, i, j)) {
        double dot = 0;
        for (int e = 0; e < D; e++) {
          dot += q.getDouble(0, h, i, e) * k.getDouble(0, h, j, e);
        }
        s[j] = scale * dot;
        m = Math.max(m, s[j]);
      }
    }
    double l = 0;
    double[] o = new double[D];
    for (int j = 0; j < n; j++) {
      if (s[j] == Double.NEGATIVE_INFINITY) {
        continue;
      }
      double p = Math.exp(s[j] - m);
      l += p;
      for (int e = 0; e < D; e++) {
        o[e] += p * v.getDouble(0, h, j, e);
      }
    }
    for (int e = 0; e < D; e++) {
      o[e] /= l;
    }
    return o;
  }

}
