package dev.attention4j.bench;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/** Small helpers around libtorch (JavaCPP): tensors from and to {@code float[]}, SDPA. */
final class Torch {

  private static final TensorOptional NO_MASK = new TensorOptional();
  private static final DoubleOptional DEFAULT_SCALE = new DoubleOptional();
  private static boolean interopSet;

  private Torch() {}

  /** {@code torch.set_num_threads(threads)} and one inter-op thread (set once per process). */
  static synchronized void threads(int threads) {
    if (!interopSet) {
      torch.set_num_interop_threads(1);
      interopSet = true;
    }
    torch.set_num_threads(threads);
    if (torch.get_num_threads() != threads) {
      throw new IllegalStateException("torch.get_num_threads() = " + torch.get_num_threads()
          + " after set_num_threads(" + threads + ")");
    }
  }

  /** {@link #tensor} converted to float16 (exact when the values are float16 already). */
  static Tensor half(float[] data, long... shape) {
    try (Tensor f = tensor(data, shape)) {
      return f.to(torch.ScalarType.Half).contiguous();
    }
  }

  /** A new contiguous float32 tensor holding a copy of {@code data}. */
  static Tensor tensor(float[] data, long... shape) {
    Tensor t = torch.empty(shape);
    FloatPointer p = new FloatPointer(t.data_ptr());
    p.put(data, 0, data.length);
    return t;
  }

  /** Copies {@code row.length} floats starting at flat index {@code offset} of {@code t}. */
  static void read(Tensor t, long offset, float[] row) {
    try (Tensor f = t.to(torch.ScalarType.Float).contiguous()) {
      FloatPointer p = new FloatPointer(f.data_ptr());
      p.position(offset).get(row, 0, row.length);
    }
  }

  /** {@code scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=gqa)}. */
  static Tensor sdpa(Tensor q, Tensor k, Tensor v, boolean causal, boolean gqa) {
    return torch.scaled_dot_product_attention(q, k, v, NO_MASK, 0.0, causal, DEFAULT_SCALE, gqa);
  }
}
