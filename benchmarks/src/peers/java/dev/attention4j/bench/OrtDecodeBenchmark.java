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
 * ONNX Runtime on {@link DecodeBenchmark}'s contiguous workload through a one-node ONNX opset-23
 * {@code Attention} model (built in memory by {@link OnnxModel}), which takes grouped K/V heads
 * directly: q {@code [1, 32, 1, 128]}, K and V {@code [1, 8, kvLen, 128]}. One query token sees
 * every key, so {@code is_causal} is not set. {@code f16} runs the node in float16 (query rounded
 * to float16, expectation from the rounded query, float16 tolerance {@code 2e-3}).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xmx3g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class OrtDecodeBenchmark {

  private static final int HQ = PeerInputs.DECODE_HQ;
  private static final int HKV = PeerInputs.DECODE_HKV;
  private static final int D = PeerInputs.DECODE_D;

  @Param({"4096", "32768"})
  int kvLen;

  @Param({"f32", "f16"})
  String kvDtype;

  @Param({"1"})
  int threads;

  private PeerInputs in;
  private OrtSession session;
  private Map<String, OnnxTensor> inputs;
  private OrtSession.Result result;
  private double tolerance;

  @Setup(Level.Trial)
  public void setup() throws OrtException {
    PeerThreads.requireEnvironment(threads);
    boolean f16 = kvDtype.equals("f16");
    in = PeerInputs.decode(kvLen, f16, f16);
    int type = f16 ? OnnxModel.FLOAT16 : OnnxModel.FLOAT;
    OnnxModel model = new OnnxModel("Attention", "").opset(23, 11)
        .input("query", type, 1, HQ, 1, D)
        .input("key", type, 1, HKV, kvLen, D)
        .input("value", type, 1, HKV, kvLen, D)
        .output("out", type, 1, HQ, 1, D);
    inputs = f16
        ? Map.of("query", Ort.halves(in.q, 1, HQ, 1, D),
            "key", Ort.halves(in.k, 1, HKV, kvLen, D),
            "value", Ort.halves(in.v, 1, HKV, kvLen, D))
        : Map.of("query", Ort.floats(in.q, 1, HQ, 1, D),
            "key", Ort.floats(in.k, 1, HKV, kvLen, D),
            "value", Ort.floats(in.v, 1, HKV, kvLen, D));
    session = Ort.session(model.toBytes(), threads);
    tolerance = f16 ? 2e-3 : 1e-4;
  }

  @TearDown(Level.Trial)
  public void tearDown() throws OrtException {
    session.close();
    inputs.values().forEach(OnnxTensor::close);
  }

  /** Fails the run if the last invocation's output is wrong. */
  @TearDown(Level.Iteration)
  public void verify() {
    float[] row = new float[D];
    OnnxTensor out = (OnnxTensor) result.get(0);
    for (int s = 0; s < in.expected.length; s++) {
      int h = in.sampleHead[s];
      Ort.read(out, h * D, row);
      PeerInputs.check("ONNX Runtime Attention", in.expected[s], row, h, 0, tolerance);
    }
    result.close();
    result = null;
  }

  @Benchmark
  public OrtSession.Result step() throws OrtException {
    if (result != null) {
      result.close();
    }
    result = session.run(inputs);
    return result;
  }
}
