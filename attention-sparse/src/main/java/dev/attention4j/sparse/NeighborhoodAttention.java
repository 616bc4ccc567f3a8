package dev.attention4j.sparse;

import dev.attention4j.core.AttentionKernel;
import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionShape;
import dev.attention4j.core.DType;
import dev.attention4j.core.LseMerge;
import dev.attention4j.core.Mask;
import dev.attention4j.core.ReferenceAttention;
import dev.attention4j.core.SpareFloats;
import dev.attention4j.core.Tensor;
import dev.attention4j.simd.DenseEngine;
import dev.attention4j.simd.KvSource;
import dev.attention4j.simd.SimdAttention;
import java.util.Arrays;
import java.util.Objects;

/**
 * Neighborhood attention (NATTEN / GNA; SEMANTICS.md "Neighborhood attention") on the dense
 * engine. Q, K, V are {@code [B, H, S, D]} with {@code S} the row-major flattening of the grid and
 * {@code Sq == Sk}; GQA as everywhere.
 *
 * <p>Query tiles follow the grid's last axis (a line is cut into tiles of at most
 * {@link DenseEngine#tileRows()} queries; short lines are grouped). For each tile the key box is
 * the per-axis union of its queries' windows (interval arithmetic, {@link NeighborhoodMask}); it
 * is visited as runs along the last axis, each classified exactly for the tile: FULL runs (every
 * query sees every key) run without mask work, PARTIAL runs evaluate the neighborhood predicate
 * per element, EMPTY runs are skipped. Memory beyond the outputs: {@code O(n S)} ints.
 *
 * <p>Optional extra keys and values ({@link #forward(Tensor, Tensor, Tensor, Tensor, Tensor,
 * Tensor, Tensor, AttentionOptions)}) are seen by every query: a dense pass over them is merged
 * with the neighborhood result through the LSE ({@link LseMerge}).
 *
 * <p>Thread-safe; parallel over query tiles on the pool of the {@link SimdAttention} given.
 */
public final class NeighborhoodAttention implements AttentionKernel {

  private final Neighborhood nb;
  private final NeighborhoodMask mask;
  private final SimdAttention simd;
  /** The permuted plan, built on first use (depends only on the neighborhood and tile rows). */
  private volatile NeighborhoodPatches patches;
  /** The permuted path's float32 copies of K and V (dense plans), reused between calls. */
  private final SpareFloats scratch = new SpareFloats();

  /** On the preferred vector width and the common pool. */
  public NeighborhoodAttention(Neighborhood nb) {
    this(nb, new SimdAttention());
  }

  /** On the vector width and pool of {@code simd}. */
  public NeighborhoodAttention(Neighborhood nb, SimdAttention simd) {
    this.nb = Objects.requireNonNull(nb, "nb");
    this.mask = nb.mask();
    this.simd = Objects.requireNonNull(simd, "simd");
  }

  /** The neighborhood this kernel computes. */
  public Neighborhood neighborhood() {
    return nb;
  }

  /** The exact mask, for references and tests. */
  public NeighborhoodMask mask() {
    return mask;
  }

  @Override
  public String name() {
    return "neighborhood-simd-" + simd.vectorBits();
  }

  /** The kernel and its parameters, for logs. */
  @Override
  public String toString() {
    return "NeighborhoodAttention[" + nb + ", " + name() + "]";
  }

  /**
   * {@inheritDoc}
   *
   * @throws IllegalArgumentException if {@code Sq != Sk}, the grid does not have {@code Sq}
   *     tokens, the options carry a mask, or the shapes disagree
   */
  @Override
  public void forward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
      AttentionOptions options) {
    AttentionShape s = check(q, k, v, out, lse, options);
    if (!options.hasBias()) {
      forwardPatches(q, k, v, out, lse, options, s);
      return;
    }
    forwardRowMajor(q, k, v, out, lse, options, s);
  }

  /**
   * Builds the fused plan now (per query tile of the permuted grid, its exact key runs: the work
   * the first call would do), so that neither a first call's latency nor a benchmark includes it.
   * Costs O(query tiles x key runs), never O(Sq Sk).
   *
   * @return this kernel
   */
  public NeighborhoodAttention prepare() {
    plan();
    return this;
  }

  private NeighborhoodPatches plan() {
    NeighborhoodPatches cached = patches;
    if (cached == null) {
      // the tile size is the engine's (the vector width of simd), fixed for this instance
      Tensor one = Tensor.zeros(DType.F32, 1, 1, 1, 1);
      cached = new NeighborhoodPatches(nb,
          simd.engine(one, one, one, AttentionOptions.defaults()).tileRows());
      patches = cached;
    }
    return cached;
  }

  /**
   * The permuted path (no ALiBi, no score modifier, whose logits depend on the row-major
   * positions): the engine runs the plan's query tiles, slabs of patches in the plan's token
   * order ({@link #permutation()}), each against its exact key runs
   * ({@link NeighborhoodPatches}). It reads each query row from, and writes its output and LSE
   * to, the row's grid position ({@link DenseEngine#withQueryOrder}). K and V are read through
   * the token order a key tile at a time when the plan visits each key only a few times
   * ({@link #GATHER_MAX_VISITS}), else gathered once into float32 scratch copies in the plan's
   * order. Each query tile is computed by one thread with a fixed plan, so the result does not
   * depend on the thread count.
   */
  private void forwardPatches(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
      AttentionOptions options, AttentionShape s) {
    NeighborhoodPatches plan = plan();
    AttentionOptions masked = options.toBuilder().mask(Mask.custom(plan.mask)).build();
    int[] order = plan.order;
    if (plan.visitsPerKey <= GATHER_MAX_VISITS) {
      DenseEngine eng = simd.sourceEngine(q, new PermutedKv(k, v, order), masked);
      runPlan(eng.withQueryOrder(order), plan, s, out, lse);
      return;
    }
    int n = s.kvLen();
    int d = s.headDim();
    int dv = s.valueDim();
    int hkv = s.kvHeads();
    long kvRows = (long) s.batch() * hkv * n;
    float[] buf = scratch.take(kvRows * (d + dv));
    try {
      Tensor kc = SpareFloats.view(buf, 0, s.batch(), hkv, n, d);
      Tensor vc = SpareFloats.view(buf, kvRows * d, s.batch(), hkv, n, dv);
      Parallel.forEach(simd.pool(), s.batch() * hkv, bg -> {
        int b = bg / hkv;
        int g = bg % hkv;
        long base = (long) bg * n;
        for (int t = 0; t < n; t++) {
          copyRow(k, b, g, order[t], buf, (int) ((base + t) * d), d);
          copyRow(v, b, g, order[t], buf, (int) (kvRows * d + (base + t) * dv), dv);
        }
      });
      runPlan(simd.engine(q, kc, vc, masked).withQueryOrder(order), plan, s, out, lse);
    } finally {
      scratch.give(buf);
    }
  }

  /** Every query tile of the plan, for every (batch, KV head) and query head of its group. */
  private void runPlan(DenseEngine eng, NeighborhoodPatches plan, AttentionShape s, Tensor out,
      Tensor lse) {
    int n = s.qLen();
    int hkv = s.kvHeads();
    int group = s.groupSize();
    int tiles = plan.keys.length;
    int perBg = group * tiles;
    Parallel.forEach(simd.pool(), s.batch() * hkv * perBg, t -> {
      int bg = t / perBg;
      int hl = (t % perBg) / tiles;
      int tile = t % tiles;
      eng.attend(bg / hkv, bg % hkv, hl * n + plan.starts[tile], hl * n + plan.starts[tile + 1],
          plan.keys[tile], out, lse);
    });
  }

  /**
   * The token order of the fused plan: {@link #forwardPermuted} takes Q, K, V and gives O and
   * LSE in this order ({@link TokenPermutation#permute}, {@link TokenPermutation#unpermute}).
   * Its tiles are the patch shape this kernel chose for the neighborhood and the vector width.
   */
  public TokenPermutation permutation() {
    return plan().permutation;
  }

  /**
   * Neighborhood attention on tensors whose tokens are already in {@link #permutation()} order
   * (GNA's "token permute" done once for a whole model, for example): Q, K, V, O and LSE all in
   * that order, no copy or conversion made. Equal to permuting the inputs, calling
   * {@link #forward(Tensor, Tensor, Tensor, Tensor, Tensor, AttentionOptions)} and permuting the
   * outputs. With {@code stride == kernel} aligned to the patches (Swin windows), every query
   * tile is one FULL block of keys.
   *
   * @throws IllegalArgumentException as {@code forward}, and if the options carry ALiBi or a
   *     score modifier (their positions are row-major)
   */
  public void forwardPermuted(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
      AttentionOptions options) {
    AttentionShape s = check(q, k, v, out, lse, options);
    if (options.hasBias()) {
      throw new IllegalArgumentException("forwardPermuted takes no ALiBi or score modifier"
          + " (their positions are row-major); use forward");
    }
    NeighborhoodPatches plan = plan();
    runPlan(simd.engine(q, k, v, options.toBuilder().mask(Mask.custom(plan.mask)).build()), plan,
        s, out, lse);
  }

  /**
   * Plans whose query tiles visit each key at most this many times on average read K and V
   * through the token order a key tile at a time ({@link PermutedKv}), straight from the caller's
   * tensors into the engine's tile buffer; others gather them once into scratch copies in the
   * plan's order. Measured on the project's machine (64x64 grid, D = 128, 8 heads, one thread,
   * the two ways alternating in one JVM): 8x8 windows with stride 8 (each key visited twice) 25.2
   * ms against 28.6 with the copies; the 13x13 neighborhood (each key visited about 7.6 times)
   * 72.5 against 69.0, so it keeps the copies.
   */
  static final double GATHER_MAX_VISITS = 3;

  /** K and V read through the plan's token order, a key tile at a time. */
  private record PermutedKv(Tensor k, Tensor v, int[] order) implements KvSource {
    @Override
    public int kvHeads() {
      return k.dim(1);
    }

    @Override
    public int headDim() {
      return k.dim(3);
    }

    @Override
    public int valueDim() {
      return v.dim(3);
    }

    @Override
    public int batch() {
      return k.dim(0);
    }

    @Override
    public int length(int b) {
      return order.length;
    }

    @Override
    public void keys(int b, int g, int j0, int n, float[] dst) {
      gather(k, b, g, j0, n, dst);
    }

    @Override
    public void values(int b, int g, int j0, int n, float[] dst) {
      gather(v, b, g, j0, n, dst);
    }

    /** The rows of permuted positions {@code [j0, j0 + n)} of {@code x[b, g]}, as float32. */
    private void gather(Tensor x, int b, int g, int j0, int n, float[] dst) {
      int w = x.dim(3);
      for (int r = 0; r < n; r++) {
        copyRow(x, b, g, order[j0 + r], dst, r * w, w);
      }
    }
  }

  private static void copyRow(Tensor x, int b, int h, int i, float[] dst, int off, int d) {
    long at = x.offset() + b * x.stride(0) + h * x.stride(1) + i * x.stride(2);
    if (x.dtype() == DType.F32 && x.stride(3) == 1) {
      System.arraycopy(x.floatData(), (int) at, dst, off, d);
    } else {
      for (int e = 0; e < d; e++) {
        dst[off + e] = x.getFloatAt(at + e * x.stride(3));
      }
    }
  }

  /** The row-major path (position-dependent logits): tiles along the grid's last axis. */
  private void forwardRowMajor(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
      AttentionOptions options, AttentionShape s) {
    DenseEngine engine = simd.engine(q, k, v, options.toBuilder().mask(mask.asMask()).build());
    int br = engine.tileRows();
    int line = nb.grid(nb.rank() - 1);
    int[] starts = TileDriver.tileStarts(s.qLen(), s.groupSize(), br,
        TileDriver.segment(line, br), false);
    int sq = s.qLen();
    TileDriver.run(simd.pool(), engine, starts, (b, g, p0, p1, into) -> {
      int hl = p0 / sq;
      mask.plan(p0 - hl * sq, p1 - hl * sq, into);
    }, out, lse);
  }

  /**
   * Neighborhood attention plus extra keys and values {@code [B, Hkv, Se, D]} /
   * {@code [B, Hkv, Se, Dv]} that every query sees, merged by LSE. The options apply to both parts
   * (ALiBi distances of the extra keys use their own indices {@code 0..Se-1}).
   */
  public void forward(Tensor q, Tensor k, Tensor v, Tensor extraK, Tensor extraV, Tensor out,
      Tensor lse, AttentionOptions options) {
    AttentionShape s = check(q, k, v, out, lse, options);
    AttentionShape.of(q, extraK, extraV, null, null, options);
    Tensor mainLse = lse != null ? lse : Tensor.zeros(DType.F32, s.batch(), s.qHeads(), s.qLen());
    forward(q, k, v, out, mainLse, options);
    Tensor o2 = Tensor.zeros(DType.F32, s.batch(), s.qHeads(), s.qLen(), s.valueDim());
    Tensor l2 = Tensor.zeros(DType.F32, s.batch(), s.qHeads(), s.qLen());
    simd.forward(q, extraK, extraV, o2, l2, options);
    LseMerge.merge(out, mainLse, o2, l2, out, mainLse);
  }

  private AttentionShape check(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
      AttentionOptions options) {
    if (options.mask() != null) {
      throw new IllegalArgumentException("neighborhood attention takes no other mask (causal,"
          + " window, documents or user mask); use the per-axis causal flags");
    }
    AttentionShape s = AttentionShape.of(q, k, v, out, lse, options);
    checkLengths(nb, s.qLen(), s.kvLen());
    return s;
  }

  /**
   * Checks {@code Sq == Sk == tokens of the grid}.
   *
   * @throws IllegalArgumentException naming the numbers
   */
  public static void checkLengths(Neighborhood nb, int qLen, int kvLen) {
    if (qLen != kvLen) {
      throw new IllegalArgumentException("neighborhood attention needs Sq == Sk, got Sq " + qLen
          + ", Sk " + kvLen);
    }
    if (nb.tokens() != qLen) {
      throw new IllegalArgumentException("grid " + Arrays.toString(nb.grid()) + " has "
          + nb.tokens() + " tokens, but the sequence length is " + qLen);
    }
  }

  /**
   * The float64 oracle of the same computation: {@link ReferenceAttention} with this mask.
   * Float64 outputs are allocated by {@code forward(q, k, v, options)}.
   */
  public AttentionKernel reference() {
    NeighborhoodAttention self = this;
    return new AttentionKernel() {
      @Override
      public String name() {
        return "neighborhood-reference";
      }

      @Override
      public void forward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
          AttentionOptions options) {
        self.check(q, k, v, out, lse, options);
        ReferenceAttention.INSTANCE.forward(q, k, v, out, lse,
            options.toBuilder().mask(mask.asMask()).build());
      }

      @Override
      public dev.attention4j.core.AttentionResult forward(Tensor q, Tensor k, Tensor v,
          AttentionOptions options) {
        AttentionShape s = AttentionShape.of(q, k, v, null, null, options);
        Tensor out = Tensor.zeros(DType.F64, s.batch(), s.qHeads(), s.qLen(), s.valueDim());
        Tensor lse = options.returnLse() ? Tensor.zeros(DType.F64, s.batch(), s.qHeads(),
            s.qLen()) : null;
        forward(q, k, v, out, lse, options);
        return new dev.attention4j.core.AttentionResult(out, lse);
      }
    };
  }
}
