package dev.attention4j.sparse;

import dev.attention4j.core.TileClass;
import dev.attention4j.simd.KeyTiles;
import java.util.Arrays;

/**
 * Per-thread union of key blocks: a stamp per block marks it as seen in the current tile, and a
 * count of FULL listings decides FULL (listed FULL by every overlapped row) or PARTIAL.
 */
final class BlockUnion {
  private int[] stamp = new int[0];
  private int[] fullCount = new int[0];
  private int[] touched = new int[0];
  private int n;
  private int current;

  void begin(int blocks) {
    if (stamp.length < blocks) {
      stamp = new int[blocks];
      fullCount = new int[blocks];
      touched = new int[blocks];
      current = 0;
    }
    if (++current == Integer.MAX_VALUE) {
      Arrays.fill(stamp, 0);
      current = 1;
    }
    n = 0;
  }

  void add(int kb, boolean full) {
    if (stamp[kb] != current) {
      stamp[kb] = current;
      fullCount[kb] = 0;
      touched[n++] = kb;
    }
    if (full) {
      fullCount[kb]++;
    }
  }

  /**
   * Ascending key ranges, clipped to {@code limit}; adjacent blocks of the same class become
   * one range.
   */
  void emit(int rows, int kBlock, int limit, KeyTiles into) {
    Arrays.sort(touched, 0, n);
    int t = 0;
    while (t < n) {
      int first = touched[t];
      boolean full = fullCount[first] == rows;
      int last = first;
      while (t + 1 < n && touched[t + 1] == last + 1
          && (fullCount[touched[t + 1]] == rows) == full) {
        last = touched[++t];
      }
      t++;
      int start = first * kBlock;
      int end = Math.min((last + 1) * kBlock, limit);
      if (end > start) {
        into.add(start, end, full ? TileClass.FULL : TileClass.PARTIAL);
      }
    }
  }
}
