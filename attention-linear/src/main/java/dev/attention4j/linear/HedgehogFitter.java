package dev.attention4j.linear;

import dev.attention4j.core.Tensor;
import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.stream.IntStream;

/**
 * Fits Hedgehog feature-map weights by attention distillation (Hedgehog, arXiv 2402.04347;
 * kernel-notes §6.3), in float64. For every KV head {@code g} and its query heads {@code h}, the
 * teacher is softmax attention {@code A_ts = softmax_s(q_t . k_s / sqrt(D))} over the visible pairs
 * (causal: {@code s <= t}), the student the normalised linear-attention weights
 * {@code Â_ts = w_ts / sum_s w_ts} with {@code w_ts = phi_q(q_t) . phi_k(k_s)} and
 * {@code phi = max(concat(softmax(x W), softmax(-x W)), 1e-12)}; the loss is the cross-entropy
 * {@code -sum_t sum_s A_ts log Â_ts}, averaged over the query rows. Its gradient is analytic:
 * {@code dL/dw_ts = (Â_ts - A_ts) / w_ts} per row, back through the two softmaxes (the clamp
 * passes no gradient where it is active) to {@code W}. Adam updates the weights: one step per
 * batch entry per epoch, the KV heads in parallel.
 */
public final class HedgehogFitter {

  /**
   * Settings.
   *
   * @param features F (the feature dim of the map is 2F)
   * @param epochs passes over the data
   * @param seed seed of the initial weights, N(0, 1/D)
   * @param causal teacher and student over causal pairs only (else all pairs)
   * @param learningRate Adam step size
   */
  public record Config(int features, int epochs, long seed, boolean causal, double learningRate) {

    /** The default learning rate. */
    public static final double DEFAULT_LEARNING_RATE = 0.05;

    /** Defaults: 100 epochs, seed 0, learning rate {@value #DEFAULT_LEARNING_RATE}. */
    public static Config of(int features, boolean causal) {
      return new Config(features, 100, 0, causal, DEFAULT_LEARNING_RATE);
    }

    /**
     * Checks the settings.
     *
     * @throws IllegalArgumentException naming the bad value
     */
    public Config {
      if (features < 1) {
        throw new IllegalArgumentException("features " + features + " must be >= 1");
      }
      if (epochs < 1) {
        throw new IllegalArgumentException("epochs " + epochs + " must be >= 1");
      }
      if (!(learningRate > 0) || !Double.isFinite(learningRate)) {
        throw new IllegalArgumentException("learning rate " + learningRate + " must be > 0");
      }
    }
  }

  /**
   * The fitted weights.
   *
   * @param loss the final mean cross-entropy per query row
   * @param kl the final mean KL divergence {@code KL(A || Â)} per query row
   * @param lossPerEpoch the mean cross-entropy after each epoch
   */
  public record Result(FeatureWeights weights, double loss, double kl, double[] lossPerEpoch) {}

  private HedgehogFitter() {
  }

  /**
   * Fits {@code wq [Hq, D, F]} and {@code wk [Hkv, D, F]} on captured {@code q [B, Hq, S, D]} and
   * {@code k [B, Hkv, S, D]}, printing one line per epoch to {@code progress} (may be null).
   *
   * @throws IllegalArgumentException for inconsistent shapes or settings
   */
  public static Result fit(Tensor q, Tensor k, Config c, Consumer<String> progress) {
    Data data = Data.of(q, k);
    int d = data.d;
    int f = c.features();
    int hq = data.hq;
    int hkv = data.hkv;
    int group = hq / hkv;
    SplittableRandom rng = new SplittableRandom(c.seed());
    double sd = 1 / Math.sqrt(d);
    double[][] wq = new double[hq][d * f];
    double[][] wk = new double[hkv][d * f];
    for (double[] w : wq) {
      for (int i = 0; i < w.length; i++) {
        w[i] = sd * rng.nextGaussian();
      }
    }
    for (double[] w : wk) {
      for (int i = 0; i < w.length; i++) {
        w[i] = sd * rng.nextGaussian();
      }
    }
    Adam[] aq = new Adam[hq];
    Adam[] ak = new Adam[hkv];
    for (int h = 0; h < hq; h++) {
      aq[h] = new Adam(d * f, c.learningRate());
    }
    for (int g = 0; g < hkv; g++) {
      ak[g] = new Adam(d * f, c.learningRate());
    }
    double[] perEpoch = new double[c.epochs()];
    double[] klOut = new double[1];
    for (int epoch = 0; epoch < c.epochs(); epoch++) {
      double[] lossG = new double[hkv];
      double[] klG = new double[hkv];
      IntStream.range(0, hkv).parallel().forEach(g -> {
        double lsum = 0;
        double ksum = 0;
        for (int b = 0; b < data.batch; b++) {
          double[] gk = new double[d * f];
          double[][] gq = new double[group][d * f];
          double stepLoss = 0;
          double stepKl = 0;
          for (int i = 0; i < group; i++) {
            int h = g * group + i;
            double[] r = new double[2];
            headLoss(data.q[b][h], data.k[b][g], data.s, d, f, wq[h], wk[g], c.causal(), gq[i],
                gk, r);
            stepLoss += r[0];
            stepKl += r[1];
          }
          int rows = group * data.s;
          for (int i = 0; i < group; i++) {
            scale(gq[i], 1.0 / rows);
            aq[g * group + i].step(wq[g * group + i], gq[i]);
          }
          scale(gk, 1.0 / rows);
          ak[g].step(wk[g], gk);
          lsum += stepLoss / rows;
          ksum += stepKl / rows;
        }
        lossG[g] = lsum / data.batch;
        klG[g] = ksum / data.batch;
      });
      perEpoch[epoch] = Arrays.stream(lossG).average().orElse(0);
      klOut[0] = Arrays.stream(klG).average().orElse(0);
      if (progress != null) {
        progress.accept(String.format(Locale.ROOT,
            "fit-hedgehog: epoch %d/%d  loss %.6f  kl %.6f", epoch + 1, c.epochs(),
            perEpoch[epoch], klOut[0]));
      }
    }
    // the loss of the final weights
    double[] fin = evaluate(data, wq, wk, f, c.causal());
    return new Result(FeatureWeights.of(wq, wk, d, f), fin[0], fin[1], perEpoch);
  }

  /**
   * The mean cross-entropy and KL divergence per query row of the normalised linear attention of
   * {@code map} against the softmax teacher (scale {@code 1/sqrt(D)}), on {@code q}, {@code k}.
   *
   * @return {@code {crossEntropy, kl}}
   */
  public static double[] distillationLoss(Tensor q, Tensor k, FeatureMap map, boolean causal) {
    Data data = Data.of(q, k);
    int d = data.d;
    int fd = map.featureDim(d);
    double ce = 0;
    double kl = 0;
    int group = data.hq / data.hkv;
    for (int b = 0; b < data.batch; b++) {
      for (int h = 0; h < data.hq; h++) {
        int g = h / group;
        double[] pq = new double[data.s * fd];
        double[] pk = new double[data.s * fd];
        for (int t = 0; t < data.s; t++) {
          map.apply(true, h, data.q[b][h], t * d, d, pq, t * fd);
          map.apply(false, g, data.k[b][g], t * d, d, pk, t * fd);
        }
        double[] r = rowLosses(data.q[b][h], data.k[b][g], data.s, d, pq, pk, fd, causal, null);
        ce += r[0];
        kl += r[1];
      }
    }
    double rows = (double) data.batch * data.hq * data.s;
    return new double[] {ce / rows, kl / rows};
  }

  private static double[] evaluate(Data data, double[][] wq, double[][] wk, int f,
      boolean causal) {
    FeatureMap map = FeatureMap.hedgehog(FeatureWeights.of(wq, wk, data.d, f));
    double ce = 0;
    double kl = 0;
    int group = data.hq / data.hkv;
    int fd = 2 * f;
    for (int b = 0; b < data.batch; b++) {
      for (int h = 0; h < data.hq; h++) {
        int g = h / group;
        double[] pq = new double[data.s * fd];
        double[] pk = new double[data.s * fd];
        for (int t = 0; t < data.s; t++) {
          map.apply(true, h, data.q[b][h], t * data.d, data.d, pq, t * fd);
          map.apply(false, g, data.k[b][g], t * data.d, data.d, pk, t * fd);
        }
        double[] r = rowLosses(data.q[b][h], data.k[b][g], data.s, data.d, pq, pk, fd, causal,
            null);
        ce += r[0];
        kl += r[1];
      }
    }
    double rows = (double) data.batch * data.hq * data.s;
    return new double[] {ce / rows, kl / rows};
  }

  /**
   * Loss of one head (summed over its rows) into {@code out = {crossEntropy, kl}}, and its
   * gradient added to {@code gq} and {@code gk}. Package-private for the finite-difference test.
   */
  static void headLoss(double[] qx, double[] kx, int s, int d, int f, double[] wq, double[] wk,
      boolean causal, double[] gq, double[] gk, double[] out) {
    int fd = 2 * f;
    double[] uq = new double[s * f];
    double[] uk = new double[s * f];
    project(qx, s, d, f, wq, uq);
    project(kx, s, d, f, wk, uk);
    double[] pq = new double[s * fd];
    double[] pk = new double[s * fd];
    boolean[] cq = new boolean[s * fd];
    boolean[] ck = new boolean[s * fd];
    features(uq, s, f, pq, cq);
    features(uk, s, f, pk, ck);
    double[] dpq = new double[s * fd];
    double[] dpk = new double[s * fd];
    double[] r = rowLosses(qx, kx, s, d, pq, pk, fd, causal, new double[][] {dpq, dpk});
    out[0] = r[0];
    out[1] = r[1];
    backward(qx, s, d, f, pq, cq, dpq, gq);
    backward(kx, s, d, f, pk, ck, dpk, gk);
  }

  /** {@code u = x W}, {@code [s x f]}. */
  private static void project(double[] x, int s, int d, int f, double[] w, double[] u) {
    for (int t = 0; t < s; t++) {
      for (int e = 0; e < d; e++) {
        double xe = x[t * d + e];
        for (int j = 0; j < f; j++) {
          u[t * f + j] += xe * w[e * f + j];
        }
      }
    }
  }

  /** The Hedgehog features of each row, and where the clamp is active. */
  private static void features(double[] u, int s, int f, double[] p, boolean[] clamped) {
    int fd = 2 * f;
    for (int t = 0; t < s; t++) {
      double max = Double.NEGATIVE_INFINITY;
      double min = Double.POSITIVE_INFINITY;
      for (int j = 0; j < f; j++) {
        max = Math.max(max, u[t * f + j]);
        min = Math.min(min, u[t * f + j]);
      }
      double s1 = 0;
      double s2 = 0;
      for (int j = 0; j < f; j++) {
        s1 += p[t * fd + j] = Math.exp(u[t * f + j] - max);
        s2 += p[t * fd + f + j] = Math.exp(min - u[t * f + j]);
      }
      for (int j = 0; j < f; j++) {
        p[t * fd + j] /= s1;
        p[t * fd + f + j] /= s2;
      }
      for (int j = 0; j < fd; j++) {
        if (p[t * fd + j] < FeatureMap.CLAMP) {
          p[t * fd + j] = FeatureMap.CLAMP;
          clamped[t * fd + j] = true;
        }
      }
    }
  }

  /**
   * Row losses of teacher vs student; with {@code grads = {dpq, dpk}} also the gradients with
   * respect to the features.
   *
   * @return {@code {sum of cross-entropies, sum of KL divergences}}
   */
  private static double[] rowLosses(double[] qx, double[] kx, int s, int d, double[] pq,
      double[] pk, int fd, boolean causal, double[][] grads) {
    double inv = 1 / Math.sqrt(d);
    double ce = 0;
    double kl = 0;
    double[] a = new double[s];
    double[] w = new double[s];
    for (int t = 0; t < s; t++) {
      int n = causal ? t + 1 : s;
      // teacher: softmax of the scaled logits
      double m = Double.NEGATIVE_INFINITY;
      for (int j = 0; j < n; j++) {
        double dot = 0;
        for (int e = 0; e < d; e++) {
          dot += qx[t * d + e] * kx[j * d + e];
        }
        a[j] = dot * inv;
        m = Math.max(m, a[j]);
      }
      double za = 0;
      for (int j = 0; j < n; j++) {
        a[j] = Math.exp(a[j] - m);
        za += a[j];
      }
      // student: linear weights
      double zw = 0;
      for (int j = 0; j < n; j++) {
        double dot = 0;
        for (int e = 0; e < fd; e++) {
          dot += pq[t * fd + e] * pk[j * fd + e];
        }
        w[j] = dot;
        zw += dot;
      }
      for (int j = 0; j < n; j++) {
        double at = a[j] / za;
        double lw = Math.log(w[j] / zw);
        ce -= at * lw;
        if (at > 0) {
          kl += at * (Math.log(at) - lw);
        }
        if (grads != null) {
          // dL/dw_j = (w_j / zw - a_j) / w_j
          double gj = (w[j] / zw - at) / w[j];
          for (int e = 0; e < fd; e++) {
            grads[0][t * fd + e] += gj * pk[j * fd + e];
            grads[1][j * fd + e] += gj * pq[t * fd + e];
          }
        }
      }
    }
    return new double[] {ce, kl};
  }

  /** Back through the clamp and the two softmaxes to {@code W}: {@code gw += x^T du}. */
  private static void backward(double[] x, int s, int d, int f, double[] p, boolean[] clamped,
      double[] dp, double[] gw) {
    int fd = 2 * f;
    double[] du = new double[f];
    for (int t = 0; t < s; t++) {
      double dot1 = 0;
      double dot2 = 0;
      for (int j = 0; j < f; j++) {
        int i1 = t * fd + j;
        int i2 = t * fd + f + j;
        if (clamped[i1]) {
          dp[i1] = 0;
        }
        if (clamped[i2]) {
          dp[i2] = 0;
        }
        dot1 += p[i1] * dp[i1];
        dot2 += p[i2] * dp[i2];
      }
      for (int j = 0; j < f; j++) {
        int i1 = t * fd + j;
        int i2 = t * fd + f + j;
        // softmax(u) and softmax(-u); a clamped entry is treated as its unclamped value here,
        // whose gradient contribution is negligible (below 1e-12)
        du[j] = p[i1] * (dp[i1] - dot1) - p[i2] * (dp[i2] - dot2);
      }
      for (int e = 0; e < d; e++) {
        double xe = x[t * d + e];
        for (int j = 0; j < f; j++) {
          gw[e * f + j] += xe * du[j];
        }
      }
    }
  }

  private static void scale(double[] x, double a) {
    for (int i = 0; i < x.length; i++) {
      x[i] *= a;
    }
  }

  /** Adam (Kingma and Ba) with the usual betas and epsilon. */
  private static final class Adam {
    private final double lr;
    private final double[] m;
    private final double[] v;
    private int t;

    Adam(int n, double lr) {
      this.lr = lr;
      this.m = new double[n];
      this.v = new double[n];
    }

    void step(double[] w, double[] grad) {
      t++;
      double b1 = 0.9;
      double b2 = 0.999;
      double c1 = 1 - Math.pow(b1, t);
      double c2 = 1 - Math.pow(b2, t);
      for (int i = 0; i < w.length; i++) {
        m[i] = b1 * m[i] + (1 - b1) * grad[i];
        v[i] = b2 * v[i] + (1 - b2) * grad[i] * grad[i];
        w[i] -= lr * (m[i] / c1) / (Math.sqrt(v[i] / c2) + 1e-8);
      }
    }
  }

  /** Captured Q and K in float64, per (batch, head), row-major {@code [S * D]}. */
  private record Data(int batch, int hq, int hkv, int s, int d, double[][][] q, double[][][] k) {

    static Data of(Tensor q, Tensor k) {
      if (q == null || k == null || q.rank() != 4 || k.rank() != 4) {
        throw new IllegalArgumentException("Q and K must be [B, Hq, S, D] and [B, Hkv, S, D], got "
            + (q == null ? "null" : Arrays.toString(q.shape())) + " and "
            + (k == null ? "null" : Arrays.toString(k.shape())));
      }
      int b = q.dim(0);
      int hq = q.dim(1);
      int s = q.dim(2);
      int d = q.dim(3);
      if (k.dim(0) != b) {
        throw new IllegalArgumentException("batch sizes differ: Q " + b + ", K " + k.dim(0));
      }
      if (k.dim(3) != d) {
        throw new IllegalArgumentException("K head dim " + k.dim(3) + " != Q head dim " + d);
      }
      if (k.dim(2) != s) {
        throw new IllegalArgumentException("K length " + k.dim(2) + " != Q length " + s
            + " (the fitter needs self-attention captures)");
      }
      int hkv = k.dim(1);
      if (hkv == 0 || hq % hkv != 0) {
        throw new IllegalArgumentException("query heads " + hq
            + " are not a multiple of KV heads " + hkv);
      }
      if (b < 1 || s < 1 || d < 1) {
        throw new IllegalArgumentException("Q " + Arrays.toString(q.shape())
            + ": batch, length and head dim must be >= 1");
      }
      double[][][] qx = new double[b][hq][s * d];
      double[][][] kx = new double[b][hkv][s * d];
      for (int i = 0; i < b; i++) {
        for (int h = 0; h < hq; h++) {
          Rows.loadDouble(q, i, h, 0, s, d, qx[i][h]);
        }
        for (int g = 0; g < hkv; g++) {
          Rows.loadDouble(k, i, g, 0, s, d, kx[i][g]);
        }
      }
      return new Data(b, hq, hkv, s, d, qx, kx);
    }
  }
}
