package dev.attention4j.bench;

import java.util.concurrent.TimeUnit;
import org.bytedeco.pytorch.Tensor;
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
 * PyTorch {@code scaled_dot_product_attention} (libtorch through JavaCPP) on
 * {@link DenseBenchmark}'s workload: the same q, k, v ({@code [1, 8, n, d]} float32), the same
 * {@code is_causal}, the same thread count ({@code torch.set_num_threads} plus the environment
 * checked by {@link PeerThreads}). After every iteration the sampled rows are checked against the
 * float64 expectation. Only in the {@code peers} profile.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xmx3g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class TorchDenseBenchmark {

  @Param({"1024", "2048", "4096"})
  int n;

  @Param({"64", "128"})
  int d;

  @Param({"false", "true"})
  boolean causal;

  @Param({"1"})
  int threads;

  private PeerInputs in;
  private Tensor q;
  private Tensor k;
  private Tensor v;
  private Tensor out;

  @Setup(Level.Trial)
  public void setup() {
    PeerThreads.requireEnvironment(threads);
    Torch.threads(threads);
    in = PeerInputs.dense(n, d, causal);
    long[] shape = {1, PeerInputs.DENSE_HEADS, n, d};
    q = Torch.tensor(in.q, shape);
    k = Torch.tensor(in.k, shape);
    v = Torch.tensor(in.v, shape);
  }

  /** Fails the run if the last invocation's output is wrong. */
  @TearDown(Level.Iteration)
  public void verify() {
    float[] row = new float[d];
    for (int s = 0; s < in.expected.length; s++) {
      Torch.read(out, ((long) in.sampleHead[s] * n + in.sampleRow[s]) * d, row);
      PeerInputs.check("PyTorch", in.expected[s], row, in.sampleHead[s], in.sampleRow[s], 1e-4);
    }
    out.close();
    out = null;
  }

  @Benchmark
  public Tensor forward() {
    if (out != null) {
      out.close();
    }
    out = Torch.sdpa(q, k, v, causal, false);
    return out;
  }
}
