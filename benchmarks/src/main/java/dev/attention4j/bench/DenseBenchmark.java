package dev.attention4j.bench;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.DType;
import dev.attention4j.core.Tensor;
import dev.attention4j.simd.SimdAttention;
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
 * The dense SIMD forward, float32, {@code B = 1}, {@code H = 8}, self-attention of length
 * {@code n}. Throughput: {@code GFLOP/s = 4 n^2 d H / time} non-causal, and about half of that
 * (the visible pairs, {@code n (n + 1) / 2}) causal. {@code threads} is the size of the kernel's
 * own pool (run JMH itself with {@code -t 1}). After every iteration a sample of output rows is
 * checked against a float64 computation made at setup, so a fast but wrong kernel fails.
 *
 * <pre>
 * bin/mvn25 -q -pl benchmarks -am package -DskipTests
 * java -jar benchmarks/target/benchmarks.jar DenseBenchmark -t 1 -f 1 -wi 3 -i 5
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = "--add-modules=jdk.incubator.vector")
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class DenseBenchmark {

  private static final int HEADS = 8;
  private static final int SAMPLES = 6;

  @Param({"1024", "1500", "2048", "4096"})
  int n;

  @Param({"64", "128"})
  int d;

  @Param({"false", "true"})
  boolean causal;

  @Param({"1"})
  int threads;

  private ForkJoinPool pool;
  private SimdAttention kernel;
  private AttentionOptions options;
  private Tensor q;
  private Tensor k;
  private Tensor v;
  private Tensor out;
  private Tensor lse;
  private int[] sampleHead;
  private int[] sampleRow;
  private double[][] expected;

  @Setup(Level.Trial)
  public void setup() {
    SplittableRandom rnd = new SplittableRandom(20240611L + n * 31L + d);
    q = BenchData.gaussian(rnd, 1, HEADS, n, d);
    k = BenchData.gaussian(rnd, 1, HEADS, n, d);
    v = BenchData.gaussian(rnd, 1, HEADS, n, d);
    out = Tensor.zeros(DType.F32, 1, HEADS, n, d);
    lse = Tensor.zeros(DType.F32, 1, HEADS, n);
    options = AttentionOptions.builder().causal(causal).build();
    pool = new ForkJoinPool(threads);
    kernel = new SimdAttention(pool);
    sampleHead = new int[SAMPLES];
    sampleRow = new int[SAMPLES];
    expected = new double[SAMPLES][];
    for (int s = 0; s < SAMPLES; s++) {
      sampleHead[s] = rnd.nextInt(HEADS);
      sampleRow[s] = s == 0 ? 0 : (s == 1 ? n - 1 : rnd.nextInt(n));
      expected[s] = referenceRow(sampleHead[s], sampleRow[s]);
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
      for (int e = 0; e < d; e++) {
        double got = out.getDouble(0, sampleHead[s], sampleRow[s], e);
        if (!(Math.abs(got - expected[s][e]) <= bound)) {
          throw new IllegalStateException("wrong output at head " + sampleHead[s] + " row "
              + sampleRow[s] + " column " + e + ": " + got + ", expected " + expected[s][e]);
        }
      }
    }
    out.fill(0);
  }

  @Benchmark
  public Tensor forward() {
    kernel.forward(q, k, v, out, lse, options);
    return out;
  }

  /** One output row in float64, straight from the definition. */
  private double[] referenceRow(int h, int i) {
    int keys = causal ? i + 1 : n;
    double scale = 1 / Math.sqrt(d);
    double[] s = new double[keys];
    double m = Double.NEGATIVE_INFINITY;
    for (int j = 0; j < keys; j++) {
      double dot = 0;
      for (int e = 0; e < d; e++) {
        dot += q.getDouble(0, h, i, e) * k.getDouble(0, h, j, e);
      }
      s[j] = scale * dot;
      m = Math.max(m, s[j]);
    }
    double l = 0;
    double[] o = new double[d];
    for (int j = 0; j < keys; j++) {
      double p = Math.exp(s[j] - m);
      l += p;
      for (int e = 0; e < d; e++) {
        o[e] += p * v.getDouble(0, h, j, e);
      }
    }
    for (int e = 0; e < d; e++) {
      o[e] /= l;
    }
    return o;
  }

}
