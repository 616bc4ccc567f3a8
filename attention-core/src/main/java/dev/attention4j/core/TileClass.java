package dev.attention4j.core;

/** How a mask covers a (query tile, key tile) block. */
public enum TileClass {
  /** No pair of the block is visible: the kernel skips it. */
  EMPTY,
  /** Some pairs may be visible: the kernel evaluates the mask per element. */
  PARTIAL,
  /** Every pair is visible: the kernel runs it without per-element mask work. */
  FULL;

  /** The class of the intersection of two masks. */
  public TileClass and(TileClass other) {
    if (this == EMPTY || other == EMPTY) {
      return EMPTY;
    }
    return this == FULL && other == FULL ? FULL : PARTIAL;
  }
}
