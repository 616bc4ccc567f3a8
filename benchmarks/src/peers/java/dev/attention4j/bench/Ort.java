package dev.attention4j.bench;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;

/** Small helpers around ONNX Runtime's Java API: sessions pinned to a thread count, tensors. */
final class Ort {

  static final OrtEnvironment ENV = OrtEnvironment.getEnvironment();

  private Ort() {}

  /**
   * A session on the CPU provider with {@code threads} intra-op threads, one inter-op thread,
   * sequential execution and all graph optimizations.
   */
  static OrtSession session(byte[] model, int threads) throws OrtException {
    try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
      options.setIntraOpNumThreads(threads);
      options.setInterOpNumThreads(1);
      options.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
      options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
      return ENV.createSession(model, options);
    }
  }

  /** A float32 tensor over a direct copy of {@code data} (no copy at run time). */
  static OnnxTensor floats(float[] data, long... shape) throws OrtException {
    FloatBuffer b = ByteBuffer.allocateDirect(data.length * 4).order(ByteOrder.nativeOrder())
        .asFloatBuffer();
    b.put(data).flip();
    return OnnxTensor.createTensor(ENV, b, shape);
  }

  /** A float16 tensor of {@code data} rounded to float16. */
  static OnnxTensor halves(float[] data, long... shape) throws OrtException {
    ShortBuffer b = ByteBuffer.allocateDirect(data.length * 2).order(ByteOrder.nativeOrder())
        .asShortBuffer();
    for (float x : data) {
      b.put(Float.floatToFloat16(x));
    }
    b.flip();
    return OnnxTensor.createTensor(ENV, b, shape, OnnxJavaType.FLOAT16);
  }

  /** Copies {@code row.length} values from flat index {@code offset} of a float32/16 tensor. */
  static void read(OnnxTensor t, int offset, float[] row) {
    if (t.getInfo().type == OnnxJavaType.FLOAT16) {
      ShortBuffer b = t.getShortBuffer();
      for (int e = 0; e < row.length; e++) {
        row[e] = Float.float16ToFloat(b.get(offset + e));
      }
    } else {
      FloatBuffer b = t.getFloatBuffer();
      b.position(offset).get(row, 0, row.length);
    }
  }

  /** {@code [H, S, D]} to {@code [S, H * D]} (ONNX Runtime's 3-D attention layout). */
  static float[] toBsh(float[] a, int heads, int s, int d) {
    float[] t = new float[a.length];
    for (int h = 0; h < heads; h++) {
      for (int i = 0; i < s; i++) {
        System.arraycopy(a, (h * s + i) * d, t, (i * heads + h) * d, d);
      }
    }
    return t;
  }
}
