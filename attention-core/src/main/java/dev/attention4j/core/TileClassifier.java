package dev.attention4j.core;

/**
 * Classifies the block of queries {@code [i0, i1)} and keys {@code [j0, j1)} of one
 * (batch, query head) for a user mask. Answering {@link TileClass#PARTIAL} is always safe;
 * answering FULL or EMPTY wrongly gives wrong results.
 */
@FunctionalInterface
public interface TileClassifier {
  /**
   * The class of the block: {@link TileClass#FULL} only if every pair is visible,
   * {@link TileClass#EMPTY} only if none is, else {@link TileClass#PARTIAL}.
   *
   * @param b batch index
   * @param h query head index
   * @param i0 first query position (inclusive)
   * @param i1 last query position (exclusive)
   * @param j0 first key position (inclusive)
   * @param j1 last key position (exclusive)
   * @return the class of the block
   */
  TileClass classify(int b, int h, int i0, int i1, int j0, int j1);
}
