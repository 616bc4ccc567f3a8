package dev.attention4j.core;

/**
 * The float64 oracle: every rule of SEMANTICS.md, computed directly and in double precision, one
 * query row at a time. Slow by design (O(Sk) scratch per row, two passes over the keys), and the
 * implementation every fast kernel is tested against. Use it in your own unit tests:
 *
 * <pre>{@code
 * AttentionResult expected = ReferenceAttention.INSTANCE.forward(q, k, v, options);  // F64 outputs
 * ErrorMetrics err = ErrorMetrics.compare(myOutput, expected.out());
 * }</pre>
 *
 * <p>Per row: logits of the visible keys (mask checked first, so masked or padded slots are never
 * read), the largest of them {@code m}, {@code l = sum exp(s - m)},
 * {@code O = sum exp(s - m) v / l}, {@code LSE = m + ln l}. A row with no visible key, or whose
 * visible logits are all {@code -inf}, gives {@code O = 0} and {@code LSE = -inf}. A row that sees
 * a key (its final logit is not {@code -inf}) whose K or V row holds NaN or Inf gives NaN in its
 * whole O row and its LSE, and so does a NaN or Inf in the query. Given float64 inputs, it matches
 * an independent float64 computation within {@code 1e-9 * max(1, max|O|)}.
 */
public final class ReferenceAttention implements AttentionKernel {

  /** The shared instance (the class is stateless). */
  public static final ReferenceAttention INSTANCE = new ReferenceAttention();

  private ReferenceAttention() {
  }

  @Override
  public String name() {
    return "reference";
  }

  /** The kernel and its parameters, for logs. */
  @Override
  public String toString() {
    return "ReferenceAttention";
  }

  /** Computes into new float64 tensors. */
  @Override
  public AttentionResult forward(Tensor q, Tensor k, Tensor v, AttentionOptions options) {
    return AttentionResult.allocateAndRun(this, DType.F64, q, k, v, options);
  }

  @Override
  public void forward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
      AttentionOptions options) {
    AttentionShape s = AttentionShape.of(q, k, v, out, lse, options);
    int d = s.headDim();
    int dv = s.valueDim();
    double scale = options.scale(d);
    Mask mask = options.mask();
    double[] qRow = new double[d];
    double[] logits = new double[s.kvLen()];
    double[] acc = new double[dv];
    for (int b = 0; b < s.batch(); b++) {
      int kvLen = options.kvLen(b, s.kvLen());
      long diag = options.diagonal(b, s.qLen(), s.kvLen());
      for (int h = 0; h < s.qHeads(); h++) {
        int g = s.kvHead(h);
        for (int i = 0; i < s.qLen(); i++) {
          for (int c = 0; c < d; c++) {
            qRow[c] = q.getDoubleAt(q.offset() + b * q.stride(0) + h * q.stride(1)
                + i * q.stride(2) + c * q.stride(3));
          }
          // pass 1: logits of visible keys, and their maximum; whether the row sees a NaN or
          // Inf in a query, key or value
          double m = Double.NEGATIVE_INFINITY;
          boolean poisoned = false;
          for (int j = 0; j < kvLen; j++) {
            if (mask != null && !mask.allows(b, h, i, j, diag)) {
              logits[j] = Double.NEGATIVE_INFINITY;
              continue;
            }
            long kAt = k.offset() + b * k.stride(0) + g * k.stride(1) + j * k.stride(2);
            double dot = 0;
            boolean finite = true;
            for (int c = 0; c < d; c++) {
              double kc = k.getDoubleAt(kAt + c * k.stride(3));
              finite &= Double.isFinite(kc) && Double.isFinite(qRow[c]);
              dot += qRow[c] * kc;
            }
            double x = Logits.finish(finite ? scale * dot : Double.NaN, options, b, h, i, j,
                diag);
            logits[j] = x;
            m = Double.isNaN(x) || Double.isNaN(m) ? Double.NaN : Math.max(m, x);
            if (x != Double.NEGATIVE_INFINITY) {
              long vAt = v.offset() + b * v.stride(0) + g * v.stride(1) + j * v.stride(2);
              for (int c = 0; c < dv; c++) {
                finite &= Double.isFinite(v.getDoubleAt(vAt + c * v.stride(3)));
              }
              poisoned |= !finite;
            }
          }
          // pass 2: weights and the weighted sum of values
          java.util.Arrays.fill(acc, 0.0);
          double l = 0;
          if (m != Double.NEGATIVE_INFINITY) {
            for (int j = 0; j < kvLen; j++) {
              if (logits[j] == Double.NEGATIVE_INFINITY && !Double.isNaN(m)) {
                continue;
              }
              double p = Math.exp(logits[j] - m);
              l += p;
              long vAt = v.offset() + b * v.stride(0) + g * v.stride(1) + j * v.stride(2);
              for (int c = 0; c < dv; c++) {
                acc[c] += p * v.getDoubleAt(vAt + c * v.stride(3));
              }
            }
          }
          boolean empty = m == Double.NEGATIVE_INFINITY;
          long oAt = out.offset() + b * out.stride(0) + h * out.stride(1) + i * out.stride(2);
          for (int c = 0; c < dv; c++) {
            out.setAt(oAt + c * out.stride(3),
                poisoned ? Double.NaN : empty ? 0.0 : acc[c] / l);
          }
          if (lse != null) {
            lse.setAt(lse.offset() + b * lse.stride(0) + h * lse.stride(1) + i * lse.stride(2),
                poisoned ? Double.NaN : empty ? Double.NEGATIVE_INFINITY : m + Math.log(l));
          }
        }
      }
    }
  }
}
