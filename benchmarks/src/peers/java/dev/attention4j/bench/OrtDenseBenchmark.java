package dev.attention4j.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.util.Map;
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
 * ONNX Runtime (CPU provider) on {@link DenseBenchmark}'s workload, through a one-node model built
 * in memory by {@link OnnxModel}: {@code op = MultiHeadAttention} is the {@code com.microsoft}
 * contrib operator (query {@code [1, n, 8 d]}, key and value {@code [1, 8, n, d]},
 * {@code unidirectional} for causal), {@code op = Attention} the ONNX opset-23 operator (all
 * {@code [1, 8, n, d]}, {@code is_causal}). Same inputs and thread count (intra-op threads =
 * {@code threads}, one inter-op thread). After every iteration the sampled rows are checked
 * against the float64 expectation.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xmx3g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class OrtDenseBenchmark {

  private static final int H = PeerInputs.DENSE_HEADS;

  @Param({"1024", "2048", "4096"})
  int n;

  @Param({"64", "128"})
  int d;

  @Param({"false", "true"})
  boolean causal;

  @Param({"1"})
  int threads;

  @Param({"MultiHeadAttention"})
  String op;

  private PeerInputs in;
  private OrtSession session;
  private Map<String, OnnxTensor> inputs;
  private OrtSession.Result result;
  private boolean mha;

  @Setup(Level.Trial)
  public void setup() throws OrtException {
    PeerThreads.requireEnvironment(threads);
    in = PeerInputs.dense(n, d, causal);
    mha = op.equals("MultiHeadAttention");
    OnnxModel model;
    if (mha) {
      model = new OnnxModel("MultiHeadAttention", "com.microsoft")
          .input("query", OnnxModel.FLOAT, 1, n, (long) H * d)
          .input("key", OnnxModel.FLOAT, 1, H, n, d)
          .input("value", OnnxModel.FLOAT, 1, H, n, d)
          .output("out", OnnxModel.FLOAT, 1, n, (long) H * d)
          .attribute("num_heads", H)
          .attribute("unidirectional", causal ? 1 : 0);
      inputs = Map.of(
          "query", Ort.floats(Ort.toBsh(in.q, H, n, d), 1, n, (long) H * d),
          "key", Ort.floats(in.k, 1, H, n, d),
          "value", Ort.floats(in.v, 1, H, n, d));
    } else if (op.equals("Attention")) {
      model = new OnnxModel("Attention", "").opset(23, 11)
          .input("query", OnnxModel.FLOAT, 1, H, n, d)
          .input("key", OnnxModel.FLOAT, 1, H, n, d)
          .input("value", OnnxModel.FLOAT, 1, H, n, d)
          .output("out", OnnxModel.FLOAT, 1, H, n, d)
          .attribute("is_causal", causal ? 1 : 0);
      inputs = Map.of(
          "query", Ort.floats(in.q, 1, H, n, d),
          "key", Ort.floats(in.k, 1, H, n, d),
          "value", Ort.floats(in.v, 1, H, n, d));
    } else {
      throw new IllegalArgumentException("op " + op + ": MultiHeadAttention or Attention");
    }
    session = Ort.session(model.toBytes(), threads);
  }

  @TearDown(Level.Trial)
  public void tearDown() throws OrtException {
    session.close();
    inputs.values().forEach(OnnxTensor::close);
  }

  /** Fails the run if the last invocation's output is wrong. */
  @TearDown(Level.Iteration)
  public void verify() {
    float[] row = new float[d];
    OnnxTensor out = (OnnxTensor) result.get(0);
    for (int s = 0; s < in.expected.length; s++) {
      int h = in.sampleHead[s];
      int i = in.sampleRow[s];
      Ort.read(out, mha ? (i * H + h) * d : (h * n + i) * d, row);
      PeerInputs.check("ONNX Runtime " + op, in.expected[s], row, h, i, 1e-4);
    }
    result.close();
    result = null;
  }

  @Benchmark
  public OrtSession.Result forward() throws OrtException {
    if (result != null) {
      result.close();
    }
    result = session.run(inputs);
    return result;
  }
}
