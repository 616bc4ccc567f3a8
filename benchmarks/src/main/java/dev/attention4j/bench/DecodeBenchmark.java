package dev.attention4j.bench;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.DType;
import dev.attention4j.core.PagedKvCache;
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
 * One decode step of the SIMD kernel: one query token ({@code B = 1}, {@code Hq = 32}) against a
 * KV cache of {@code kvLen} tokens ({@code Hkv = 8}, {@code D = 128}, bottom-right causal),
 * K and V stored as {@code kvDtype}, either one contiguous tensor or a paged cache of 256-token
 * pages read in place. Memory-bound: K + V are {@code kvLen * 8 * 256 * bytes} per step (268 MB
 * at 32768 in float32). {@code threads} is the size of the kernel's own pool (run JMH with
 * {@code -t 1}). After every iteration sampled heads are checked against a float64 computation
 * made at setup, so a fast but wrong kernel fails.
 *
 * <pre>
 * bin/mvn25 -q -B -pl benchmarks -am package -DskipTests
 * java -jar benchmarks/target/benchmarks.jar DecodeBenchmark -t 1 -f 1 -wi 3 -i 5
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xmx3g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class DecodeBenchmark {

  private static final int HQ = 32;
  private static final int HKV = 8;
  private static final int D = 128;
  private static final int PAGE = 256;
  private static final int[] SAMPLE_HEADS = {0, 13, 31};

  @Param({"4096", "5000", "32768"})
  int kvLen;

  @Param({"f32", "f16"})
  String kvDtype;

  @Param({"contiguous", "paged"})
  String layout;

  @Param({"1"})
  int threads;

  private ForkJoinPool pool;
  private SimdAttention kernel;
  private AttentionOptions options;
  private Tensor q;
  private Tensor k;
  private Tensor v;
  private PagedKvCache cache;
  private int[] seqIds;
  private Tensor out;
  private Tensor lse;
  private double[][] expected;

  @Setup(Level.Trial)
  public void setup() {
    SplittableRandom rnd = new SplittableRandom(20240612L + kvLen);
    DType dtype = switch (kvDtype) {
      case "f32" -> DType.F32;
      case "f16" -> DType.F16;
      default -> throw new IllegalArgumentException("kvDtype: expected f32 or f16, got " + kvDtype);
    };
    q = gaussian(rnd, DType.F32, 1, HQ, 1, D);
    if (layout.equals("paged")) {
      cache = new PagedKvCache(HKV, D, D, PAGE, (kvLen + PAGE - 1) / PAGE, dtype);
      seqIds = new int[] {cache.newSequence()};
      for (int t = 0; t < kvLen; t += 1024) {
        int n = Math.min(1024, kvLen - t);
        cache.append(seqIds[0], gaussian(rnd, DType.F32, HKV, n, D),
            gaussian(rnd, DType.F32, HKV, n, D));
      }
    } else {
      k = gaussian(rnd, dtype, 1, HKV, kvLen, D);
      v = gaussian(rnd, dtype, 1, HKV, kvLen, D);
    }
    out = Tensor.zeros(DType.F32, 1, HQ, 1, D);
    lse = Tensor.zeros(DType.F32, 1, HQ, 1);
    options = AttentionOptions.builder().causal(true).build();
    pool = new ForkJoinPool(threads);
    kernel = new SimdAttention(pool);
    expected = new double[SAMPLE_HEADS.length][];
    for (int s = 0; s < SAMPLE_HEADS.length; s++) {
      expected[s] = referenceRow(SAMPLE_HEADS[s]);
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    pool.shutdown();
  }

  /** Fails the run if the last invocation's output is wrong. */
  @TearDown(Level.Iteration)
  public void verify() {
    for (int s = 0; s < SAMPLE_HEADS.length; s++) {
      double max = 0;
      for (double x : expected[s]) {
        max = Math.max(max, Math.abs(x));
      }
      double bound = 1e-4 * Math.max(1, max) + 1e-5;
      for (int e = 0; e < D; e++) {
        double got = out.getDouble(0, SAMPLE_HEADS[s], 0, e);
        if (!(Math.abs(got - expected[s][e]) <= bound)) {
          throw new IllegalStateException("wrong output at head " + SAMPLE_HEADS[s] + " column "
              + e + ": " + got + ", expected " + expected[s][e]);
        }
      }
    }
    out.fill(0);
  }

  @Benchmark
  public Tensor step() {
    if (cache != null) {
      kernel.forwardPaged(q, cache, seqIds, out, lse, options);
    } else {
      kernel.forward(q, k, v, out, lse, options);
    }
    return out;
  }

  /** One output row of head {@code h} in float64, straight from the definition. */
  private double[] referenceRow(int h) {
    int g = h / (HQ / HKV);
    double scale = 1 / Math.sqrt(D);
    double[] s = new double[kvLen];
    double m = Double.NEGATIVE_INFINITY;
    for (int j = 0; j < kvLen; j++) {
      double dot = 0;
      for (int e = 0; e < D; e++) {
        dot += q.getDouble(0, h, 0, e) * key(g, j, e);
      }
      s[j] = scale * dot;
      m = Math.max(m, s[j]);
    }
    double l = 0;
    double[] o = new double[D];
    for (int j = 0; j < kvLen; j++) {
      double p = Math.exp(s[j] - m);
      l += p;
      for (int e = 0; e < D; e++) {
        o[e] += p * value(g, j, e);
      }
    }
    for (int e = 0; e < D; e++) {
      o[e] /= l;
    }
    return o;
  }

  private double key(int g, int j, int e) {
    if (cache == null) {
      return k.getDouble(0, g, j, e);
    }
    return cache.keyPage(cache.page(seqIds[0], j / PAGE)).getDouble(g, j % PAGE, e);
  }

  private double value(int g, int j, int e) {
    if (cache == null) {
      return v.getDouble(0, g, j, e);
    }
    return cache.valuePage(cache.page(seqIds[0], j / PAGE)).getDouble(g, j % PAGE, e);
  }

  private static Tensor gaussian(SplittableRandom rnd, DType dtype, int... shape) {
    Tensor t = Tensor.zeros(dtype, shape);
    int n = (int) t.size();
    for (int i = 0; i < n; i++) {
      double u = 1.0 - rnd.nextDouble();
      double w = rnd.nextDouble();
      t.setAt(i, Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * w));
    }
    return t;
  }
}
