package dev.attention4j.simd;

import dev.attention4j.core.TileClass;
import java.util.Arrays;

/**
 * The key tiles one query tile visits, in order: half-open key ranges {@code [start, end)}, each
 * {@link TileClass#FULL} (every pair visible: no per-element mask work) or
 * {@link TileClass#PARTIAL} (the engine evaluates the mask per element). This is how the sparse
 * kernels (block masks, neighborhood attention, MoBA, NABLA) hand their schedule to
 * {@link DenseEngine#attend}; {@link DenseEngine#schedule} fills one from the options' mask.
 * A range longer than {@link DenseEngine#keyTile()} is split by the engine. Reusable: call
 * {@link #clear()} and fill again; not thread-safe.
 */
public final class KeyTiles {
  private int[] start = new int[16];
  private int[] end = new int[16];
  private boolean[] full = new boolean[16];
  private int size;

  /** An empty list. */
  public KeyTiles() {
  }

  /** Removes every tile. */
  public void clear() {
    size = 0;
  }

  /**
   * Appends the keys {@code [start, end)} with their class; {@link TileClass#EMPTY} tiles and
   * empty ranges are ignored.
   *
   * @throws IllegalArgumentException if {@code start < 0} or {@code end < start}
   */
  public void add(int start, int end, TileClass cls) {
    if (start < 0 || end < start) {
      throw new IllegalArgumentException("key tile [" + start + ", " + end + ") is not a range");
    }
    if (cls == TileClass.EMPTY || end == start) {
      return;
    }
    if (size == this.start.length) {
      int n = size * 2;
      this.start = Arrays.copyOf(this.start, n);
      this.end = Arrays.copyOf(this.end, n);
      this.full = Arrays.copyOf(this.full, n);
    }
    this.start[size] = start;
    this.end[size] = end;
    this.full[size] = cls == TileClass.FULL;
    size++;
  }

  /** Number of tiles. */
  public int size() {
    return size;
  }

  /** First key of tile {@code t}. */
  public int start(int t) {
    return start[t];
  }

  /** One past the last key of tile {@code t}. */
  public int end(int t) {
    return end[t];
  }

  /** True when tile {@code t} is FULL, false when PARTIAL. */
  public boolean isFull(int t) {
    return full[t];
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("KeyTiles[");
    for (int t = 0; t < size; t++) {
      sb.append(t == 0 ? "" : ", ").append('[').append(start[t]).append(", ").append(end[t])
          .append(full[t] ? ") full" : ") partial");
    }
    return sb.append(']').toString();
  }
}
