package dev.attention4j.simd;

import dev.attention4j.core.MaskMod;
import java.util.Objects;

/**
 * A mask that is a conjunction of interval tests, one per "axis": query {@code i} may see key
 * {@code j} when, for every axis {@code a}, {@code lo[a][i] <= key[a][j] <= hi[a][j]}. The same
 * for every batch and head. Neighborhood attention on an n-D grid is such a mask (one axis per
 * grid axis; a dilated axis is two: the dilation group, an interval of one value, and the index
 * inside the group), and so is any window pattern over coordinates.
 *
 * <p>Wrapped in {@link dev.attention4j.core.Mask#custom}, the {@link DenseEngine} recognises it
 * and masks a PARTIAL tile with vector compares, a few instructions per 16 pairs, instead of one
 * {@link #allows} call per pair. Coordinates must lie in {@code [-2^24, 2^24]} (they are
 * compared as floats, exactly). Immutable; the arrays are copied.
 */
public final class BoxMask implements MaskMod {

  /** Largest magnitude of a coordinate, exact in float32. */
  public static final int MAX_COORDINATE = 1 << 24;

  private final int axes;
  private final int queries;
  private final int keys;
  /** {@code lo[a]}, {@code hi[a]}: per query. */
  final float[][] lo;
  final float[][] hi;
  /** {@code key[a][j]}: per key. */
  final float[][] key;

  /**
   * @param lo per axis, the lowest allowed key coordinate of each query
   * @param hi per axis, the highest allowed key coordinate of each query
   * @param key per axis, the coordinate of each key
   * @throws IllegalArgumentException if the axes or lengths disagree or a coordinate is out of
   *     range
   */
  public BoxMask(int[][] lo, int[][] hi, int[][] key) {
    Objects.requireNonNull(lo, "lo");
    Objects.requireNonNull(hi, "hi");
    Objects.requireNonNull(key, "key");
    if (lo.length == 0 || hi.length != lo.length || key.length != lo.length) {
      throw new IllegalArgumentException("box mask: lo, hi and key need the same number of axes"
          + " (>= 1), got " + lo.length + ", " + hi.length + ", " + key.length);
    }
    this.axes = lo.length;
    this.queries = lo[0].length;
    this.keys = key[0].length;
    this.lo = new float[axes][];
    this.hi = new float[axes][];
    this.key = new float[axes][];
    for (int a = 0; a < axes; a++) {
      if (lo[a].length != queries || hi[a].length != queries || key[a].length != keys) {
        throw new IllegalArgumentException("box mask axis " + a + ": lo " + lo[a].length
            + ", hi " + hi[a].length + " (queries " + queries + "), key " + key[a].length
            + " (keys " + keys + ")");
      }
      this.lo[a] = floats(lo[a], a);
      this.hi[a] = floats(hi[a], a);
      this.key[a] = floats(key[a], a);
    }
  }

  private static float[] floats(int[] x, int axis) {
    float[] f = new float[x.length];
    for (int t = 0; t < x.length; t++) {
      if (Math.abs((long) x[t]) > MAX_COORDINATE) {
        throw new IllegalArgumentException("box mask axis " + axis + ": coordinate " + x[t]
            + " beyond +-" + MAX_COORDINATE);
      }
      f[t] = x[t];
    }
    return f;
  }

  /** Number of interval tests per pair. */
  public int axes() {
    return axes;
  }

  /** Number of queries the mask covers (query indices {@code 0..queries()-1}). */
  public int queries() {
    return queries;
  }

  /** Number of keys the mask covers. */
  public int keys() {
    return keys;
  }

  @Override
  public boolean allows(int b, int h, int i, int j) {
    for (int a = 0; a < axes; a++) {
      float y = key[a][j];
      if (y < lo[a][i] || y > hi[a][i]) {
        return false;
      }
    }
    return true;
  }
}
