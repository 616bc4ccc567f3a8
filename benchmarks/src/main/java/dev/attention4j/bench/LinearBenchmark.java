package dev.attention4j.bench;

import dev.attention4j.core.DType;
import dev.attention4j.core.Tensor;
import dev.attention4j.linear.FeatureMap;
import dev.attention4j.linear.LinearAttention;
import dev.attention4j.linear.LinearOptions;
import java.util.Locale;
import java.util.SplittableRandom;
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
 * The chunked causal linear-attention kernel, float32, one thread, {@code B = 1}, {@code H = 8},
 * {@code D = Dv = 128}, the elu1 map (feature dim 128), normalised, chunk {@code chunk}. The
 * kernel counts its own multiply-adds (intra-chunk products on the visible blocks, inter-chunk
 * and state products, normaliser excluded); setup prints them, so
 * {@code GFLOP/s = 2 * macs / time}. Linear growth: {@code time(65536) / time(8192)} should be
 * about 8. After every iteration a sample of rows is checked against float64 sums straight from
 * SEMANTICS.md, so a fast but wrong kernel fails.
 *
 * <pre>
 * bin/mvn25 -q -pl benchmarks -am package -DskipTests
 * java -jar benchmarks/target/benchmarks.jar LinearBenchmark -t 1 -f 1 -wi 2 -i 3
 * java -jar benchmarks/target/benchmarks.jar DenseBenchmark -t 1 -f 1 -wi 2 -i 3 \
 *     -p n=4096 -p d=128 -p causal=true     (the dense rate to compare with)
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xmx6g"})
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
public class LinearBenchmark {

  private static final int HEADS = 8;
  private static final int D = 128;
  private static final int SAMPLES = 4;

  @Param({"8192", "10000", "65536"})
  int n;

  @Param({"64"})
  int chunk;

  private LinearOptions options;
  private Tensor q;
  private Tensor k;
  private Tensor v;
  private Tensor out;
  private int[] sampleHead;
  private int[] sampleRow;
  private double[][] expected;
  private long macs;

  @Setup(Level.Trial)
  public void setup() {
    SplittableRandom rnd = new SplittableRandom(20240611L + n);
    q = BenchData.gaussian(rnd, 1, HEADS, n, D);
    k = BenchData.gaussian(rnd, 1, HEADS, n, D);
    v = BenchData.gaussian(rnd, 1, HEADS, n, D);
    out = Tensor.zeros(DType.F32, 1, HEADS, n, D);
    options = LinearOptions.builder(FeatureMap.elu1()).causal(true).chunkSize(chunk).build();
    sampleHead = new int[SAMPLES];
    sampleRow = new int[SAMPLES];
    expected = new double[SAMPLES][];
    for (int s = 0; s < SAMPLES; s++) {
      sampleHead[s] = rnd.nextInt(HEADS);
      sampleRow[s] = s == 0 ? 0 : (s == 1 ? n - 1 : rnd.nextInt(n));
      expected[s] = referenceRow(sampleHead[s], sampleRow[s]);
    }
    macs = LinearAttention.forward(q, k, v, out, options);
    System.out.printf(Locale.ROOT, "%nLinearBenchmark n=%d chunk=%d: %d multiply-adds per call"
        + " (%.3f GFLOP)%n", n, chunk, macs, 2.0 * macs / 1e9);
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
    LinearAttention.forward(q, k, v, out, options);
    return out;
  }

  /** One causal normalised elu1 row in float64: sum_s w_ts v_s / (sum_s w_ts + 1e-12). */
  private double[] referenceRow(int h, int t) {
    double[] pq = new double[D];
    for (int e = 0; e < D; e++) {
      pq[e] = elu1(q.getDouble(0, h, t, e));
    }
    double[] o = new double[D];
    double den = 0;
    for (int s = 0; s <= t; s++) {
      double w = 0;
      for (int e = 0; e < D; e++) {
        w += pq[e] * elu1(k.getDouble(0, h, s, e));
      }
      den += w;
      for (int e = 0; e < D; e++) {
        o[e] += w * v.getDouble(0, h, s, e);
      }
    }
    for (int e = 0; e < D; e++) {
      o[e] /= den + 1e-12;
    }
    return o;
  }

  private static double elu1(double x) {
    return x > 0 ? x + 1 : Math.exp(x);
  }

}
