package dev.attention4j.sparse;

import dev.attention4j.core.AttentionKernel;
import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionResult;
import dev.attention4j.core.AttentionShape;
import dev.attention4j.core.DType;
import dev.attention4j.core.ReferenceAttention;
import dev.attention4j.core.SpareFloats;
import dev.attention4j.core.Tensor;
import dev.attention4j.simd.DenseEngine;
import dev.attention4j.simd.SimdAttention;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;

/**
 * MoBA, Mixture of Block Attention (Lu et al. 2025; SEMANTICS.md "MoBA"; kernel-notes §4), on the
 * dense engine. Keys are cut into blocks of {@code Bk} tokens; {@code kbar_i} is the mean of K
 * over block {@code i}'s real tokens (float64 sums, float32 means); query {@code t} scores the
 * strictly past blocks with the unscaled gate {@code <q_t, kbar_i>} (float32, accumulated along
 * D in a fixed order), keeps the {@code topk - 1} best (ties to the lower index) plus its current
 * block, and attends causally to the selected blocks only. With GQA the gate of query head
 * {@code h} uses its KV head's means. {@code Sq == Sk} is prefill; {@code Sq < Sk} is decoding
 * with bottom-right positions {@code t = i + Sk - Sq}.
 *
 * <p>Execution never runs a dense masked pass. Without ALiBi or a score modifier it follows
 * moba_efficient ({@link MobaEfficient}): a causal pass of every query over its own block (the
 * engine's vectorised band), and per selected past block a pass of the gathered queries that chose
 * it with the block as one FULL key range (no mask work), merged per query by LSE in a fixed order
 * (bitwise independent of the thread count). With position-dependent logits each engine query
 * tile visits the union of the blocks its rows selected, masked per element.
 * {@link #decode} routes new queries against the block means of a {@link MobaKvState} kept
 * incrementally. Thread-safe.
 */
public final class MobaAttention implements AttentionKernel {

  private static final ThreadLocal<BlockUnion> UNION = ThreadLocal.withInitial(BlockUnion::new);
  private static final ThreadLocal<RouteScratch> ROUTE =
      ThreadLocal.withInitial(RouteScratch::new);
  /** Queries routed together (bounds the gate scratch). */
  private static final int ROUTE_CHUNK = 256;

  private final int blockSize;
  private final int topk;
  private final SimdAttention simd;
  /** The grouped path's compact rows, reused between calls. */
  private final SpareFloats scratch = new SpareFloats();
  private final AtomicReference<MobaEfficient.Buffers> spare = new AtomicReference<>();

  /** On the preferred vector width and the common pool. */
  public MobaAttention(int blockSize, int topk) {
    this(blockSize, topk, new SimdAttention());
  }

  /**
   * @throws IllegalArgumentException if {@code blockSize < 1} or {@code topk < 1}
   */
  public MobaAttention(int blockSize, int topk, SimdAttention simd) {
    if (blockSize < 1) {
      throw new IllegalArgumentException("MoBA block size " + blockSize + " must be >= 1");
    }
    if (topk < 1) {
      throw new IllegalArgumentException("MoBA topk " + topk + " must be >= 1");
    }
    this.blockSize = blockSize;
    this.topk = topk;
    this.simd = Objects.requireNonNull(simd, "simd");
  }

  public int blockSize() {
    return blockSize;
  }

  public int topk() {
    return topk;
  }

  @Override
  public String name() {
    return "moba-simd-" + simd.vectorBits();
  }

  /** The kernel and its parameters, for logs. */
  @Override
  public String toString() {
    return "MobaAttention[blockSize=" + blockSize() + ", topk=" + topk() + ", " + name() + "]";
  }

  /**
   * {@inheritDoc}
   *
   * @throws IllegalArgumentException if {@code Sq > Sk}, the options carry a mask, or the shapes
   *     disagree
   */
  @Override
  public void forward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
      AttentionOptions options) {
    AttentionShape s = check(q, k, v, out, lse, options);
    MobaEfficient.Buffers buf = buffers();
    try {
      buf.means = blockMeans(k, blockSize, buf.means);
      run(q, k, v, out, lse, options, s, route(q, k, s, buf.means, buf), buf);
    } finally {
      spare.set(buf);
    }
  }

  /**
   * One decode step: the queries {@code q [B, Hq, Sq, D]} (usually {@code Sq = 1}) are the last
   * {@code Sq} positions of the cache {@code k, v} of length {@code state.length()}, routed with
   * the state's block means.
   *
   * @throws IllegalArgumentException if the cache length is not {@code state.length()}, or as
   *     {@link #forward}
   */
  public void decode(Tensor q, Tensor k, Tensor v, MobaKvState state, Tensor out, Tensor lse,
      AttentionOptions options) {
    AttentionShape s = check(q, k, v, out, lse, options);
    if (state.length() != s.kvLen()) {
      throw new IllegalArgumentException("the cache holds " + s.kvLen() + " keys, the MoBA state "
          + state.length() + "; pass the filled part of the cache");
    }
    if (state.blockSize() != blockSize) {
      throw new IllegalArgumentException("the MoBA state has block size " + state.blockSize()
          + ", the kernel " + blockSize);
    }
    MobaEfficient.Buffers buf = buffers();
    try {
      run(q, k, v, out, lse, options, s, route(q, k, s, state.means(), buf), buf);
    } finally {
      spare.set(buf);
    }
  }

  /** The kernel's buffers for one call: kept between calls, new while another call has them. */
  private MobaEfficient.Buffers buffers() {
    MobaEfficient.Buffers b = spare.getAndSet(null);
    return b != null ? b : new MobaEfficient.Buffers();
  }

  /** The blocks every query selects (float32 gates, as the kernel routes). */
  public MobaRouting route(Tensor q, Tensor k, AttentionOptions options) {
    AttentionShape s = check(q, k, k, null, null, options);
    return route(q, k, s, blockMeans(k, blockSize), null);
  }

  private AttentionShape check(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
      AttentionOptions options) {
    if (options.mask() != null) {
      throw new IllegalArgumentException("MoBA takes no other mask (causal, window, documents or"
          + " user mask); it is causal by definition");
    }
    AttentionShape s = AttentionShape.of(q, k, v == k ? k : v, out, lse, options);
    if (s.qLen() > s.kvLen()) {
      throw new IllegalArgumentException("MoBA needs Sq <= Sk (Sq == Sk for prefill, Sq < Sk for"
          + " decoding), got Sq " + s.qLen() + ", Sk " + s.kvLen());
    }
    if (options.kvLens() != null) {
      throw new IllegalArgumentException("MoBA does not take key lengths; pass the filled part"
          + " of the cache");
    }
    return s;
  }

  private void run(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
      AttentionOptions options, AttentionShape s, MobaRouting r, MobaEfficient.Buffers buf) {
    if (!options.hasBias()) {
      MobaEfficient.run(simd, q, k, v, out, lse, options, s, r, blockSize, scratch, buf);
      return;
    }
    runMasked(q, k, v, out, lse, options, s, r);
  }

  /**
   * The general path (ALiBi or a score modifier, whose logits depend on the original positions):
   * each query tile visits the union of its rows' selected blocks, masked per element.
   */
  void runMasked(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
      AttentionOptions options, AttentionShape s, MobaRouting r) {
    DenseEngine engine = simd.engine(q, k, v, options.toBuilder().mask(r.asMask()).build());
    int br = engine.tileRows();
    int[] starts = TileDriver.tileStarts(s.qLen(), s.groupSize(), br,
        TileDriver.segment(blockSize, br), true);
    int sq = s.qLen();
    int sk = s.kvLen();
    int group = s.groupSize();
    int off = sk - sq;
    TileDriver.run(simd.pool(), engine, starts, (b, g, p0, p1, into) -> {
      BlockUnion u = UNION.get();
      u.begin(r.blocks());
      int tMax = -1;
      for (int p = p0; p < p1; p++) {
        int h = g * group + p / sq;
        int i = p % sq;
        int t = i + off;
        tMax = Math.max(tMax, t);
        for (int slot = 0; slot < r.width(); slot++) {
          int c = r.slot(b, h, i, slot);
          if (c < 0) {
            break;
          }
          u.add(c, Math.min((c + 1) * blockSize, sk) - 1 <= t);
        }
      }
      u.emit(p1 - p0, blockSize, Math.min(sk, tMax + 1), into);
    }, out, lse);
  }

  // ---- routing

  /**
   * Block means of K in float32 over each block's real tokens: {@code [B][Hkv][nblocks][D]},
   * flattened (sums in float64, in token order).
   */
  public static float[] blockMeans(Tensor k, int blockSize) {
    return blockMeans(k, blockSize, null);
  }

  /** {@link #blockMeans(Tensor, int)} into {@code into} when it is long enough. */
  private static float[] blockMeans(Tensor k, int blockSize, float[] into) {
    int batch = k.dim(0);
    int hkv = k.dim(1);
    int len = k.dim(2);
    int d = k.dim(3);
    int blocks = Math.ceilDiv(len, blockSize);
    int n = batch * hkv * blocks * d;
    float[] means = into != null && into.length >= n ? into : new float[n];
    double[] sum = new double[d];
    float[] row = new float[d];
    for (int b = 0; b < batch; b++) {
      for (int g = 0; g < hkv; g++) {
        for (int c = 0; c < blocks; c++) {
          Arrays.fill(sum, 0);
          int j1 = Math.min(len, (c + 1) * blockSize);
          for (int j = c * blockSize; j < j1; j++) {
            readRow(k, b, g, j, row);
            for (int e = 0; e < d; e++) {
              sum[e] += row[e];
            }
          }
          int at = ((b * hkv + g) * blocks + c) * d;
          for (int e = 0; e < d; e++) {
            means[at + e] = (float) (sum[e] / (j1 - c * blockSize));
          }
        }
      }
    }
    return means;
  }

  /**
   * Routes every query: gates {@code <q_t, kbar_c>} for the past blocks in float32 (the query
   * chunk transposed so that the sum over D is a vectorisable loop over queries), then top-k.
   * With {@code buf} the selection lives in its array and the routing only as long as the call.
   */
  private MobaRouting route(Tensor q, Tensor k, AttentionShape s, float[] means,
      MobaEfficient.Buffers buf) {
    int sq = s.qLen();
    int sk = s.kvLen();
    int d = s.headDim();
    int hq = s.qHeads();
    int blocks = Math.ceilDiv(sk, blockSize);
    int width = Math.min(topk, blocks);
    int rows = s.batch() * hq * sq * width;
    int[] sel = buf == null ? new int[rows] : (buf.sel = MobaEfficient.Buffers.grow(buf.sel, rows));
    int off = sk - sq;
    int chunks = (sq + ROUTE_CHUNK - 1) / ROUTE_CHUNK;
    Parallel.forEach(simd.pool(), s.batch() * hq * chunks, task -> {
      int bh = task / chunks;
      int b = bh / hq;
      int h = bh % hq;
      int g = s.kvHead(h);
      int i0 = (task % chunks) * ROUTE_CHUNK;
      int i1 = Math.min(sq, i0 + ROUTE_CHUNK);
      int n = i1 - i0;
      // row stride n + 8: a power-of-two stride would make the transposing stores conflict
      // in the L1 cache (they took most of the routing time)
      int ld = n + 8;
      RouteScratch rs = ROUTE.get();
      float[] qt = rs.qt = grow(rs.qt, d * ld);
      float[] row = rs.row.length == d ? rs.row : (rs.row = new float[d]);
      for (int i = i0; i < i1; i++) {
        readRow(q, b, h, i, row);
        for (int e = 0; e < d; e++) {
          qt[e * ld + i - i0] = row[e];
        }
      }
      // past blocks of the chunk's last query; earlier queries ignore blocks not past for them
      int past = Math.max(0, (i1 - 1 + off) / blockSize);
      float[] gate = rs.gate = grow(rs.gate, past * n);
      Arrays.fill(gate, 0, past * n, 0f);
      for (int c = 0; c < past; c++) {
        int mAt = ((b * s.kvHeads() + g) * blocks + c) * d;
        int at = c * n;
        for (int e = 0; e < d; e++) {
          float m = means[mAt + e];
          int qa = e * ld;
          for (int x = 0; x < n; x++) {
            gate[at + x] += qt[qa + x] * m;
          }
        }
      }
      if (rs.best.length != width) {
        rs.best = new int[width];
        rs.val = new float[width];
      }
      for (int i = i0; i < i1; i++) {
        int cur = (i + off) / blockSize;
        select(gate, i - i0, n, cur, width, rs.best, rs.val);
        System.arraycopy(rs.best, 0, sel, ((b * hq + h) * sq + i) * width, width);
      }
    });
    return new MobaRouting(hq, sq, sk, blockSize, width, sel);
  }

  /**
   * The current block plus the {@code width - 1} past blocks of highest gate (ties to the lower
   * index; a NaN gate ranks above every number, {@link #above}), ascending, padded with -1.
   * {@code gate[c * n + x]} is the gate of block {@code c}; {@code val} is scratch of at least
   * {@code width} floats.
   */
  static void select(float[] gate, int x, int n, int cur, int width, int[] out, float[] val) {
    int keep = Math.min(width - 1, cur);
    int[] idx = out;
    int have = 0;
    for (int c = 0; c < cur; c++) {
      float gv = gate[c * n + x];
      // strictly better than the worst kept (an equal later block loses the tie)
      if (have < keep) {
        int at = have++;
        while (at > 0 && above(gv, val[at - 1])) {
          val[at] = val[at - 1];
          idx[at] = idx[at - 1];
          at--;
        }
        val[at] = gv;
        idx[at] = c;
      } else if (keep > 0 && above(gv, val[keep - 1])) {
        int at = keep - 1;
        while (at > 0 && above(gv, val[at - 1])) {
          val[at] = val[at - 1];
          idx[at] = idx[at - 1];
          at--;
        }
        val[at] = gv;
        idx[at] = c;
      }
    }
    Arrays.fill(out, have, width, -1);
    out[have] = cur;
    Arrays.sort(out, 0, have + 1);
  }

  /**
   * Whether gate {@code a} ranks strictly above gate {@code b}: greater, or NaN against a number.
   * A block whose mean key holds a NaN is thus chosen, and the rows that choose it come out NaN
   * (as with {@code torch.topk}, which also ranks NaN highest) rather than quietly routed around
   * it; two NaNs tie, so the lower block index wins, as for equal numbers.
   */
  static boolean above(float a, float b) {
    return a > b || (Float.isNaN(a) && !Float.isNaN(b));
  }

  /** A routing thread's buffers, kept between calls: one query chunk's worth each. */
  private static final class RouteScratch {
    float[] qt = new float[0];
    float[] row = new float[0];
    float[] gate = new float[0];
    int[] best = new int[0];
    float[] val = new float[0];
  }

  /** {@code a} if it holds {@code n} floats, else a new array of {@code n}. */
  private static float[] grow(float[] a, int n) {
    return a.length >= n ? a : new float[n];
  }

  /** Reads row {@code t[b, h, j, :]} as float32. */
  static void readRow(Tensor t, int b, int h, int j, float[] row) {
    long at = t.offset() + b * t.stride(0) + h * t.stride(1) + j * t.stride(2);
    long s3 = t.stride(3);
    int d = row.length;
    if (t.dtype() == DType.F32 && s3 == 1) {
      System.arraycopy(t.floatData(), (int) at, row, 0, d);
      return;
    }
    for (int e = 0; e < d; e++) {
      row[e] = t.getFloatAt(at + e * s3);
    }
  }

  // ---- float64 oracle

  /**
   * The float64 oracle: routing with float64 means and gates (same rules), then
   * {@link ReferenceAttention} under the selection. Float64 outputs from
   * {@code forward(q, k, v, options)}.
   */
  public AttentionKernel reference() {
    MobaAttention self = this;
    return new AttentionKernel() {
      @Override
      public String name() {
        return "moba-reference";
      }

      @Override
      public void forward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
          AttentionOptions options) {
        AttentionShape s = self.check(q, k, v, out, lse, options);
        ReferenceAttention.INSTANCE.forward(q, k, v, out, lse,
            options.toBuilder().mask(self.routeExact(q, k, s).asMask()).build());
      }

      @Override
      public AttentionResult forward(Tensor q, Tensor k, Tensor v, AttentionOptions options) {
        AttentionShape s = AttentionShape.of(q, k, v, null, null, options);
        Tensor out = Tensor.zeros(DType.F64, s.batch(), s.qHeads(), s.qLen(), s.valueDim());
        Tensor lse = options.returnLse() ? Tensor.zeros(DType.F64, s.batch(), s.qHeads(),
            s.qLen()) : null;
        forward(q, k, v, out, lse, options);
        return new AttentionResult(out, lse);
      }
    };
  }

  /** Routing in float64 throughout (the oracle's). */
  MobaRouting routeExact(Tensor q, Tensor k, AttentionShape s) {
    int sq = s.qLen();
    int sk = s.kvLen();
    int d = s.headDim();
    int blocks = Math.ceilDiv(sk, blockSize);
    int width = Math.min(topk, blocks);
    double[][][][] kbar = new double[s.batch()][s.kvHeads()][blocks][d];
    for (int b = 0; b < s.batch(); b++) {
      for (int g = 0; g < s.kvHeads(); g++) {
        for (int j = 0; j < sk; j++) {
          for (int e = 0; e < d; e++) {
            kbar[b][g][j / blockSize][e] += k.getDouble(b, g, j, e);
          }
        }
        for (int c = 0; c < blocks; c++) {
          int count = Math.min(sk, (c + 1) * blockSize) - c * blockSize;
          for (int e = 0; e < d; e++) {
            kbar[b][g][c][e] /= count;
          }
        }
      }
    }
    int[] sel = new int[s.batch() * s.qHeads() * sq * width];
    float[] gate = new float[blocks];
    int[] best = new int[width];
    for (int b = 0; b < s.batch(); b++) {
      for (int h = 0; h < s.qHeads(); h++) {
        for (int i = 0; i < sq; i++) {
          int cur = (i + sk - sq) / blockSize;
          double[] gd = new double[cur];
          for (int c = 0; c < cur; c++) {
            for (int e = 0; e < d; e++) {
              gd[c] += q.getDouble(b, h, i, e) * kbar[b][s.kvHead(h)][c][e];
            }
          }
          selectExact(gd, cur, width, best);
          System.arraycopy(best, 0, sel, ((b * s.qHeads() + h) * sq + i) * width, width);
        }
      }
    }
    return new MobaRouting(s.qHeads(), sq, sk, blockSize, width, sel);
  }

  /** {@link #select} in float64; {@link Double#compare} ranks NaN highest, as {@link #above}. */
  private static void selectExact(double[] gate, int cur, int width, int[] out) {
    Integer[] order = new Integer[cur];
    for (int c = 0; c < cur; c++) {
      order[c] = c;
    }
    Arrays.sort(order, (x, y) -> gate[x] != gate[y] ? Double.compare(gate[y], gate[x])
        : Integer.compare(x, y));
    Arrays.fill(out, -1);
    int keep = Math.min(width - 1, cur);
    for (int t = 0; t < keep; t++) {
      out[t] = order[t];
    }
    out[keep] = cur;
    Arrays.sort(out, 0, keep + 1);
  }
}
