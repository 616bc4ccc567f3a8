package dev.attention4j.bench;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.DType;
import dev.attention4j.core.Tensor;
import dev.attention4j.quant.QuantizedKvCache;
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
 * One decode step of the SIMD kernel against a quantized paged KV cache
 * ({@link QuantizedKvCache}, INT8 or FP8 E4M3 codes with per-token K scales and per-page
 * per-channel V scales, pages of 256 tokens, dequantized per key tile): the shape of
 * {@link DecodeBenchmark} ({@code Hq = 32}, {@code Hkv = 8}, {@code D = 128}, one query token,
 * bottom-right causal), so the two compare directly. K + V codes are a quarter of the float32
 * bytes (67 MB at 32768 tokens, plus 1 MB of scales). After every iteration sampled heads are
 * checked against a float64 computation on the dequantized cache made at setup.
 *
 * <pre>
 * bin/mvn25 -q -B -pl benchmarks -am package -DskipTests
 * java -jar benchmarks/target/benchmarks.jar QuantDecodeBenchmark -t 1 -f 1 -wi 3 -i 5
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xmx3g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class QuantDecodeBenchmark {

  private static final int HQ = 32;
  private static final int HKV = 8;
  private static final int D = 128;
  private static final int PAGE = 256;
  private static final int[] SAMPLE_HEADS = {0, 13, 31};

  @Param({"4096", "5000", "32768"})
  int kvLen;

  @Param({"int8", "fp8"})
  String kvDtype;

  @Param({"1"})
  int threads;

  private ForkJoinPool pool;
  private SimdAttention kernel;
  private AttentionOptions options;
  private Tensor q;
  private QuantizedKvCache cache;
  private int[] seqIds;
  private Tensor out;
  private Tensor lse;
  private double[][] expected;

  @Setup(Level.Trial)
  public void setup() {
    SplittableRandom rnd = new SplittableRandom(20240612L + kvLen);
    q = BenchData.gaussian(rnd, 1, HQ, 1, D);
    QuantizedKvCache.Format format = switch (kvDtype) {
      case "int8" -> QuantizedKvCache.Format.INT8;
      case "fp8" -> QuantizedKvCache.Format.FP8;
      default -> throw new IllegalArgumentException("kvDtype: expected int8 or fp8, got " + kvDtype);
    };
    cache = new QuantizedKvCache(HKV, D, D, PAGE, (kvLen + PAGE - 1) / PAGE, format);
    seqIds = new int[] {cache.newSequence()};
    for (int t = 0; t < kvLen; t += 1024) {
      int n = Math.min(1024, kvLen - t);
      cache.append(seqIds[0], BenchData.gaussian(rnd, HKV, n, D), BenchData.gaussian(rnd, HKV, n, D));
    }
    out = Tensor.zeros(DType.F32, 1, HQ, 1, D);
    lse = Tensor.zeros(DType.F32, 1, HQ, 1);
    options = AttentionOptions.builder().causal(true).build();
    pool = new ForkJoinPool(threads);
    kernel = new SimdAttention(pool);
    Tensor[] kv = cache.gather(seqIds);
    expected = new double[SAMPLE_HEADS.length][];
    for (int s = 0; s < SAMPLE_HEADS.length; s++) {
      expected[s] = referenceRow(SAMPLE_HEADS[s], kv[0], kv[1]);
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
    kernel.forwardSource(q, cache.source(seqIds), out, lse, options);
    return out;
  }

  /** One output row of head {@code h} in float64 on the dequantized cache. */
  private double[] referenceRow(int h, Tensor k, Tensor v) {
    int g = h / (HQ / HKV);
    double scale = 1 / Math.sqrt(D);
    double[] s = new double[kvLen];
    double m = Double.NEGATIVE_INFINITY;
    for (int j = 0; j < kvLen; j++) {
      double dot = 0;
      for (int e = 0; e < D; e++) {
        dot += q.getDouble(0, h, 0, e) * k.getDouble(0, g, j, e);
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
        o[e] += p * v.getDouble(0, g, j, e);
      }
    }
    for (int e = 0; e < D; e++) {
      o[e] /= l;
    }
    return o;
  }

}
