package dev.attention4j.core;

/**
 * The output {@code O [B, Hq, Sq, Dv]} and, when requested, the natural-log
 * {@code LSE [B, Hq, Sq]} of an attention call.
 *
 * @param out the attention output
 * @param lse the log-sum-exp per row, or null when not requested
 */
public record AttentionResult(Tensor out, Tensor lse) {

  static AttentionResult allocateAndRun(AttentionKernel kernel, DType dtype, Tensor q, Tensor k,
      Tensor v, AttentionOptions options) {
    AttentionShape s = AttentionShape.of(q, k, v, null, null, options);
    Tensor out = Tensor.zeros(dtype, s.batch(), s.qHeads(), s.qLen(), s.valueDim());
    Tensor lse = options.returnLse() ? Tensor.zeros(dtype, s.batch(), s.qHeads(), s.qLen()) : null;
    kernel.forward(q, k, v, out, lse, options);
    return new AttentionResult(out, lse);
  }
}
