package dev.attention4j.core;

/**
 * Steps 2 and 3 of the logit (SEMANTICS.md): softcap, then ALiBi, then the user score modifier.
 * Shared by the scalar kernels of this module; the SIMD engine has its vectorised twin.
 */
final class Logits {
  private Logits() {
  }

  static double finish(double s, AttentionOptions o, int b, int h, int i, int j, long diag) {
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
    return s;
  }
}
