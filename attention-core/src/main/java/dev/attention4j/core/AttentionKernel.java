package dev.attention4j.core;

/**
 * A softmax-attention kernel: {@code O = softmax(mask(bias(softcap(scale Q K^T)))) V}, per
 * SEMANTICS.md. Implementations are thread-safe and stateless from the caller's point of view.
 */
public interface AttentionKernel {

  /** A short name for reports, such as {@code "reference"}, {@code "scalar"} or {@code "simd-512"}. */
  String name();

  /**
   * Computes attention into caller-provided outputs.
   *
   * @param q queries {@code [B, Hq, Sq, D]}, any dtype and strides; not modified
   * @param k keys {@code [B, Hkv, Sk, D]}; not modified
   * @param v values {@code [B, Hkv, Sk, Dv]}; not modified
   * @param out written: {@code [B, Hq, Sq, Dv]}, any dtype and strides
   * @param lse written when non-null: {@code [B, Hq, Sq]}, natural-log LSE, {@code -inf} for rows
   *     that see no key
   * @throws IllegalArgumentException if the shapes disagree with each other or with the options
   */
  void forward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, AttentionOptions options);

  /**
   * Computes attention into new float32 tensors (the LSE only when
   * {@link AttentionOptions#returnLse()}).
   */
  default AttentionResult forward(Tensor q, Tensor k, Tensor v, AttentionOptions options) {
    return AttentionResult.allocateAndRun(this, DType.F32, q, k, v, options);
  }
}
