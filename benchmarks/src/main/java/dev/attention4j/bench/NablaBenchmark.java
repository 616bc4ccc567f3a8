package dev.attention4j.bench;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.DType;
import dev.attention4j.core.MaskMod;
import dev.attention4j.core.Tensor;
import dev.attention4j.simd.SimdAttention;
import dev.attention4j.sparse.BlockMask;
import dev.attention4j.sparse.NablaAttention;
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
 * NABLA on clustered keys against dense attention on the same inputs (1 thread, B = 1, H = 8,
 * D = 128, N = 16384, block 64, threshold 0.5). The sequence is cut into runs of 512 tokens, each
 * run drawn around one of 16 random centres (queries and keys alike, plus unit noise), so a
 * query's attention mass sits in the blocks of its own cluster. {@code nabla} includes the
 * pooling, the block map and its construction ({@code mask} times those alone); the ideal
 * speed-up is
 * {@code all blocks / kept blocks}, printed at set-up. Sampled rows are checked against a float64
 * computation under the kept blocks after each iteration.
 *
 * <pre>
 * java -jar benchmarks/target/benchmarks.jar NablaBenchmark -t 1 -f 1
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = "--add-modules=jdk.incubator.vector")
@Warmup(iterations = 2, time = 5)
@Measurement(iterations = 3, time = 5)
public class NablaBenchmark {

  private static final int HEADS = 8;
  private static final int D = 128;
  private static final int N = 16384;
  private static final int BLOCK = 64;
  private static final int RUN = 512;
  private static final int CLUSTERS = 16;

  @Param({"nabla", "mask", "dense"})
  String workload;

  private ForkJoinPool pool;
  private Runnable call;
  private Tensor q;
  private Tensor k;
  private Tensor v;
  private Tensor out;
  private MaskMod mask;

  @Setup(Level.Trial)
  public void setup() {
    SplittableRandom rnd = new SplittableRandom(64);
    q = clustered(rnd);
    k = clustered(rnd.split());
    v = BenchData.gaussian(rnd, 1, HEADS, N, D);
    out = Tensor.zeros(DType.F32, 1, HEADS, N, D);
    pool = new ForkJoinPool(1);
    SimdAttention simd = new SimdAttention(pool);
    AttentionOptions plain = AttentionOptions.defaults();
    NablaAttention nabla = new NablaAttention(BLOCK, 0.5, null, null, simd);
    BlockMask bm = nabla.blockMask(q, k, plain);
    long[] counts = bm.counts();
    double all = (double) HEADS * (N / BLOCK) * (N / BLOCK);
    System.out.printf("%nkept blocks: %d of %.0f (%.2f %%), ideal speed-up %.1fx%n", counts[0],
        all, 100 * counts[0] / all, all / counts[0]);
    if (workload.equals("nabla")) {
      mask = bm::allows;
      call = () -> nabla.forward(q, k, v, out, null, plain);
    } else if (workload.equals("mask")) {
      mask = null;
      call = () -> nabla.blockMask(q, k, plain);
    } else {
      mask = (b, h, i, j) -> true;
      call = () -> simd.forward(q, k, v, out, null, plain);
    }
  }

  /** Rows of a run share a centre; the centres are drawn once per head from the seed. */
  private static Tensor clustered(SplittableRandom rnd) {
    SplittableRandom centres = new SplittableRandom(16);
    Tensor t = BenchData.gaussian(rnd, 1, HEADS, N, D);
    float[] a = t.floatData();
    for (int h = 0; h < HEADS; h++) {
      float[][] c = new float[CLUSTERS][];
      for (int m = 0; m < CLUSTERS; m++) {
        c[m] = BenchData.gaussian(centres, D).floatData();
      }
      SplittableRandom pick = new SplittableRandom(1000 + h);
      for (int r = 0; r < N / RUN; r++) {
        float[] centre = c[pick.nextInt(CLUSTERS)];
        for (int i = r * RUN; i < (r + 1) * RUN; i++) {
          int at = (h * N + i) * D;
          for (int e = 0; e < D; e++) {
            a[at + e] += 2 * centre[e];
          }
        }
      }
    }
    return t;
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    pool.shutdown();
  }

  @Benchmark
  public Tensor forward() {
    call.run();
    return out;
  }

  /** Fails the run if sampled rows of the last call are wrong. */
  @TearDown(Level.Iteration)
  public void verify() {
    if (mask == null) {
      return;
    }
    SplittableRandom rnd = new SplittableRandom(3);
    for (int s = 0; s < 4; s++) {
      int h = rnd.nextInt(HEADS);
      int i = s == 0 ? N - 1 : rnd.nextInt(N);
      BenchData.checkRow(workload, out, h, i, BenchData.referenceRow(q, k, v, h, i, mask));
    }
    out.fill(0);
  }
}
