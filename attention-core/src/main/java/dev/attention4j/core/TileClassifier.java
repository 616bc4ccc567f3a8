package dev.attention4j.core;

/**
 * Classifies the block of queries {@code [i0, i1)} and keys {@code [j0, j1)} of one
 * (batch, query head) for a user mask. Answering {@link TileClass#PARTIAL} is always safe;
 * answering FULL or EMPTY wrongly gives wrong results.
 */
@FunctionalInterface
public interface TileClassifier {
  TileClass classify(int b, int h, int i0, int i1, int j0, int j1);
}
