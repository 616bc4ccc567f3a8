package dev.attention4j.quant;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionShape;
import dev.attention4j.core.Mask;
import dev.attention4j.core.Tensor;
import java.util.Arrays;
import java.util.concurrent.ForkJoinPool;
import java.util.stream.IntStream;

/**
 * The scalar float64-accumulating pipeline of a Sage variant, on the quantized operands of
 * {@link SagePrep}: per query row, key tiles of {@link SageVariant#P_TILE} keys (aligned to
 * multiples of 128), logits {@code scale * (<q~_deq, k~_deq> + <qbar, k~>)} in float64, the
 * online softmax with the running max {@code m}, {@code P~ = exp(s - m) * pScale} quantized per
 * tile ({@link PQuant}), the row sum over the unquantized {@code P~} (so the scale cancels),
 * {@code O = acc / l}, {@code LSE = m + ln(l / pScale) + scale * <q, kbar>}.
 */
final class ReferenceSage {

  private final SagePrep p;
  private final AttentionOptions options;
  private final boolean fp22;

  ReferenceSage(SagePrep p, AttentionOptions options, boolean fp22) {
    this.p = p;
    this.options = options;
    this.fp22 = fp22;
  }

  void run(ForkJoinPool pool, Tensor out, Tensor lse) {
    AttentionShape s = p.shape;
    int n = s.batch() * s.qHeads();
    pool.submit(() -> IntStream.range(0, n).parallel().forEach(bh -> head(bh, out, lse))).join();
    SageAttention.finish(p, options, out, lse);
  }

  private void head(int bh, Tensor out, Tensor lse) {
    AttentionShape s = p.shape;
    int b = bh / s.qHeads();
    int h = bh % s.qHeads();
    int g = s.kvHead(h);
    int d = p.d;
    int dv = p.dv;
    int sk = s.kvLen();
    double scale = options.scale(d);
    Mask mask = options.mask();
    long diag = options.diagonal(b, s.qLen(), sk);
    SageVariant variant = p.variant;
    double pScale = variant.pScale();
    int kBase = (b * s.kvHeads() + g) * sk;
    double[] acc = new double[dv];
    double[] tileAcc = new double[dv];
    double[] logit = new double[SageVariant.P_TILE];
    float[] pt = new float[SageVariant.P_TILE];
    double[] praw = new double[SageVariant.P_TILE];
    for (int i = 0; i < s.qLen(); i++) {
      int qa = (bh * s.qLen() + i) * d;
      int qb = p.qbar == null ? -1 : (bh * p.qBlocks + i / SageVariant.Q_BLOCK) * d;
      double m = Double.NEGATIVE_INFINITY;
      double l = 0;
      Arrays.fill(acc, 0);
      for (int j0 = 0; j0 < sk; j0 += SageVariant.P_TILE) {
        int cols = Math.min(SageVariant.P_TILE, sk - j0);
        double tmax = Double.NEGATIVE_INFINITY;
        for (int c = 0; c < cols; c++) {
          int j = j0 + c;
          if (mask != null && !mask.allows(b, h, i, j, diag)) {
            logit[c] = Double.NEGATIVE_INFINITY;
            continue;
          }
          int ka = (kBase + j) * d;
          double dot = 0;
          for (int e = 0; e < d; e++) {
            dot += (double) p.qd[qa + e] * p.kd[ka + e];
          }
          if (qb >= 0) {
            for (int e = 0; e < d; e++) {
              dot += (double) p.qbar[qb + e] * p.ks[ka + e];
            }
          }
          logit[c] = scale * dot;
          tmax = Double.isNaN(logit[c]) || Double.isNaN(tmax) ? Double.NaN
              : Math.max(tmax, logit[c]);
        }
        if (tmax == Double.NEGATIVE_INFINITY) {
          continue; // nothing visible in this tile
        }
        double mNew = Double.isNaN(tmax) ? Double.NaN : Math.max(m, tmax);
        double alpha = m == Double.NEGATIVE_INFINITY ? 0 : Math.exp(m - mNew);
        double sum = 0;
        for (int c = 0; c < cols; c++) {
          praw[c] = logit[c] == Double.NEGATIVE_INFINITY ? 0 : Math.exp(logit[c] - mNew) * pScale;
          sum += praw[c];
          pt[c] = (float) praw[c];
        }
        if (!p.identity) {
          PQuant.quantize(variant, pt, 0, 1, cols);
        }
        Arrays.fill(tileAcc, 0);
        for (int c = 0; c < cols; c++) {
          double w = variant == SageVariant.SAGE1 || p.identity ? praw[c] : pt[c];
          if (w == 0) {
            continue;
          }
          int va = (kBase + j0 + c) * dv;
          for (int e = 0; e < dv; e++) {
            tileAcc[e] += w * p.vd[va + e];
          }
        }
        for (int e = 0; e < dv; e++) {
          acc[e] = acc[e] * alpha + (fp22 ? PQuant.fp22(tileAcc[e]) : tileAcc[e]);
        }
        l = l * alpha + sum;
        m = mNew;
      }
      boolean empty = m == Double.NEGATIVE_INFINITY;
      long oa = out.offset() + b * out.stride(0) + h * out.stride(1) + i * out.stride(2);
      for (int e = 0; e < dv; e++) {
        out.setAt(oa + e * out.stride(3), empty ? 0.0 : acc[e] / l);
      }
      if (lse != null) {
        lse.setAt(lse.offset() + b * lse.stride(0) + h * lse.stride(1) + i * lse.stride(2),
            empty ? Double.NEGATIVE_INFINITY : m + Math.log(l / pScale));
      }
    }
  }
}
