package dev.attention4j.core;

/** Package-private helpers shared by the mask records. */
final class Masks {
  private Masks() {
  }

  /** Classifies a block by evaluating every element: O(block) time, no storage. */
  static TileClass evaluate(Mask m, int b, int h, int i0, int i1, int j0, int j1, long diag) {
    boolean any = false;
    boolean all = true;
    for (int i = i0; i < i1; i++) {
      for (int j = j0; j < j1; j++) {
        if (m.allows(b, h, i, j, diag)) {
          any = true;
        } else {
          all = false;
        }
        if (any && !all) {
          return TileClass.PARTIAL;
        }
      }
    }
    return all ? TileClass.FULL : (any ? TileClass.PARTIAL : TileClass.EMPTY);
  }
}
