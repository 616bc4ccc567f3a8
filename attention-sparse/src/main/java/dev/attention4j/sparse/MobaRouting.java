package dev.attention4j.sparse;

import dev.attention4j.core.Mask;
import dev.attention4j.core.MaskMod;

/**
 * The key blocks MoBA selected for every query row (SEMANTICS.md "MoBA"): per (batch, query head,
 * query) at most {@code min(topk, nblocks)} block indices in ascending order (the current block
 * always among them). Key {@code j} is visible to query {@code i} iff its block is selected and
 * {@code j <= t} with {@code t = i + Sk - Sq}. Memory is {@code O(B Hq Sq topk)} ints. Immutable.
 */
public final class MobaRouting implements MaskMod {

  private final int heads;
  private final int qLen;
  private final int kvLen;
  private final int blockSize;
  private final int width;
  /** Selected blocks per row, ascending, padded with -1. */
  private final int[] sel;

  MobaRouting(int heads, int qLen, int kvLen, int blockSize, int width, int[] sel) {
    this.heads = heads;
    this.qLen = qLen;
    this.kvLen = kvLen;
    this.blockSize = blockSize;
    this.width = width;
    this.sel = sel;
  }

  /** Query heads. */
  public int heads() {
    return heads;
  }

  public int qLen() {
    return qLen;
  }

  public int kvLen() {
    return kvLen;
  }

  public int blockSize() {
    return blockSize;
  }

  /** Number of key blocks, {@code ceil(Sk / Bk)}. */
  public int blocks() {
    return Math.ceilDiv(kvLen, blockSize);
  }

  /** Selection slots per row: {@code min(topk, nblocks)}. */
  public int width() {
    return width;
  }

  /** The selected blocks of query {@code i} of {@code (b, h)}, ascending. */
  public int[] selected(int b, int h, int i) {
    int at = row(b, h, i);
    int n = 0;
    while (n < width && sel[at + n] >= 0) {
      n++;
    }
    return java.util.Arrays.copyOfRange(sel, at, at + n);
  }

  /** Block index in slot {@code s} of row {@code (b, h, i)}, or -1. */
  int slot(int b, int h, int i, int s) {
    return sel[row(b, h, i) + s];
  }

  @Override
  public boolean allows(int b, int h, int i, int j) {
    if (j > i + kvLen - qLen) {
      return false;
    }
    int block = j / blockSize;
    int at = row(b, h, i);
    for (int s = 0; s < width; s++) {
      if (sel[at + s] == block) {
        return true;
      }
    }
    return false;
  }

  /** This routing as a core mask, for the float64 reference or the dense kernel. */
  public Mask asMask() {
    return Mask.custom(this);
  }

  /** Visible (query, key) pairs of batch {@code b}, summed over the heads. */
  public long visiblePairs(int b) {
    long pairs = 0;
    for (int h = 0; h < heads; h++) {
      for (int i = 0; i < qLen; i++) {
        int t = i + kvLen - qLen;
        int at = row(b, h, i);
        for (int s = 0; s < width && sel[at + s] >= 0; s++) {
          int c = sel[at + s];
          int end = Math.min(Math.min((c + 1) * blockSize, kvLen), t + 1);
          pairs += Math.max(0, end - c * blockSize);
        }
      }
    }
    return pairs;
  }

  private int row(int b, int h, int i) {
    return ((b * heads + h) * qLen + i) * width;
  }
}
