package dev.attention4j.sparse;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.Mask;
import dev.attention4j.core.MaskMod;
import dev.attention4j.core.TileClass;
import java.util.Arrays;
import java.util.Objects;

/**
 * A block-sparse mask in token-block coordinates (FlexAttention's {@code BlockMask}, kernel-notes
 * §2.2): queries are cut into blocks of {@code qBlock} tokens and keys into blocks of
 * {@code kBlock} tokens (the last ones may be short); per (batch, query head, query block) a row
 * lists the key blocks to visit in ascending order, each FULL (every pair visible, no mask work)
 * or PARTIAL (the token mask is evaluated per element). Unlisted blocks are EMPTY and never
 * visited. Stored BCSR-like in int arrays: memory is O(listed blocks), never O(Sq x Sk).
 *
 * <p>Every block mask also carries its exact <em>token mask</em> ({@link #allows}), which the
 * kernel evaluates in PARTIAL blocks: for {@link #of(Mask, int, int, int, int, int, int)} it is
 * the mask itself (so a causal or window band stays an analytic, vectorised mask), for masks made
 * with a {@link Builder} it is "listed FULL, or listed PARTIAL and the builder's element mask
 * allows". A batch or head count of 1 broadcasts over that axis.
 *
 * <p>Immutable and thread-safe. Run it with {@link BlockSparseAttention}.
 */
public final class BlockMask {

  private final int batch;
  private final int heads;
  private final int qLen;
  private final int kvLen;
  private final int qBlock;
  private final int kBlock;
  private final int qBlocks;
  private final int kBlocks;
  private final int[] rowStart;
  private final int[] cols;
  private final boolean[] full;
  /** The exact token mask over all blocks, evaluated with {@link #diagonals}. */
  private final Mask tokenMask;
  private final long[] diagonals;

  private BlockMask(Geometry g, int[] rowStart, int[] cols, boolean[] full, Mask tokenMask,
      long[] diagonals) {
    this.batch = g.batch;
    this.heads = g.heads;
    this.qLen = g.qLen;
    this.kvLen = g.kvLen;
    this.qBlock = g.qBlock;
    this.kBlock = g.kBlock;
    this.qBlocks = ceilDiv(qLen, qBlock);
    this.kBlocks = ceilDiv(kvLen, kBlock);
    this.rowStart = rowStart;
    this.cols = cols;
    this.full = full;
    this.tokenMask = tokenMask;
    this.diagonals = diagonals;
  }

  // ---- factories

  /**
   * The block mask of a {@link Mask} with the default bottom-right diagonal
   * ({@code off = kvLen - qLen}), classified per block with {@link Mask#classify}: O(1) per block
   * for the built-in masks and for masks with a {@code TileClassifier}; a causal or window band
   * classifies only the blocks near its diagonal, so building costs O(listed blocks).
   *
   * @param batch batches, or 1 if the mask does not depend on the batch
   * @param heads query heads, or 1 if the mask does not depend on the head
   */
  public static BlockMask of(Mask mask, int batch, int heads, int qLen, int kvLen, int qBlock,
      int kBlock) {
    Objects.requireNonNull(mask, "mask");
    long[] diag = new long[batch];
    Arrays.fill(diag, (long) kvLen - qLen);
    return classify(new Geometry(batch, heads, qLen, kvLen, qBlock, kBlock), mask, diag);
  }

  /**
   * The block mask of the combined mask of {@code maskOptions} (causal, window, documents, user
   * mask) with its alignment and key lengths, as the dense kernel would see it.
   *
   * @throws IllegalArgumentException if the options have no mask, or key lengths for another
   *     batch count
   */
  public static BlockMask of(AttentionOptions maskOptions, int batch, int heads, int qLen,
      int kvLen, int qBlock, int kBlock) {
    Mask mask = maskOptions.mask();
    if (mask == null) {
      throw new IllegalArgumentException("the options have no mask (causal, window, documents"
          + " or user mask)");
    }
    int[] lens = maskOptions.kvLens();
    if (lens != null && lens.length != batch) {
      throw new IllegalArgumentException("kvLens has " + lens.length + " entries, expected one"
          + " per batch (" + batch + ")");
    }
    long[] diag = new long[batch];
    for (int b = 0; b < batch; b++) {
      diag[b] = maskOptions.diagonal(b, qLen, kvLen);
    }
    return classify(new Geometry(batch, heads, qLen, kvLen, qBlock, kBlock), mask, diag);
  }

  /** A builder for explicit block indices (or for routers). */
  public static Builder builder(int batch, int heads, int qLen, int kvLen, int qBlock,
      int kBlock) {
    return new Builder(new Geometry(batch, heads, qLen, kvLen, qBlock, kBlock));
  }

  private static BlockMask classify(Geometry g, Mask mask, long[] diag) {
    int nq = ceilDiv(g.qLen, g.qBlock);
    int nk = ceilDiv(g.kvLen, g.kBlock);
    Mask.Band band = bandOf(mask);
    Rows rows = new Rows(g.batch * g.heads * nq);
    for (int b = 0; b < g.batch; b++) {
      for (int h = 0; h < g.heads; h++) {
        for (int qb = 0; qb < nq; qb++) {
          int i0 = qb * g.qBlock;
          int i1 = Math.min(i0 + g.qBlock, g.qLen);
          int kLo = 0;
          int kHi = nk;
          if (band != null) {
            // only key blocks the band can reach from these rows
            if (band.left() >= 0) {
              kLo = (int) Math.max(0, Math.min(nk, Math.floorDiv(i0 + diag[b] - band.left(),
                  (long) g.kBlock)));
            }
            if (band.right() >= 0) {
              kHi = (int) Math.max(0, Math.min(nk, Math.floorDiv(i1 - 1 + diag[b] + band.right(),
                  (long) g.kBlock) + 1));
            }
          }
          for (int kb = kLo; kb < kHi; kb++) {
            int j0 = kb * g.kBlock;
            int j1 = Math.min(j0 + g.kBlock, g.kvLen);
            TileClass c = mask.classify(b, h, i0, i1, j0, j1, diag[b]);
            rows.add(kb, c);
          }
          rows.endRow();
        }
      }
    }
    return rows.build(g, mask, diag);
  }

  private static Mask.Band bandOf(Mask mask) {
    if (mask instanceof Mask.Band b) {
      return b;
    }
    if (mask instanceof Mask.And and) {
      for (Mask m : and.parts()) {
        if (m instanceof Mask.Band b) {
          return b;
        }
      }
    }
    return null;
  }

  // ---- composition

  /**
   * The intersection: a block is FULL if FULL in both, EMPTY if EMPTY in either, otherwise
   * PARTIAL; tokens are visible iff both masks allow them. The geometry must match (a batch or
   * head count of 1 broadcasts).
   */
  public BlockMask and(BlockMask other) {
    return combine(other, true);
  }

  /**
   * The union: a block is FULL if FULL in either, EMPTY if EMPTY in both, otherwise PARTIAL;
   * tokens are visible iff either mask allows them.
   */
  public BlockMask or(BlockMask other) {
    return combine(other, false);
  }

  private BlockMask combine(BlockMask o, boolean and) {
    if (qLen != o.qLen || kvLen != o.kvLen || qBlock != o.qBlock || kBlock != o.kBlock) {
      throw new IllegalArgumentException("block masks differ: " + this + " vs " + o);
    }
    int nb = broadcast("batch", batch, o.batch);
    int nh = broadcast("heads", heads, o.heads);
    Geometry g = new Geometry(nb, nh, qLen, kvLen, qBlock, kBlock);
    Rows rows = new Rows(nb * nh * qBlocks);
    for (int b = 0; b < nb; b++) {
      for (int h = 0; h < nh; h++) {
        for (int qb = 0; qb < qBlocks; qb++) {
          int ra = row(b, h, qb);
          int rb = o.row(b, h, qb);
          int x = rowStart[ra];
          int xe = rowStart[ra + 1];
          int y = o.rowStart[rb];
          int ye = o.rowStart[rb + 1];
          while (x < xe || y < ye) {
            int ka = x < xe ? cols[x] : Integer.MAX_VALUE;
            int kb = y < ye ? o.cols[y] : Integer.MAX_VALUE;
            TileClass ca = ka <= kb ? cls(full[x]) : TileClass.EMPTY;
            TileClass cb = kb <= ka ? cls(o.full[y]) : TileClass.EMPTY;
            rows.add(Math.min(ka, kb), and ? ca.and(cb) : or(ca, cb));
            if (ka <= kb) {
              x++;
            }
            if (kb <= ka) {
              y++;
            }
          }
          rows.endRow();
        }
      }
    }
    BlockMask a = this;
    MaskMod mod = and ? (b, h, i, j) -> a.allows(b, h, i, j) && o.allows(b, h, i, j)
        : (b, h, i, j) -> a.allows(b, h, i, j) || o.allows(b, h, i, j);
    return rows.build(g, Mask.custom(mod), new long[nb]);
  }

  private static TileClass or(TileClass a, TileClass b) {
    if (a == TileClass.FULL || b == TileClass.FULL) {
      return TileClass.FULL;
    }
    return a == TileClass.EMPTY && b == TileClass.EMPTY ? TileClass.EMPTY : TileClass.PARTIAL;
  }

  private static int broadcast(String what, int a, int b) {
    if (a != b && a != 1 && b != 1) {
      throw new IllegalArgumentException("block masks differ in " + what + ": " + a + " vs " + b);
    }
    return Math.max(a, b);
  }

  // ---- queries

  /** Batches (1 = broadcast). */
  public int batch() {
    return batch;
  }

  /** Query heads (1 = broadcast). */
  public int heads() {
    return heads;
  }

  public int qLen() {
    return qLen;
  }

  public int kvLen() {
    return kvLen;
  }

  /** Tokens per query block. */
  public int qBlock() {
    return qBlock;
  }

  /** Tokens per key block. */
  public int kBlock() {
    return kBlock;
  }

  /** Number of query blocks, {@code ceil(qLen / qBlock)}. */
  public int qBlocks() {
    return qBlocks;
  }

  /** Number of key blocks, {@code ceil(kvLen / kBlock)}. */
  public int kBlocks() {
    return kBlocks;
  }

  /** Key blocks listed for query block {@code qb} of {@code (b, h)}. */
  public int numBlocks(int b, int h, int qb) {
    int r = row(b, h, qb);
    return rowStart[r + 1] - rowStart[r];
  }

  /** The {@code n}-th listed key block (ascending) of query block {@code qb}. */
  public int keyBlock(int b, int h, int qb, int n) {
    return cols[rowStart[row(b, h, qb)] + n];
  }

  /** Whether the {@code n}-th listed key block of query block {@code qb} is FULL. */
  public boolean isFull(int b, int h, int qb, int n) {
    return full[rowStart[row(b, h, qb)] + n];
  }

  /** The class of block {@code (qb, kb)} of {@code (b, h)}. */
  public TileClass classOf(int b, int h, int qb, int kb) {
    int r = row(b, h, qb);
    int at = Arrays.binarySearch(cols, rowStart[r], rowStart[r + 1], kb);
    return at < 0 ? TileClass.EMPTY : cls(full[at]);
  }

  /** Whether query {@code i} of {@code (b, h)} sees key {@code j} under this mask. */
  public boolean allows(int b, int h, int i, int j) {
    int r = row(b, h, i / qBlock);
    int at = Arrays.binarySearch(cols, rowStart[r], rowStart[r + 1], j / kBlock);
    if (at < 0) {
      return false;
    }
    return full[at] || tokenMask.allows(b, h, i, j, diagonals[batch == 1 ? 0 : b]);
  }

  /** Listed blocks over all rows, and how many of them are FULL: {@code {listed, full}}. */
  public long[] counts() {
    long f = 0;
    for (boolean x : full) {
      f += x ? 1 : 0;
    }
    return new long[] {cols.length, f};
  }

  /**
   * This mask as a core {@link Mask} (token predicate with a block classifier), for the float64
   * reference or the dense kernel. Its classifier answers FULL or EMPTY only for token ranges
   * inside one block.
   */
  public Mask asMask() {
    return Mask.custom(this::allows, (b, h, i0, i1, j0, j1) -> {
      int qb = i0 / qBlock;
      int kb = j0 / kBlock;
      if ((i1 - 1) / qBlock != qb || (j1 - 1) / kBlock != kb) {
        return TileClass.PARTIAL;
      }
      TileClass c = classOf(b, h, qb, kb);
      return c == TileClass.FULL ? c : (c == TileClass.EMPTY ? c : TileClass.PARTIAL);
    });
  }

  /** The exact token mask (evaluated by the kernel in PARTIAL tiles). */
  Mask tokenMask() {
    return tokenMask;
  }

  /** The diagonal offset the token mask expects for batch {@code b}. */
  long diagonal(int b) {
    return diagonals[batch == 1 ? 0 : b];
  }

  int rowStart(int r) {
    return rowStart[r];
  }

  int col(int at) {
    return cols[at];
  }

  boolean fullAt(int at) {
    return full[at];
  }

  /** Row index of {@code (b, h, qb)}, with broadcasting. */
  int row(int b, int h, int qb) {
    return ((batch == 1 ? 0 : b) * heads + (heads == 1 ? 0 : h)) * qBlocks + qb;
  }

  private static TileClass cls(boolean full) {
    return full ? TileClass.FULL : TileClass.PARTIAL;
  }

  static int ceilDiv(int a, int b) {
    return Math.ceilDiv(a, b);
  }

  @Override
  public String toString() {
    long[] c = counts();
    return "BlockMask[batch=" + batch + ", heads=" + heads + ", qLen=" + qLen + ", kvLen="
        + kvLen + ", blocks=" + qBlock + "x" + kBlock + ", listed=" + c[0] + ", full=" + c[1]
        + "]";
  }

  // ---- construction helpers

  private record Geometry(int batch, int heads, int qLen, int kvLen, int qBlock, int kBlock) {
    Geometry {
      if (batch < 1 || heads < 1) {
        throw new IllegalArgumentException("batch " + batch + " and heads " + heads
            + " must be >= 1");
      }
      if (qLen < 0 || kvLen < 0) {
        throw new IllegalArgumentException("lengths must be >= 0: qLen " + qLen + ", kvLen "
            + kvLen);
      }
      if (qBlock < 1 || kBlock < 1) {
        throw new IllegalArgumentException("block sizes must be >= 1: qBlock " + qBlock
            + ", kBlock " + kBlock);
      }
    }
  }

  /** Rows under construction: key blocks must be added in ascending order per row. */
  private static final class Rows {
    private final int[] rowStart;
    private int[] cols = new int[64];
    private boolean[] full = new boolean[64];
    private int size;
    private int row;
    private boolean anyPartial;

    Rows(int rows) {
      rowStart = new int[rows + 1];
    }

    void add(int kb, TileClass c) {
      if (c == TileClass.EMPTY) {
        return;
      }
      if (size == cols.length) {
        cols = Arrays.copyOf(cols, size * 2);
        full = Arrays.copyOf(full, size * 2);
      }
      cols[size] = kb;
      full[size] = c == TileClass.FULL;
      anyPartial |= c != TileClass.FULL;
      size++;
    }

    void endRow() {
      rowStart[++row] = size;
    }

    BlockMask build(Geometry g, Mask tokenMask, long[] diag) {
      return new BlockMask(g, rowStart, Arrays.copyOf(cols, size), Arrays.copyOf(full, size),
          tokenMask, diag);
    }
  }

  /**
   * Builds a block mask from explicit block indices (FlexAttention's {@code from_kv_blocks}), or
   * from a router's choices. Blocks may be added in any order; adding a block twice keeps the
   * weaker class (PARTIAL over FULL). PARTIAL blocks need an {@link #elementMask}. Not
   * thread-safe.
   */
  public static final class Builder {
    private final Geometry g;
    private final int nq;
    private final int nk;
    private long[] keys = new long[64];
    private int size;
    private MaskMod elementMask;

    private Builder(Geometry g) {
      this.g = g;
      this.nq = ceilDiv(g.qLen, g.qBlock);
      this.nk = ceilDiv(g.kvLen, g.kBlock);
    }

    /** Lists key block {@code kb} as FULL for query block {@code qb} of {@code (b, h)}. */
    public Builder add(int b, int h, int qb, int kb) {
      return add(b, h, qb, kb, TileClass.FULL);
    }

    /** Lists key block {@code kb} with a class for query block {@code qb} (EMPTY is ignored). */
    public Builder add(int b, int h, int qb, int kb, TileClass c) {
      if (b < 0 || b >= g.batch || h < 0 || h >= g.heads || qb < 0 || qb >= nq || kb < 0
          || kb >= nk) {
        throw new IllegalArgumentException("block (b " + b + ", h " + h + ", q " + qb + ", k "
            + kb + ") out of range (" + g.batch + ", " + g.heads + ", " + nq + ", " + nk + ")");
      }
      if (c == TileClass.EMPTY) {
        return this;
      }
      if (size == keys.length) {
        keys = Arrays.copyOf(keys, size * 2);
      }
      long r = ((long) b * g.heads + h) * nq + qb;
      keys[size++] = ((r * nk + kb) << 1) | (c == TileClass.FULL ? 1 : 0);
      return this;
    }

    /** The per-element predicate evaluated in PARTIAL blocks. */
    public Builder elementMask(MaskMod mod) {
      this.elementMask = mod;
      return this;
    }

    /**
     * The block mask.
     *
     * @throws IllegalStateException if a block is PARTIAL and no element mask was given
     */
    public BlockMask build() {
      long[] k = Arrays.copyOf(keys, size);
      Arrays.sort(k);
      Rows rows = new Rows(g.batch * g.heads * nq);
      int at = 0;
      long totalRows = (long) g.batch * g.heads * nq;
      for (long r = 0; r < totalRows; r++) {
        while (at < k.length && (k[at] >>> 1) / nk == r) {
          long cell = k[at] >>> 1;
          // duplicates are adjacent: PARTIAL (even) sorts before FULL (odd) and wins
          boolean isFull = (k[at] & 1) == 1;
          while (at + 1 < k.length && (k[at + 1] >>> 1) == cell) {
            at++;
          }
          rows.add((int) (cell % nk), isFull ? TileClass.FULL : TileClass.PARTIAL);
          at++;
        }
        rows.endRow();
      }
      if (rows.anyPartial && elementMask == null) {
        throw new IllegalStateException("PARTIAL blocks need an element mask");
      }
      BlockMask[] self = new BlockMask[1];
      MaskMod element = elementMask == null ? (b, h, i, j) -> true : elementMask;
      // the token mask: listed FULL, or listed PARTIAL and the element mask allows
      Mask token = Mask.custom((b, h, i, j) -> {
        TileClass c = self[0].classOf(b, h, i / g.qBlock, j / g.kBlock);
        return c == TileClass.FULL || (c == TileClass.PARTIAL && element.allows(b, h, i, j));
      });
      self[0] = rows.build(g, token, new long[g.batch]);
      return self[0];
    }
  }
}
