package dev.attention4j.sparse;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionResult;
import dev.attention4j.core.AttentionShape;
import dev.attention4j.core.DType;
import dev.attention4j.core.Mask;
import dev.attention4j.core.Tensor;
import dev.attention4j.simd.DenseEngine;
import dev.attention4j.simd.KeyTiles;
import dev.attention4j.simd.SimdAttention;
import java.util.Objects;

/**
 * Block-sparse attention over a {@link BlockMask}, on the dense engine: each engine query tile
 * (at most {@link DenseEngine#tileRows()} packed rows, never crossing a query block when blocks
 * are at least that tall) visits the union of the key blocks listed for the query blocks and heads
 * it overlaps, in ascending order, adjacent blocks merged into one range. A key block is FULL for
 * the tile only if it is FULL for every overlapped (head, query block); otherwise the engine
 * evaluates the mask's token predicate per element (a causal or window band analytically, as
 * vector compares). Unlisted blocks are never read.
 *
 * <pre>{@code
 * BlockMask bm = BlockMask.of(AttentionOptions.builder().causal(true).window(512, 0).build(),
 *     1, 1, n, n, 128, 128);
 * new BlockSparseAttention().forward(q, k, v, out, lse, bm, AttentionOptions.defaults());
 * }</pre>
 */
public final class BlockSparseAttention {

  private static final ThreadLocal<BlockUnion> UNION = ThreadLocal.withInitial(BlockUnion::new);

  private final SimdAttention simd;

  /** On the preferred vector width and the common pool. */
  public BlockSparseAttention() {
    this(new SimdAttention());
  }

  /** On {@code simd}'s vector width and pool. */
  public BlockSparseAttention(SimdAttention simd) {
    this.simd = Objects.requireNonNull(simd, "simd");
  }

  /** Computes into new float32 tensors (the LSE when the options ask for it). */
  public AttentionResult forward(Tensor q, Tensor k, Tensor v, BlockMask mask,
      AttentionOptions options) {
    AttentionShape s = AttentionShape.of(q, k, v, null, null, options);
    Tensor out = Tensor.zeros(DType.F32, s.batch(), s.qHeads(), s.qLen(), s.valueDim());
    Tensor lse = options.returnLse() ? Tensor.zeros(DType.F32, s.batch(), s.qHeads(), s.qLen())
        : null;
    forward(q, k, v, out, lse, mask, options);
    return new AttentionResult(out, lse);
  }

  /**
   * Attention restricted to {@code mask}; writes {@code out} and, when non-null, {@code lse}.
   * The options give scale, softcap, ALiBi, score modifier, alignment and key lengths; their own
   * masks (causal, window, documents, user mask) must be built into the block mask
   * ({@link BlockMask#of(AttentionOptions, int, int, int, int, int, int)}).
   *
   * @throws IllegalArgumentException if the shapes disagree, the block mask was made for other
   *     lengths, batches or heads, or the options carry a mask
   */
  public void forward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, BlockMask mask,
      AttentionOptions options) {
    if (options.mask() != null) {
      throw new IllegalArgumentException("options carry a mask (causal, window, documents or"
          + " user mask): build it into the BlockMask with BlockMask.of(options, ...)");
    }
    AttentionShape s = AttentionShape.of(q, k, v, out, lse, options);
    checkGeometry(mask, s);
    Mask token = bindDiagonals(mask, options, s);
    DenseEngine engine = simd.engine(q, k, v, options.toBuilder().mask(token).build());
    int br = engine.tileRows();
    int[] starts = TileDriver.tileStarts(s.qLen(), s.groupSize(), br,
        TileDriver.segment(mask.qBlock(), br), true);
    int sq = s.qLen();
    int group = s.groupSize();
    TileDriver.run(simd.pool(), engine, starts,
        (b, g, p0, p1, into) -> plan(mask, sq, group, b, g, p0, p1, into), out, lse);
  }

  static void checkGeometry(BlockMask mask, AttentionShape s) {
    if (mask.qLen() != s.qLen() || mask.kvLen() != s.kvLen()) {
      throw new IllegalArgumentException("block mask is for Sq " + mask.qLen() + ", Sk "
          + mask.kvLen() + ", the call has Sq " + s.qLen() + ", Sk " + s.kvLen());
    }
    if (mask.batch() != 1 && mask.batch() != s.batch()) {
      throw new IllegalArgumentException("block mask has " + mask.batch() + " batches, the call "
          + s.batch());
    }
    if (mask.heads() != 1 && mask.heads() != s.qHeads()) {
      throw new IllegalArgumentException("block mask has " + mask.heads() + " heads, the call "
          + s.qHeads() + " query heads");
    }
  }

  /**
   * The token mask as the engine will evaluate it: unchanged (a band stays analytic) when its
   * diagonals are the engine's, otherwise bound to its own diagonals.
   */
  private static Mask bindDiagonals(BlockMask mask, AttentionOptions options, AttentionShape s) {
    Mask token = mask.tokenMask();
    boolean same = true;
    for (int b = 0; b < s.batch(); b++) {
      same &= mask.diagonal(b) == options.diagonal(b, s.qLen(), s.kvLen());
    }
    if (same) {
      return token;
    }
    return Mask.custom((b, h, i, j) -> token.allows(b, h, i, j, mask.diagonal(b)));
  }

  /** The union of the listed key blocks of the rows {@code [p0, p1)}. */
  private static void plan(BlockMask mask, int sq, int group, int b, int g, int p0, int p1,
      KeyTiles into) {
    BlockUnion u = UNION.get();
    u.begin(mask.kBlocks());
    int rows = 0;
    for (int p = p0; p < p1; ) {
      int hl = p / sq;
      int end = Math.min(p1, (hl + 1) * sq);
      int h = g * group + hl;
      int i0 = p - hl * sq;
      int i1 = end - hl * sq;
      for (int qb = i0 / mask.qBlock(); qb <= (i1 - 1) / mask.qBlock(); qb++) {
        rows++;
        int r = mask.row(b, h, qb);
        for (int at = mask.rowStart(r); at < mask.rowStart(r + 1); at++) {
          u.add(mask.col(at), mask.fullAt(at));
        }
      }
      p = end;
    }
    u.emit(rows, mask.kBlock(), mask.kvLen(), into);
  }
}
