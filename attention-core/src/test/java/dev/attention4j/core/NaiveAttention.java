package dev.attention4j.core;

/**
 * An independent float64 formulation of SEMANTICS.md, written straight from its text for the
 * tests: contiguous {@code double[]} inputs, its own visibility rule, a plain two-pass softmax.
 * It shares no code with {@link ReferenceAttention}.
 */
final class NaiveAttention {

  boolean causal;
  boolean topLeft;
  int left = -1;
  int right = -1;
  double softcap;
  double[] slopes;
  int[] kvLens;
  Double scale;

  /** Results: o[B][Hq][Sq][Dv], lse[B][Hq][Sq]. */
  double[][][][] o;
  double[][][] lse;

  void run(double[][][][] q, double[][][][] k, double[][][][] v) {
    int nb = q.length;
    int hq = q[0].length;
    int sq = q[0][0].length;
    int d = sq == 0 ? 0 : q[0][0][0].length;
    int hkv = k[0].length;
    int sk = k[0][0].length;
    int dv = v[0][0].length == 0 ? 0 : v[0][0][0].length;
    double sc = scale != null ? scale : 1.0 / Math.sqrt(d);
    o = new double[nb][hq][sq][dv];
    lse = new double[nb][hq][sq];
    for (int b = 0; b < nb; b++) {
      int skb = kvLens == null ? sk : kvLens[b];
      long off = topLeft ? 0 : skb - sq;
      for (int h = 0; h < hq; h++) {
        int g = h / (hq / hkv);
        for (int i = 0; i < sq; i++) {
          double[] s = new double[sk];
          boolean[] vis = new boolean[sk];
          for (int j = 0; j < sk; j++) {
            boolean ok = j < skb;
            if (causal && !(j <= i + off)) {
              ok = false;
            }
            if (left != -1 && !(i + off - left <= j)) {
              ok = false;
            }
            if (right != -1 && !(j <= i + off + right)) {
              ok = false;
            }
            vis[j] = ok;
            if (!ok) {
              continue;
            }
            double dot = 0;
            for (int c = 0; c < d; c++) {
              dot += q[b][h][i][c] * k[b][g][j][c];
            }
            double x = sc * dot;
            if (softcap > 0) {
              x = softcap * Math.tanh(x / softcap);
            }
            if (slopes != null) {
              x -= slopes[h] * Math.abs(i + off - j);
            }
            s[j] = x;
          }
          double max = Double.NEGATIVE_INFINITY;
          for (int j = 0; j < sk; j++) {
            if (vis[j] && s[j] > max) {
              max = s[j];
            }
          }
          if (max == Double.NEGATIVE_INFINITY) {
            lse[b][h][i] = Double.NEGATIVE_INFINITY;
            continue; // o stays 0
          }
          double sum = 0;
          for (int j = 0; j < sk; j++) {
            if (vis[j]) {
              sum += Math.exp(s[j] - max);
            }
          }
          lse[b][h][i] = max + Math.log(sum);
          for (int j = 0; j < sk; j++) {
            if (!vis[j]) {
              continue;
            }
            double p = Math.exp(s[j] - lse[b][h][i]);
            for (int c = 0; c < dv; c++) {
              o[b][h][i][c] += p * v[b][g][j][c];
            }
          }
        }
      }
    }
  }

  static double[][][][] unpack(Tensor t) {
    double[][][][] a = new double[t.dim(0)][t.dim(1)][t.dim(2)][t.dim(3)];
    for (int b = 0; b < t.dim(0); b++) {
      for (int h = 0; h < t.dim(1); h++) {
        for (int i = 0; i < t.dim(2); i++) {
          for (int c = 0; c < t.dim(3); c++) {
            a[b][h][i][c] = t.getDouble(b, h, i, c);
          }
        }
      }
    }
    return a;
  }
}
