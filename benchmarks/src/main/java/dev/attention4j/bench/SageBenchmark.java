package dev.attention4j.bench;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.DType;
import dev.attention4j.core.Tensor;
import dev.attention4j.quant.SageAttention;
import dev.attention4j.quant.SageVariant;
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
 * The fast SageAttention kernels, float32 inputs, {@code B = 1}, {@code H = 8}, self-attention of
 * length {@code n}, including the quantization of Q, K and V on every call (as the library does).
 * Compare with {@link DenseBenchmark} on the same {@code n, d}: the quantized kernels emulate the
 * formats bit-exactly and are not faster than float32 on a CPU (TOOLCHAIN.md). After every
 * iteration the whole output is checked against the variant's float64 reference pipeline,
 * computed at setup (same quantization; they differ only in accumulation rounding).
 *
 * <pre>
 * bin/mvn25 -q -pl benchmarks -am package -DskipTests
 * java -jar benchmarks/target/benchmarks.jar SageBenchmark -t 1 -f 1 -wi 2 -i 3
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = "--add-modules=jdk.incubator.vector")
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
public class SageBenchmark {

  private static final int HEADS = 8;

  @Param({"sage1", "sage2-int8", "sage2-int4", "sage3-nvfp4"})
  String variant;

  @Param({"1024", "1500", "2048"})
  int n;

  @Param({"128"})
  int d;

  @Param({"false"})
  boolean causal;

  @Param({"1"})
  int threads;

  private ForkJoinPool pool;
  private SageAttention kernel;
  private AttentionOptions options;
  private Tensor q;
  private Tensor k;
  private Tensor v;
  private Tensor out;
  private Tensor lse;
  private double[] expected;
  private double bound;

  @Setup(Level.Trial)
  public void setup() {
    SplittableRandom rnd = new SplittableRandom(20250601L + n * 31L + d);
    q = BenchData.gaussian(rnd, 1, HEADS, n, d);
    k = BenchData.gaussian(rnd, 1, HEADS, n, d);
    v = BenchData.gaussian(rnd, 1, HEADS, n, d);
    out = Tensor.zeros(DType.F32, 1, HEADS, n, d);
    lse = Tensor.zeros(DType.F32, 1, HEADS, n);
    options = AttentionOptions.builder().causal(causal).build();
    pool = new ForkJoinPool(threads);
    SageVariant sv = SageVariant.byId(variant);
    kernel = SageAttention.builder(sv).pool(pool).build();
    Tensor ref = SageAttention.builder(sv).impl(SageAttention.Impl.REFERENCE).build()
        .forward(q, k, v, options).out();
    expected = ref.toDoubleArray();
    double max = 0;
    for (double x : expected) {
      max = Math.max(max, Math.abs(x));
    }
    bound = 1e-4 * Math.max(1, max);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    pool.shutdown();
  }

  /**
   * Fails the run if the last invocation's output is wrong: within {@code 1e-4 * max|O|} except
   * where a last-bit difference of a logit moved a quantized P code across a rounding boundary
   * (rare: at most 0.2% of the elements, relative L1 at most 1e-4).
   */
  @TearDown(Level.Iteration)
  public void verify() {
    double[] got = out.toDoubleArray();
    int over = 0;
    double diff = 0;
    double norm = 0;
    for (int i = 0; i < got.length; i++) {
      double e = Math.abs(got[i] - expected[i]);
      if (Double.isNaN(e)) {
        throw new IllegalStateException(variant + ": NaN at " + i);
      }
      over += e > bound ? 1 : 0;
      diff += e;
      norm += Math.abs(expected[i]);
    }
    if (over > got.length / 500 || diff > 1e-4 * norm) {
      throw new IllegalStateException(variant + ": wrong output: " + over + " elements beyond "
          + bound + ", relative L1 " + diff / norm);
    }
    out.fill(0);
  }

  @Benchmark
  public Tensor forward() {
    kernel.forward(q, k, v, out, lse, options);
    return out;
  }

}
