package dev.attention4j.sparse;

import dev.attention4j.core.AttentionKernel;
import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionResult;
import dev.attention4j.core.AttentionShape;
import dev.attention4j.core.DType;
import dev.attention4j.core.ReferenceAttention;
import dev.attention4j.core.Tensor;
import dev.attention4j.simd.SimdAttention;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;

/**
 * NABLA, Neighborhood Adaptive Block-Level Attention (arXiv 2507.13546; SEMANTICS.md "NABLA";
 * kernel-notes §5). Tokens are cut into blocks of {@code Bs} (default 64; the caller orders them
 * so that a block is a spatial patch, see {@link TokenPermutation#videoPatches}); per (batch,
 * query head): {@code qa}, {@code ka} = block means of Q and of the head's KV-head K (float64),
 * {@code A = softmax_row(scale * qa ka^T)}, and per row the blocks sorted ascending by
 * {@code (value, index)} are kept iff their inclusive cumulative sum is {@code >= 1 - thr}
 * ({@code thr} = probability mass kept; the row's largest block always stays). Optionally the
 * union with a sliding-tile window in block coordinates ({@code |delta_a| <= w_a / 2} on every
 * axis of a block grid). Kept blocks are attended in full through {@link BlockSparseAttention}
 * (every listed block FULL). Routing costs {@code O(Nb^2 D)} per head; memory {@code O(Nb^2)}.
 */
public final class NablaAttention implements AttentionKernel {

  private static final ThreadLocal<Means> MEANS = ThreadLocal.withInitial(Means::new);

  private final int blockSize;
  private final double threshold;
  private final int[] blockGrid;
  private final int[] window;
  private final SimdAttention simd;
  private final AtomicReference<double[]> keyMeans = new AtomicReference<>();

  /** On the preferred vector width and the common pool, without a sliding-tile window. */
  public NablaAttention(int blockSize, double threshold) {
    this(blockSize, threshold, null, null, new SimdAttention());
  }

  /**
   * @param blockGrid the blocks as a grid (for example {@code (T, H/8, W/8)}), product = number
   *     of blocks; null for no sliding-tile window
   * @param window sliding-tile window size per block-grid axis (null with {@code blockGrid})
   * @throws IllegalArgumentException if {@code blockSize < 1}, {@code thr} is not in
   *     {@code (0, 1]}, or the window does not match the grid
   */
  public NablaAttention(int blockSize, double threshold, int[] blockGrid, int[] window,
      SimdAttention simd) {
    if (blockSize < 1) {
      throw new IllegalArgumentException("NABLA block size " + blockSize + " must be >= 1");
    }
    if (!(threshold > 0 && threshold <= 1)) {
      throw new IllegalArgumentException("NABLA threshold " + threshold
          + " must be in (0, 1]");
    }
    if ((blockGrid == null) != (window == null)
        || (blockGrid != null && blockGrid.length != window.length)) {
      throw new IllegalArgumentException("sliding-tile window " + Arrays.toString(window)
          + " needs one size per axis of the block grid " + Arrays.toString(blockGrid));
    }
    if (window != null) {
      for (int a = 0; a < window.length; a++) {
        if (window[a] < 1 || blockGrid[a] < 1) {
          throw new IllegalArgumentException("axis " + a + ": block grid length "
              + blockGrid[a] + " and window " + window[a] + " must be >= 1");
        }
      }
    }
    this.blockSize = blockSize;
    this.threshold = threshold;
    this.blockGrid = blockGrid == null ? null : blockGrid.clone();
    this.window = window == null ? null : window.clone();
    this.simd = Objects.requireNonNull(simd, "simd");
  }

  @Override
  public String name() {
    return "nabla-simd-" + simd.vectorBits();
  }

  /** The kernel and its parameters, for logs. */
  @Override
  public String toString() {
    return "NablaAttention[blockSize=" + blockSize + ", threshold=" + threshold + ", window="
        + java.util.Arrays.toString(window) + ", " + name() + "]";
  }

  @Override
  public void forward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
      AttentionOptions options) {
    AttentionShape s = AttentionShape.of(q, k, v, out, lse, options);
    if (s.batch() == 0 || s.qHeads() == 0) {
      return; // no rows (a block mask needs at least one batch and head)
    }
    BlockMask bm = blockMask(q, k, options);
    new BlockSparseAttention(simd).forward(q, k, v, out, lse, bm, options);
  }

  /**
   * The kept blocks of every (batch, query head), all FULL.
   *
   * @throws IllegalArgumentException if {@code Sq != Sk}, the options carry a mask, or the block
   *     grid does not have {@code ceil(S / Bs)} blocks
   */
  public BlockMask blockMask(Tensor q, Tensor k, AttentionOptions options) {
    if (options.mask() != null) {
      throw new IllegalArgumentException("NABLA takes no other mask (causal, window, documents"
          + " or user mask)");
    }
    AttentionShape s = AttentionShape.of(q, k, k, null, null, options);
    if (s.qLen() != s.kvLen()) {
      throw new IllegalArgumentException("NABLA needs Sq == Sk, got Sq " + s.qLen() + ", Sk "
          + s.kvLen());
    }
    int len = s.qLen();
    int nb = Math.ceilDiv(len, blockSize);
    if (blockGrid != null) {
      long prod = 1;
      for (int x : blockGrid) {
        prod *= x;
      }
      if (prod != nb) {
        throw new IllegalArgumentException("block grid " + Arrays.toString(blockGrid) + " has "
            + prod + " blocks, the sequence " + nb + " blocks of " + blockSize);
      }
    }
    int d = s.headDim();
    double scale = options.scale(d);
    int hkv = s.kvHeads();
    int span = nb * d;
    // the block means, kept between calls: K's of every KV head by the kernel (a call from a
    // task that another call's thread runs while it waits cannot reach them), one Q head's by
    // each thread (used with no wait in between)
    double[] held = keyMeans.getAndSet(null);
    long kn = (long) s.batch() * hkv * span;
    double[] ka = held != null && held.length >= kn ? held : new double[Math.toIntExact(kn)];
    for (int b = 0; b < s.batch(); b++) {
      for (int g = 0; g < hkv; g++) {
        means(k, b, g, len, d, ka, (b * hkv + g) * span);
      }
    }
    boolean[][] keep = new boolean[s.batch() * s.qHeads()][];
    Parallel.forEach(simd.pool(), s.batch() * s.qHeads(), bh -> {
      int b = bh / s.qHeads();
      int h = bh % s.qHeads();
      double[] qa = MEANS.get().grow(span);
      means(q, b, h, len, d, qa, 0);
      keep[bh] = keep(qa, ka, (b * hkv + s.kvHead(h)) * span, nb, d, scale);
    });
    keyMeans.set(ka);
    BlockMask.Builder builder = BlockMask.builder(s.batch(), s.qHeads(), len, len, blockSize,
        blockSize);
    for (int bh = 0; bh < keep.length; bh++) {
      for (int x = 0; x < nb; x++) {
        for (int y = 0; y < nb; y++) {
          if (keep[bh][x * nb + y] || inWindow(x, y)) {
            builder.add(bh / s.qHeads(), bh % s.qHeads(), x, y);
          }
        }
      }
    }
    return builder.build();
  }

  /**
   * The kept-block map of one head: {@code keep[x * nb + y]}, from the Q block means
   * {@code qa[x * d ..]} and the K block means {@code ka[k0 + y * d ..]}.
   */
  private boolean[] keep(double[] qa, double[] ka, int k0, int nb, int d, double scale) {
    boolean[] keep = new boolean[nb * nb];
    double[] a = new double[nb];
    double[] sorted = new double[nb];
    for (int x = 0; x < nb; x++) {
      int qx = x * d;
      int y = 0;
      // four blocks at a time: four independent sums, each in the order of e
      for (; y + 4 <= nb; y += 4) {
        int y0 = k0 + y * d;
        int y1 = y0 + d;
        int y2 = y1 + d;
        int y3 = y2 + d;
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        for (int e = 0; e < d; e++) {
          double qe = qa[qx + e];
          s0 += qe * ka[y0 + e];
          s1 += qe * ka[y1 + e];
          s2 += qe * ka[y2 + e];
          s3 += qe * ka[y3 + e];
        }
        a[y] = scale * s0;
        a[y + 1] = scale * s1;
        a[y + 2] = scale * s2;
        a[y + 3] = scale * s3;
      }
      for (; y < nb; y++) {
        double dot = 0;
        int ky = k0 + y * d;
        for (int e = 0; e < d; e++) {
          dot += qa[qx + e] * ka[ky + e];
        }
        a[y] = scale * dot;
      }
      double m = Double.NEGATIVE_INFINITY;
      for (y = 0; y < nb; y++) {
        m = Math.max(m, a[y]);
      }
      double sum = 0;
      for (y = 0; y < nb; y++) {
        a[y] = Math.exp(a[y] - m);
        sum += a[y];
      }
      if (Double.isNaN(sum)) {
        // a NaN or infinity in the block means: keep every block, so that the rows that see
        // the non-finite entry show it instead of silently losing blocks
        Arrays.fill(keep, x * nb, (x + 1) * nb, true);
        continue;
      }
      for (y = 0; y < nb; y++) {
        a[y] /= sum;
      }
      keepRow(a, sorted, keep, x * nb);
    }
    return keep;
  }

  /**
   * The CDF rule on one row of probabilities {@code p}: in ascending order of
   * {@code (p, block index)}, blocks are dropped while the running sum stays below
   * {@code 1 - threshold}; the block that reaches it and all after it are kept (the last one at
   * least, even when rounding keeps the sum below {@code 1 - threshold}). Equal
   * probabilities give equal running sums whatever their order, so a primitive sort of the
   * values finds the crossing, and among the blocks tied at the crossing value the lower indices
   * are the ones dropped.
   */
  private void keepRow(double[] p, double[] sorted, boolean[] keep, int at) {
    int nb = p.length;
    System.arraycopy(p, 0, sorted, 0, nb);
    Arrays.sort(sorted);
    double c = 0;
    int cross = nb;
    for (int r = 0; r < nb; r++) {
      c += sorted[r];
      if (c >= 1 - threshold) {
        cross = r;
        break;
      }
    }
    if (cross == nb) {
      if (nb == 0) {
        return;
      }
      // the exact running sum ends at 1 >= 1 - threshold, so the last (largest) block is always
      // kept; the rounded sum can end just below 1 - threshold when threshold < ~1.1e-16
      cross = nb - 1;
    }
    double v = sorted[cross];
    int firstTie = cross;
    while (firstTie > 0 && sorted[firstTie - 1] == v) {
      firstTie--;
    }
    int dropTies = cross - firstTie;
    for (int y = 0; y < nb; y++) {
      if (p[y] > v) {
        keep[at + y] = true;
      } else if (p[y] == v) {
        if (dropTies > 0) {
          dropTies--;
        } else {
          keep[at + y] = true;
        }
      }
    }
  }

  /** Whether blocks {@code x} and {@code y} are within the sliding-tile window. */
  private boolean inWindow(int x, int y) {
    if (blockGrid == null) {
      return false;
    }
    for (int a = blockGrid.length - 1; a >= 0; a--) {
      int cx = x % blockGrid[a];
      int cy = y % blockGrid[a];
      x /= blockGrid[a];
      y /= blockGrid[a];
      if (Math.abs(cx - cy) > window[a] / 2) {
        return false;
      }
    }
    return true;
  }

  /**
   * Block means of {@code t[b, h]} in float64 over each block's real tokens, written to
   * {@code m[at + x * d + e]}.
   */
  private void means(Tensor t, int b, int h, int len, int d, double[] m, int at) {
    int nb = Math.ceilDiv(len, blockSize);
    Arrays.fill(m, at, at + nb * d, 0);
    float[] row = new float[d];
    for (int j = 0; j < len; j++) {
      MobaAttention.readRow(t, b, h, j, row);
      int acc = at + j / blockSize * d;
      for (int e = 0; e < d; e++) {
        m[acc + e] += row[e];
      }
    }
    for (int x = 0; x < nb; x++) {
      int count = Math.min(len, (x + 1) * blockSize) - x * blockSize;
      for (int e = 0; e < d; e++) {
        m[at + x * d + e] /= count;
      }
    }
  }

  /** A thread's buffer for one head's Q block means, kept between calls. */
  private static final class Means {
    private double[] buf = new double[0];

    double[] grow(int n) {
      if (buf.length < n) {
        buf = new double[n];
      }
      return buf;
    }
  }

  /**
   * The float64 oracle: the same block map (routing is float64 already), attended by
   * {@link ReferenceAttention} under its token mask. Float64 outputs from
   * {@code forward(q, k, v, options)}.
   */
  public AttentionKernel reference() {
    NablaAttention self = this;
    return new AttentionKernel() {
      @Override
      public String name() {
        return "nabla-reference";
      }

      @Override
      public void forward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
          AttentionOptions options) {
        AttentionShape s = AttentionShape.of(q, k, v, out, lse, options);
        if (s.batch() == 0 || s.qHeads() == 0) {
          return; // no rows, as the fast kernel
        }
        BlockMask bm = self.blockMask(q, k, options);
        ReferenceAttention.INSTANCE.forward(q, k, v, out, lse,
            options.toBuilder().mask(bm.asMask()).build());
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
}
