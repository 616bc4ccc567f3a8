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
 * PyTorch {@code scaled_dot_product_attention(..., enable_gqa=True)} on
 * {@link DecodeBenchmark}'s contiguous workload: one query token, 32 query heads, 8 KV heads,
 * {@code D = 128}, the same q, K, V. With one query token bottom-right causal attention sees every
 * key, so {@code is_causal} stays false (PyTorch's causal mask is top-left). {@code f16} runs the
 * whole call in float16 (PyTorch needs one dtype): the query is rounded to float16 too and the
 * expectation is computed from the rounded query; the float16 output is checked with a float16
 * tolerance ({@code 2e-3} of the row's largest value).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xmx3g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class TorchDecodeBenchmark {

  @Param({"4096", "32768"})
  int kvLen;

  @Param({"f32", "f16"})
  String kvDtype;

  @Param({"1"})
  int threads;

  private PeerInputs in;
  private Tensor q;
  private Tensor k;
  private Tensor v;
  private Tensor out;
  private double tolerance;

  @Setup(Level.Trial)
  public void setup() {
    PeerThreads.requireEnvironment(threads);
    Torch.threads(threads);
    boolean f16 = kvDtype.equals("f16");
    in = PeerInputs.decode(kvLen, f16, f16);
    long[] qShape = {1, PeerInputs.DECODE_HQ, 1, PeerInputs.DECODE_D};
    long[] kvShape = {1, PeerInputs.DECODE_HKV, kvLen, PeerInputs.DECODE_D};
    q = f16 ? Torch.half(in.q, qShape) : Torch.tensor(in.q, qShape);
    k = f16 ? Torch.half(in.k, kvShape) : Torch.tensor(in.k, kvShape);
    v = f16 ? Torch.half(in.v, kvShape) : Torch.tensor(in.v, kvShape);
    tolerance = f16 ? 2e-3 : 1e-4;
  }

  /** Fails the run if the last invocation's output is wrong. */
  @TearDown(Level.Iteration)
  public void verify() {
    float[] row = new float[PeerInputs.DECODE_D];
    for (int s = 0; s < in.expected.length; s++) {
      int h = in.sampleHead[s];
      Torch.read(out, (long) h * PeerInputs.DECODE_D, row);
      PeerInputs.check("PyTorch", in.expected[s], row, h, 0, tolerance);
    }
    out.close();
    out = null;
  }

  @Benchmark
  public Tensor step() {
    if (out != null) {
      out.close();
    }
    out = Torch.sdpa(q, k, v, false, true);
    return out;
  }
}
