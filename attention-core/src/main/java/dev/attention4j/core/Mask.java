package dev.attention4j.core;

import java.util.List;
import java.util.Objects;

/**
 * Which keys a query may see. Built-in masks are records that kernels can specialise on; each mask
 * answers per element ({@link #allows}) and per block ({@link #classify}), analytically for the
 * built-ins and by evaluation for user predicates. No mask ever materialises an {@code Sq x Sk}
 * matrix.
 *
 * <p>Every method receives the diagonal offset {@code diag = off_b} of the batch (see
 * {@link Alignment#offset}); masks that do not depend on the diagonal ignore it. Key-length
 * padding ({@code kvLens}) is not a mask: kernels never visit keys at or past the valid length.
 */
public sealed interface Mask permits Mask.Band, Mask.Documents, Mask.Custom, Mask.And {

  /** Whether query {@code i} sees key {@code j}. */
  boolean allows(int b, int h, int i, int j, long diag);

  /** The class of block {@code [i0, i1) x [j0, j1)} (both non-empty). */
  TileClass classify(int b, int h, int i0, int i1, int j0, int j1, long diag);

  /**
   * Causal and sliding-window masks: key {@code j} is visible to query {@code i} iff
   * {@code i + diag - left <= j <= i + diag + right}, where {@code -1} means unbounded on that
   * side. Causal is {@code Band(-1, 0)}; causal with a window {@code (left, right)} is
   * {@code Band(left, 0)}.
   */
  record Band(long left, long right) implements Mask {
    public Band {
      if (left < -1 || right < -1) {
        throw new IllegalArgumentException("window (" + left + ", " + right
            + "): bounds must be >= 0, or -1 for unbounded");
      }
    }

    @Override
    public boolean allows(int b, int h, int i, int j, long diag) {
      long centre = i + diag;
      return (left < 0 || j >= centre - left) && (right < 0 || j <= centre + right);
    }

    @Override
    public TileClass classify(int b, int h, int i0, int i1, int j0, int j1, long diag) {
      long first = i0 + diag;
      long last = i1 - 1 + diag;
      // the visible interval [centre - left, centre + right] moves right as the row grows
      if ((right >= 0 && last + right < j0) || (left >= 0 && first - left > j1 - 1)) {
        return TileClass.EMPTY;
      }
      boolean leftOk = left < 0 || last - left <= j0;
      boolean rightOk = right < 0 || first + right >= j1 - 1;
      return leftOk && rightOk ? TileClass.FULL : TileClass.PARTIAL;
    }
  }

  /**
   * Packed sequences: query {@code i} sees key {@code j} iff {@code ids[b][i] == ids[b][j]}
   * ({@code Sq == Sk}). Blocks are classified in O(1) when a batch's ids never decrease (the usual
   * packing), otherwise by evaluation.
   */
  record Documents(int[][] ids) implements Mask {
    public Documents {
      Objects.requireNonNull(ids, "ids");
      ids = ids.clone();
      for (int b = 0; b < ids.length; b++) {
        ids[b] = Objects.requireNonNull(ids[b], "ids[" + b + "]").clone();
      }
    }

    @Override
    public boolean allows(int b, int h, int i, int j, long diag) {
      return ids[b][i] == ids[b][j];
    }

    @Override
    public TileClass classify(int b, int h, int i0, int i1, int j0, int j1, long diag) {
      int[] id = ids[b];
      if (nonDecreasing(id, i0, i1) && nonDecreasing(id, j0, j1)) {
        if (id[i1 - 1] < id[j0] || id[j1 - 1] < id[i0]) {
          return TileClass.EMPTY;
        }
        return id[i0] == id[i1 - 1] && id[j0] == id[j1 - 1] && id[i0] == id[j0]
            ? TileClass.FULL : TileClass.PARTIAL;
      }
      return Masks.evaluate(this, b, h, i0, i1, j0, j1, diag);
    }

    private static boolean nonDecreasing(int[] id, int from, int to) {
      // O(tile): checked on the tile's own range only
      for (int t = from + 1; t < to; t++) {
        if (id[t] < id[t - 1]) {
          return false;
        }
      }
      return true;
    }
  }

  /** A user predicate with an optional block classifier (evaluated per element when absent). */
  record Custom(MaskMod mod, TileClassifier classifier) implements Mask {
    public Custom {
      Objects.requireNonNull(mod, "mod");
    }

    @Override
    public boolean allows(int b, int h, int i, int j, long diag) {
      return mod.allows(b, h, i, j);
    }

    @Override
    public TileClass classify(int b, int h, int i0, int i1, int j0, int j1, long diag) {
      if (classifier != null) {
        return Objects.requireNonNull(classifier.classify(b, h, i0, i1, j0, j1),
            "TileClassifier returned null");
      }
      return Masks.evaluate(this, b, h, i0, i1, j0, j1, diag);
    }
  }

  /** The intersection of several masks. */
  record And(List<Mask> parts) implements Mask {
    public And {
      parts = List.copyOf(parts);
      if (parts.isEmpty()) {
        throw new IllegalArgumentException("And needs at least one mask");
      }
    }

    @Override
    public boolean allows(int b, int h, int i, int j, long diag) {
      for (Mask m : parts) {
        if (!m.allows(b, h, i, j, diag)) {
          return false;
        }
      }
      return true;
    }

    @Override
    public TileClass classify(int b, int h, int i0, int i1, int j0, int j1, long diag) {
      TileClass c = TileClass.FULL;
      for (Mask m : parts) {
        c = c.and(m.classify(b, h, i0, i1, j0, j1, diag));
        if (c == TileClass.EMPTY) {
          break;
        }
      }
      return c;
    }
  }

  /** The causal mask in the alignment chosen by the options. */
  static Mask causal() {
    return new Band(-1, 0);
  }

  /** A user mask, classified per block by evaluation. */
  static Mask custom(MaskMod mod) {
    return new Custom(mod, null);
  }

  /** A user mask with its own block classifier. */
  static Mask custom(MaskMod mod, TileClassifier classifier) {
    return new Custom(mod, classifier);
  }
}
