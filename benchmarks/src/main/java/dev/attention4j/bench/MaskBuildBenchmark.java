package dev.attention4j.bench;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.DType;
import dev.attention4j.core.Tensor;
import dev.attention4j.simd.SimdAttention;
import dev.attention4j.sparse.BlockMask;
import dev.attention4j.sparse.BlockSparseAttention;
import dev.attention4j.sparse.Neighborhood;
import dev.attention4j.sparse.NeighborhoodAttention;
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
 * Mask construction against the attention it serves (1 thread, B = 1, H = 8, D = 128):
 * {@code documents} = a {@link BlockMask} of 128x128 blocks for a document mask at
 * N = 131072 with 64 documents of random lengths (seeded), then block-sparse attention over it;
 * {@code neighborhood} = the fused plan of 2-D neighborhood attention on a 64x64 grid with a
 * 13x13 kernel ({@link NeighborhoodAttention#prepare}), then the attention. Compare
 * {@code build} with {@code attend} of the same workload: the bound is 5 %.
 * {@code attend} checks a sample of output rows against a float64 computation after each
 * iteration.
 *
 * <pre>
 * java -jar benchmarks/target/benchmarks.jar MaskBuildBenchmark -t 1 -f 1
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xmx12g"})
@Warmup(iterations = 2)
@Measurement(iterations = 3)
public class MaskBuildBenchmark {

  private static final int HEADS = 8;
  private static final int D = 128;

  @Param({"documents", "neighborhood"})
  String workload;

  private ForkJoinPool pool;
  private SimdAttention simd;
  private int n;
  private int[][] docs;
  private Neighborhood nb;
  private Tensor q;
  private Tensor k;
  private Tensor v;
  private Tensor out;
  private AttentionOptions docOptions;

  @Setup(Level.Trial)
  public void setup() {
    pool = new ForkJoinPool(1);
    simd = new SimdAttention(pool);
    SplittableRandom rnd = new SplittableRandom(131072);
    if (workload.equals("documents")) {
      n = 131072;
      // 63 distinct random cut points give 64 documents of random lengths
      int[] cuts = rnd.ints(1, n).distinct().limit(63).sorted().toArray();
      docs = new int[1][n];
      int doc = 0;
      for (int t = 0; t < n; t++) {
        while (doc < cuts.length && t >= cuts[doc]) {
          doc++;
        }
        docs[0][t] = doc;
      }
      docOptions = AttentionOptions.builder().documentIds(docs).build();
    } else {
      n = 64 * 64;
      nb = Neighborhood.of(new int[] {64, 64}, 13, 13);
    }
    q = BenchData.gaussian(rnd, 1, HEADS, n, D);
    k = BenchData.gaussian(rnd, 1, HEADS, n, D);
    v = BenchData.gaussian(rnd, 1, HEADS, n, D);
    out = Tensor.zeros(DType.F32, 1, HEADS, n, D);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    pool.shutdown();
  }

  /** The mask structure alone. */
  @Benchmark
  public Object build() {
    if (workload.equals("documents")) {
      return BlockMask.of(docOptions, 1, 1, n, n, 128, 128);
    }
    return new NeighborhoodAttention(nb, simd).prepare();
  }

  /** The mask structure and the attention over it. */
  @Benchmark
  public Object attend() {
    if (workload.equals("documents")) {
      BlockMask bm = BlockMask.of(docOptions, 1, 1, n, n, 128, 128);
      new BlockSparseAttention(simd).forward(q, k, v, out, null, bm, AttentionOptions.defaults());
    } else {
      new NeighborhoodAttention(nb, simd).forward(q, k, v, out, null,
          AttentionOptions.defaults());
    }
    return out;
  }

  /** Fails the run if sampled rows of the last attention are wrong (skipped after build). */
  @TearDown(Level.Iteration)
  public void verify() {
    if (out.getDouble(0, 0, 0, 0) == 0 && out.getDouble(0, 0, n - 1, 0) == 0) {
      return;
    }
    SplittableRandom rnd = new SplittableRandom(7);
    for (int s = 0; s < 4; s++) {
      int h = rnd.nextInt(HEADS);
      int i = s == 0 ? 0 : rnd.nextInt(n);
      double[] want = BenchData.referenceRow(q, k, v, h, i,
          workload.equals("documents") ? (b, hh, ii, j) -> docs[0][ii] == docs[0][j]
              : new NeighborhoodAttention(nb).mask());
      BenchData.checkRow(workload, out, h, i, want);
    }
    out.fill(0);
  }
}
