package dev.attention4j.linear;

import dev.attention4j.core.AttentionShape;
import dev.attention4j.core.Tensor;
import dev.attention4j.simd.TileMatmul;
import java.util.Arrays;

/**
 * One (batch, query head) of the fast kernel, with its scratch tiles. See {@link LinearAttention}
 * for the algorithm. Counts its own multiply-adds.
 */
final class ChunkedHead {

  private final LinearOptions o;
  private final FeatureMap map;
  private final int h;
  private final int g;
  private final int d;
  private final int dv;
  private final int fd;
  private final int sq;
  private final int sk;
  private final int c;
  private final int w;
  private final int hedgehogF;

  // tiles
  private final float[] xq;
  private final float[] xk;
  private final float[] xv;
  /** No NaN or infinity among the values of the current chunk. */
  private boolean valuesFinite;
  private final float[] pq;
  private final float[] pk;
  private final float[] kt;
  private final float[] a;
  private final float[] num;
  private final float[] den;
  private final float[] u;
  private final float[] state;
  private final float[] z;
  /** {@code pow[x] = lambda^x} for {@code 0 <= x <= C}, computed as {@code exp(-slope x)}. */
  private final float[] pow;
  /** The state update's key weights {@code lambda^(ck - 1 - u)} (decay only). */
  private final float[] keyDecay;
  // hybrid window
  private final float[] hq;
  private final float[] hk;
  private final float[] hv;
  private final float[] logits;

  long macs;

  ChunkedHead(AttentionShape s, LinearOptions o, int h) {
    this.o = o;
    this.map = o.featureMap();
    this.h = h;
    this.g = s.kvHead(h);
    this.d = s.headDim();
    this.dv = s.valueDim();
    this.fd = map.featureDim(d);
    this.sq = s.qLen();
    this.sk = s.kvLen();
    this.c = Math.max(1, Math.min(o.chunkSize(), Math.max(sq, sk)));
    this.w = o.hybridWindow();
    this.hedgehogF = Features.scratchPerRow(map);
    xq = new float[c * d];
    xk = new float[c * d];
    xv = new float[c * dv];
    pq = new float[c * fd];
    pk = new float[c * fd];
    kt = new float[fd * c];
    a = new float[c * c];
    num = new float[c * dv];
    den = new float[c];
    u = new float[c * Math.max(1, hedgehogF)];
    state = new float[fd * dv];
    z = new float[fd];
    pow = new float[c + 1];
    keyDecay = new float[c];
    double slope = o.decaySlope(h);
    for (int x = 0; x <= c; x++) {
      pow[x] = (float) Math.exp(-slope * x);
    }
    if (w > 0) {
      int span = (int) Math.min((long) c + w, Math.max(1, sk));
      hq = new float[c * d];
      hk = new float[span * d];
      hv = new float[span * dv];
      logits = new float[Math.min(w, Math.max(1, sk))];
    } else {
      hq = hk = hv = logits = null;
    }
  }

  void run(Tensor q, Tensor k, Tensor v, Tensor out, int b) {
    Arrays.fill(state, 0f);
    Arrays.fill(z, 0f);
    if (o.causal()) {
      causal(q, k, v, out, b);
    } else {
      nonCausal(q, k, v, out, b);
    }
  }

  // ---- non-causal: S = phi(K)^T V, z = sum phi(k); O = phi(Q) S / (phi(Q) z + eps)

  private void nonCausal(Tensor q, Tensor k, Tensor v, Tensor out, int b) {
    for (int j0 = 0; j0 < sk; j0 += c) {
      int ck = Math.min(c, sk - j0);
      keys(k, v, b, j0, ck);
      // S += phi(K_c)^T V_c
      TileMatmul.multiply(fd, dv, ck, kt, 0, ck, 1, xv, 0, dv, state, 0, dv, true);
      macs += (long) fd * dv * ck;
      if (o.normalize()) {
        addRowSums(ck);
      }
    }
    for (int t0 = 0; t0 < sq; t0 += c) {
      int cq = Math.min(c, sq - t0);
      queries(q, b, t0, cq);
      if (sk == 0) {
        Arrays.fill(num, 0, cq * dv, 0f);
        Arrays.fill(den, 0, cq, 0f);
      } else {
        TileMatmul.multiply(cq, dv, fd, pq, 0, fd, 1, state, 0, dv, num, 0, dv, false);
        macs += (long) cq * fd * dv;
        if (o.normalize()) {
          for (int r = 0; r < cq; r++) {
            den[r] = Vec.dot(pq, r * fd, z, 0, fd);
          }
        }
      }
      finish(q, k, v, out, b, t0, cq, sk == 0 ? -1 : 0);
    }
  }

  // ---- causal: chunks of keys; the queries of a chunk are those whose (linear) position is in it

  private void causal(Tensor q, Tensor k, Tensor v, Tensor out, int b) {
    long off = (long) sk - sq;
    long offLin = off - w;
    // queries whose linear part sees no key (position < 0)
    int empty = (int) Math.max(0, Math.min(sq, -offLin));
    for (int t0 = 0; t0 < empty; t0 += c) {
      int cq = Math.min(c, empty - t0);
      Arrays.fill(num, 0, cq * dv, 0f);
      Arrays.fill(den, 0, cq, 0f);
      finish(q, k, v, out, b, t0, cq, -1);
    }
    for (int j0 = 0; j0 < sk; j0 += c) {
      int ck = Math.min(c, sk - j0);
      keys(k, v, b, j0, ck);
      int tq0 = (int) Math.max(0, j0 - offLin);
      int tq1 = (int) Math.min(sq, j0 + ck - offLin);
      int cq = tq1 - tq0;
      if (cq > 0) {
        queries(q, b, tq0, cq);
        // local key index of query r's last visible key
        int pos0 = (int) (tq0 + offLin - j0);
        intra(cq, ck, pos0);
        inter(cq, pos0);
        finish(q, k, v, out, b, tq0, cq, 0);
      }
      update(ck);
    }
  }

  /** {@code num = ((phi(Q_c) phi(K_c)^T) .* Dmask) V_c}, {@code den} = its row sums. */
  private void intra(int cq, int ck, int pos0) {
    int lanes = TileMatmul.lanes();
    boolean decay = o.hasDecay();
    for (int i = 0; i < cq; i += 8) {
      int rows = Math.min(8, cq - i);
      // keys visible to the last row of this block (the rows' positions increase by 1)
      int vis = Math.min(ck, pos0 + i + rows);
      int cols = Math.min(ck, (vis + lanes - 1) / lanes * lanes);
      // A = phi(Q) phi(K)^T on the block's visible columns (rounded up to whole vectors)
      TileMatmul.multiply(rows, cols, fd, pq, i * fd, fd, 1, kt, 0, ck, a, i * ck, ck, false);
      macs += (long) rows * cols * fd;
      // causal mask and decay lambda^(pos - u); row sums
      for (int r = i; r < i + rows; r++) {
        int pos = pos0 + r;
        int base = r * ck;
        if (decay) {
          for (int x = 0; x <= pos && x < cols; x++) {
            a[base + x] *= pow[pos - x];
          }
        }
        if (pos + 1 < cols) {
          Arrays.fill(a, base + pos + 1, base + cols, 0f);
        }
        if (o.normalize()) {
          den[r] = Vec.sum(a, base, Math.min(cols, pos + 1));
        }
      }
      // num = A V_c: the keys every row of the block sees in one product, then each row's
      // further keys one by one, so that no row reads a value it does not see (a masked key's
      // weight is 0, but 0 * Inf or 0 * NaN in its value would still be NaN)
      int common = Math.max(0, Math.min(vis, pos0 + i + 1));
      // the keys [common, vis) have weight 0 for the rows that do not see them: with finite
      // values in the chunk, one product over [0, vis) is the same sum
      if (vis > common && valuesFinite) {
        common = vis;
      }
      if (common > 0) {
        TileMatmul.multiply(rows, dv, common, a, i * ck, ck, 1, xv, 0, dv, num, i * dv, dv,
            false);
      } else {
        Arrays.fill(num, i * dv, (i + rows) * dv, 0f);
      }
      for (int r = i; r < i + rows; r++) {
        int last = Math.min(ck, pos0 + r + 1);
        for (int x = common; x < last; x++) {
          Vec.axpy(a[r * ck + x], xv, x * dv, num, r * dv, dv);
        }
      }
      macs += (long) rows * dv * vis;
    }
  }

  /** {@code num += diag(lambda^(pos + 1)) phi(Q_c) S}, {@code den += phi(Q_c) z}. */
  private void inter(int cq, int pos0) {
    if (o.hasDecay()) {
      for (int r = 0; r < cq; r++) {
        Vec.scale(pow[pos0 + r + 1], pq, r * fd, fd);
      }
    }
    TileMatmul.multiply(cq, dv, fd, pq, 0, fd, 1, state, 0, dv, num, 0, dv, true);
    macs += (long) cq * fd * dv;
    if (o.normalize()) {
      for (int r = 0; r < cq; r++) {
        den[r] += Vec.dot(pq, r * fd, z, 0, fd);
      }
    }
  }

  /** {@code S = lambda^ck S + (diag(lambda^(ck-1-u)) phi(K_c))^T V_c}, {@code z += sum phi(k)}. */
  private void update(int ck) {
    if (o.hasDecay()) {
      Vec.scale(pow[ck], state, 0, fd * dv);
      // column u of phi(K_c)^T times lambda^(ck - 1 - u)
      for (int u = 0; u < ck; u++) {
        keyDecay[u] = pow[ck - 1 - u];
      }
      for (int f = 0; f < fd; f++) {
        Vec.multiply(keyDecay, 0, kt, f * ck, ck);
      }
    }
    TileMatmul.multiply(fd, dv, ck, kt, 0, ck, 1, xv, 0, dv, state, 0, dv, true);
    macs += (long) fd * dv * ck;
    if (o.normalize()) {
      addRowSums(ck);
    }
  }

  /** {@code z += sum over the chunk's keys of phi(k)} (normalised, hence never with decay). */
  private void addRowSums(int ck) {
    for (int r = 0; r < ck; r++) {
      Vec.axpy(1f, pk, r * fd, z, 0, fd);
    }
  }

  private void keys(Tensor k, Tensor v, int b, int j0, int ck) {
    Rows.load(k, b, g, j0, ck, d, xk);
    Rows.load(v, b, g, j0, ck, dv, xv);
    valuesFinite = TileMatmul.allFinite(xv, 0, ck * dv);
    Features.apply(map, false, g, xk, ck, d, pk, u);
    macs += (long) ck * d * hedgehogF;
    // kt = phi(K_c)^T, [fd x ck]: B of the intra product, A (row-major) of the state update
    for (int f = 0; f < fd; f++) {
      for (int r = 0; r < ck; r++) {
        kt[f * ck + r] = pk[r * fd + f];
      }
    }
  }

  private void queries(Tensor q, int b, int t0, int cq) {
    Rows.load(q, b, h, t0, cq, d, xq);
    Features.apply(map, true, h, xq, cq, d, pq, u);
    macs += (long) cq * d * hedgehogF;
  }

  /**
   * Turns {@code num}, {@code den} of query rows {@code t0 .. t0 + cq} into outputs and stores
   * them. {@code seen < 0}: the linear part saw no key.
   */
  private void finish(Tensor q, Tensor k, Tensor v, Tensor out, int b, int t0, int cq,
      int seen) {
    if (w > 0) {
      window(q, k, v, b, t0, cq);
    } else if (seen < 0) {
      Arrays.fill(num, 0, cq * dv, 0f);
    } else if (o.normalize()) {
      for (int r = 0; r < cq; r++) {
        Vec.scale((float) (1 / (den[r] + LinearOptions.EPS)), num, r * dv, dv);
      }
    }
    Rows.store(num, out, b, h, t0, cq, dv);
  }

  /**
   * The LoLCATs hybrid for rows {@code t0 .. t0 + cq}: {@code num}, {@code den} hold the linear
   * part (keys {@code s <= t' - W}); adds {@code g exp(scale q.k - m)} over the window and mixes.
   */
  private void window(Tensor q, Tensor k, Tensor v, int b, int t0, int cq) {
    long off = (long) sk - sq;
    long firstPos = t0 + off;
    long lastPos = t0 + cq - 1 + off;
    int lo = (int) Math.max(0, firstPos - w + 1);
    int hi = (int) Math.min(sk - 1, lastPos);
    float gm = (float) o.mix(h);
    float scale = (float) o.scale(d);
    if (hi >= lo) {
      Rows.load(k, b, g, lo, hi - lo + 1, d, hk);
      Rows.load(v, b, g, lo, hi - lo + 1, dv, hv);
    }
    Rows.load(q, b, h, t0, cq, d, hq);
    float[] acc = new float[dv];
    for (int r = 0; r < cq; r++) {
      long tp = t0 + r + off;
      if (tp < 0) {
        Arrays.fill(num, r * dv, (r + 1) * dv, 0f);
        continue;
      }
      int first = (int) Math.max(0, tp - w + 1);
      int n = (int) tp - first + 1;
      float m = Float.NEGATIVE_INFINITY;
      for (int j = 0; j < n; j++) {
        float x = scale * Vec.dot(hq, r * d, hk, (first - lo + j) * d, d);
        // a non-finite query or key makes the row NaN (a -inf logit would drop the key)
        x = Float.isFinite(x) ? x : Float.NaN;
        logits[j] = x;
        m = x > m ? x : m;
      }
      macs += (long) n * (d + dv);
      Arrays.fill(acc, 0f);
      float sum = 0;
      for (int j = 0; j < n; j++) {
        float p = gm * (float) Math.exp(logits[j] - m);
        sum += p;
        Vec.axpy(p, hv, (first - lo + j) * dv, acc, 0, dv);
      }
      float lin = 1 - gm;
      float total = sum + lin * den[r];
      float inv = 1 / total;
      for (int e = 0; e < dv; e++) {
        num[r * dv + e] = (acc[e] + lin * num[r * dv + e]) * inv;
      }
    }
  }
}
