package dev.attention4j.cli;

import dev.attention4j.core.AttentionOptions;

/**
 * Counts the visible (query, key) pairs of a dense call exactly, in O(B * Sq): per row the visible
 * keys of causal, window and key-length masks form one interval
 * {@code [max(0, c - left), min(Sk_b - 1, c + right)]} with {@code c = i + off_b}
 * (SEMANTICS.md, "Masks"), so its length is computed, not enumerated. The mask does not depend on
 * the head, so the per-head count is multiplied by {@code Hq}.
 */
final class VisiblePairs {

  private VisiblePairs() {
  }

  /**
   * Visible pairs of a call with these shapes and options.
   *
   * @throws IllegalArgumentException for document or user masks, which are not intervals
   */
  static long count(int batch, int qHeads, int qLen, int kvLen, AttentionOptions o) {
    if (o.documentIds() != null || o.userMask() != null) {
      throw new IllegalArgumentException("pairs are counted for causal, window and key-length"
          + " masks only");
    }
    boolean windowed = o.windowLeft() >= 0 || o.windowRight() >= 0;
    long left = windowed ? o.windowLeft() : -1;
    // causal caps the right side at the diagonal; a window's right bound only matters without it
    long right = o.causal() ? 0 : (windowed ? o.windowRight() : -1);
    long perHead = 0;
    for (int b = 0; b < batch; b++) {
      long valid = o.kvLen(b, kvLen);
      long off = o.diagonal(b, qLen, kvLen);
      for (int i = 0; i < qLen; i++) {
        long c = i + off;
        long lo = left < 0 ? 0 : Math.max(0, c - left);
        long hi = right < 0 ? valid - 1 : Math.min(valid - 1, c + right);
        if (hi >= lo) {
          perHead += hi - lo + 1;
        }
      }
    }
    return perHead * qHeads;
  }
}
