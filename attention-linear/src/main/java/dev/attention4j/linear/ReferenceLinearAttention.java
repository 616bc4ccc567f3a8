package dev.attention4j.linear;

import dev.attention4j.core.AttentionShape;
import dev.attention4j.core.Tensor;

/**
 * The float64 oracle of linear attention: the quadratic masked form straight from SEMANTICS.md,
 * one query row at a time, with {@code phi} evaluated in float64 ({@link FeatureMap#apply}).
 *
 * <pre>
 * w_ts = phi(q_t) . phi(k_s),   t' = t + Sk - Sq,   visible: s &lt;= t' (causal) or every s
 * normalised:    o_t = sum w_ts v_s / (sum w_ts + 1e-12)
 * unnormalised:  o_t = sum lambda^(t' - s) w_ts v_s        (lambda = exp(-slope_h), 1 without decay)
 * hybrid (W, g): a_s = g exp(scale q_t.k_s - m_t) for t' - W &lt; s &lt;= t',
 *                b_s = (1 - g) w_ts for s &lt;= t' - W,
 *                o_t = (sum a_s v_s + sum b_s v_s) / (sum a_s + sum b_s)
 * </pre>
 *
 * Rows that see no key give 0. Cost {@code O(Sq Sk F)} per head: for tests and small checks.
 */
public final class ReferenceLinearAttention {

  private ReferenceLinearAttention() {
  }

  /**
   * Computes {@code out [B, Hq, Sq, Dv]} (any dtype; float64 keeps every digit).
   *
   * @throws IllegalArgumentException for inconsistent shapes or options
   */
  public static void forward(Tensor q, Tensor k, Tensor v, Tensor out, LinearOptions o) {
    AttentionShape s = Rows.check(q, k, v, out, o);
    for (int b = 0; b < s.batch(); b++) {
      for (int h = 0; h < s.qHeads(); h++) {
        head(q, k, v, out, o, s, b, h);
      }
    }
  }

  private static void head(Tensor q, Tensor k, Tensor v, Tensor out, LinearOptions o,
      AttentionShape s, int b, int h) {
    int g = s.kvHead(h);
    int d = s.headDim();
    int dv = s.valueDim();
    int sq = s.qLen();
    int sk = s.kvLen();
    FeatureMap map = o.featureMap();
    int fd = map.featureDim(d);
    double[] qx = new double[sq * d];
    double[] kx = new double[sk * d];
    double[] vx = new double[sk * dv];
    Rows.loadDouble(q, b, h, 0, sq, d, qx);
    Rows.loadDouble(k, b, g, 0, sk, d, kx);
    Rows.loadDouble(v, b, g, 0, sk, dv, vx);
    double[] pk = new double[sk * fd];
    for (int j = 0; j < sk; j++) {
      map.apply(false, g, kx, j * d, d, pk, j * fd);
    }
    double[] pq = new double[fd];
    double[] o1 = new double[sq * dv];
    double slope = o.decaySlope(h);
    int w = o.hybridWindow();
    double gm = w > 0 ? o.mix(h) : 0;
    double scale = o.scale(d);
    for (int t = 0; t < sq; t++) {
      long tp = (long) t + sk - sq;
      int last = o.causal() ? (int) Math.min(sk - 1, tp) : sk - 1;
      map.apply(true, h, qx, t * d, d, pq, 0);
      double[] num = new double[dv];
      double den = 0;
      int linLast = w > 0 ? (int) Math.min(last, tp - w) : last;
      for (int j = 0; j <= linLast; j++) {
        double wts = 0;
        for (int f = 0; f < fd; f++) {
          wts += pq[f] * pk[j * fd + f];
        }
        if (o.hasDecay()) {
          wts *= Math.exp(-slope * (tp - j));
        }
        if (w > 0) {
          wts *= 1 - gm;
        }
        for (int e = 0; e < dv; e++) {
          num[e] += wts * vx[j * dv + e];
        }
        den += wts;
      }
      if (w > 0 && last >= 0) {
        int first = (int) Math.max(0, tp - w + 1);
        double[] logit = new double[last - first + 1];
        double m = Double.NEGATIVE_INFINITY;
        for (int j = first; j <= last; j++) {
          double dot = 0;
          for (int e = 0; e < d; e++) {
            dot += qx[t * d + e] * kx[j * d + e];
          }
          // a non-finite query or key makes the row NaN (a -inf logit would drop the key)
          logit[j - first] = Double.isFinite(dot) ? scale * dot : Double.NaN;
          m = Math.max(m, logit[j - first]);
        }
        for (int j = first; j <= last; j++) {
          double a = gm * Math.exp(logit[j - first] - m);
          for (int e = 0; e < dv; e++) {
            num[e] += a * vx[j * dv + e];
          }
          den += a;
        }
      }
      for (int e = 0; e < dv; e++) {
        double x;
        if (last < 0) {
          x = 0;
        } else if (w > 0) {
          x = num[e] / den;
        } else if (o.normalize()) {
          x = num[e] / (den + LinearOptions.EPS);
        } else {
          x = num[e];
        }
        o1[t * dv + e] = x;
      }
    }
    Rows.storeDouble(o1, out, b, h, 0, sq, dv);
  }
}
