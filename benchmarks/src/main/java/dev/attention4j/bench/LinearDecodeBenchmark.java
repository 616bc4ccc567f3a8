package dev.attention4j.bench;

import dev.attention4j.linear.FeatureMap;
import dev.attention4j.linear.LinearAttentionState;
import dev.attention4j.linear.LinearOptions;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One recurrent decode step of causal linear attention against the time to read its state once
 * (1 thread, elu1 map, D = Dv = F = 128): {@code step} runs {@code LinearAttentionState.step} for
 * 32 sequences x 8 heads (256 states of 64 KiB, 16 MiB in all, more than the L2, as when a
 * server decodes a batch); {@code readStates} reads 256 arrays of the same size against equal
 * copies with {@code Arrays.equals} (the JDK's vectorised mismatch intrinsic), which reads twice
 * the state bytes: the time to read the states once is half of it. The bound:
 * {@code step <= 2 x readStates / 2}.
 *
 * <p>After each iteration of {@code step}, state 0's output is checked against the closed form
 * in float64: every call appends the same key and value, so after {@code m} steps
 * {@code S = S0 + m phi(k) v^T} and {@code z = z0 + m phi(k)}.
 *
 * <pre>
 * java -jar benchmarks/target/benchmarks.jar LinearDecodeBenchmark -t 1 -f 1
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = "--add-modules=jdk.incubator.vector")
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class LinearDecodeBenchmark {

  private static final int D = 128;
  private static final int STATES = 32 * 8;
  private static final int PREFILL = 256;

  private LinearOptions options;
  private LinearAttentionState[] states;
  private float[][] q;
  private float[][] k;
  private float[][] v;
  private float[] out;
  private float[] s0;
  private float[] z0;
  private float[][] a;
  private float[][] b;

  @Setup(Level.Trial)
  public void setupTrial() {
    SplittableRandom rnd = new SplittableRandom(128);
    options = LinearOptions.builder(FeatureMap.elu1()).causal(true).build();
    q = new float[STATES][];
    k = new float[STATES][];
    v = new float[STATES][];
    a = new float[STATES][];
    b = new float[STATES][];
    for (int s = 0; s < STATES; s++) {
      q[s] = BenchData.gaussian(rnd, D).floatData();
      k[s] = BenchData.gaussian(rnd, D).floatData();
      v[s] = BenchData.gaussian(rnd, D).floatData();
      a[s] = BenchData.gaussian(rnd, D * D).floatData();
      b[s] = a[s].clone();
    }
    out = new float[D];
  }

  /** Fresh states with {@value #PREFILL} random keys each, so every iteration starts alike. */
  @Setup(Level.Iteration)
  public void setupIteration() {
    SplittableRandom rnd = new SplittableRandom(256);
    states = new LinearAttentionState[STATES];
    for (int s = 0; s < STATES; s++) {
      states[s] = LinearAttentionState.create(options, s % 8, s % 8, D, D);
      states[s].append(BenchData.gaussian(rnd, PREFILL * D).floatData(),
          BenchData.gaussian(rnd, PREFILL * D).floatData(), PREFILL);
    }
    s0 = states[0].state();
    z0 = states[0].normalizer();
  }

  /** One decode step of every state (the output of the last one is kept in {@code out}). */
  @Benchmark
  public float[] step() {
    for (int s = STATES - 1; s >= 0; s--) {
      states[s].step(q[s], k[s], v[s], out);
    }
    return out;
  }

  /** Reads {@code 2 x} the bytes of all states. */
  @Benchmark
  public boolean readStates() {
    boolean same = true;
    for (int s = 0; s < STATES; s++) {
      same &= Arrays.equals(a[s], b[s]);
    }
    return same;
  }

  /** Fails the run if state 0's last output is not the closed form. */
  @TearDown(Level.Iteration)
  public void verify() {
    long m = states[0].length() - PREFILL;
    if (m == 0) {
      return;
    }
    double[] pk = new double[D];
    double[] pq = new double[D];
    for (int f = 0; f < D; f++) {
      pk[f] = elu1(k[0][f]);
      pq[f] = elu1(q[0][f]);
    }
    double den = 1e-12;
    for (int f = 0; f < D; f++) {
      den += pq[f] * (z0[f] + m * pk[f]);
    }
    double[] want = new double[D];
    double max = 0;
    for (int e = 0; e < D; e++) {
      double num = 0;
      for (int f = 0; f < D; f++) {
        num += pq[f] * (s0[f * D + e] + m * pk[f] * v[0][e]);
      }
      want[e] = num / den;
      max = Math.max(max, Math.abs(want[e]));
    }
    // m float32 additions of one increment: allow 1e-2 of the largest output
    for (int e = 0; e < D; e++) {
      if (!(Math.abs(out[e] - want[e]) <= 1e-2 * Math.max(max, 1e-6))) {
        throw new IllegalStateException("linear decode: wrong output at column " + e + " after "
            + m + " steps: " + out[e] + ", expected " + want[e]);
      }
    }
  }

  private static double elu1(double x) {
    return x > 0 ? x + 1 : Math.exp(x);
  }
}
