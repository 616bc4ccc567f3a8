package dev.attention4j.core;

/**
 * A FlexAttention-style mask predicate: whether query {@code i} of (batch {@code b}, query head
 * {@code h}) may see key {@code j}. Must be a pure function; kernels call it from several threads.
 * Kernels classify tiles by evaluating it, unless a {@link TileClassifier} is supplied with it
 * (see {@link Mask#custom(MaskMod, TileClassifier)}).
 */
@FunctionalInterface
public interface MaskMod {
  /**
   * Whether the pair is visible.
   *
   * @param b batch index
   * @param h query head index
   * @param i query position
   * @param j key position
   * @return true when query {@code i} may see key {@code j}
   */
  boolean allows(int b, int h, int i, int j);
}
