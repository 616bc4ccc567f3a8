package dev.attention4j.core;

/**
 * The facade: dense softmax attention with the fastest available kernel.
 *
 * <pre>{@code
 * Tensor q = Tensor.of(qData, 1, 8, 1024, 128);          // [B, Hq, Sq, D]
 * AttentionOptions opts = AttentionOptions.builder().causal(true).build();
 * AttentionResult r = Attention.forward(q, k, v, opts);  // float32 O and LSE
 * AttentionResult oracle = Attention.reference(q, k, v, opts);  // float64
 * }</pre>
 */
public final class Attention {
  private Attention() {
  }

  /** Attention into new float32 tensors, with the kernel chosen by {@link Kernels}. */
  public static AttentionResult forward(Tensor q, Tensor k, Tensor v, AttentionOptions options) {
    return Kernels.dense().forward(q, k, v, options);
  }

  /** Attention into caller-provided outputs ({@code lse} may be null). */
  public static void forward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
      AttentionOptions options) {
    Kernels.dense().forward(q, k, v, out, lse, options);
  }

  /** The float64 oracle, into new float64 tensors. */
  public static AttentionResult reference(Tensor q, Tensor k, Tensor v, AttentionOptions options) {
    return ReferenceAttention.INSTANCE.forward(q, k, v, options);
  }
}
