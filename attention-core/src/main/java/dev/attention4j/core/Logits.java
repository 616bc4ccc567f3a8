package dev.attention4j.core;

/**
 * Steps 2 and 3 of the logit (SEMANTICS.md): softcap, then ALiBi, then the user score modifier.
 * Shared by the scalar kernels of this module; the SIMD engine has its vectorised twin.
 */
final class Logits {
  private Logits() {
  }

  /**
   * The final logit of one pair from {@code s = scale * <q_i, k_j>}. A non-finite {@code s} (a
   * NaN or Inf in the query or the key) gives NaN, whatever softcap and ALiBi would make of it,
   * unless the score modifier hides the key ({@code -inf}).
   */
  static double finish(double s, AttentionOptions o, int b, int h, int i, int j, long diag) {
    boolean bad = !Double.isFinite(s);
    s = bad ? Double.NaN : s;
    double c = o.softcap();
    if (c > 0) {
      s = c * Math.tanh(s / c);
    }
    if (o.hasAlibi()) {
      s -= o.alibiSlope(h) * Math.abs(i + diag - j);
    }
    ScoreMod mod = o.scoreMod();
    if (mod != null) {
      s = mod.apply(s, b, h, i, j);
    }
    return bad && s != Double.NEGATIVE_INFINITY ? Double.NaN : s;
  }
}
