package dev.attention4j.sparse;

import dev.attention4j.core.Mask;
import dev.attention4j.core.MaskMod;
import dev.attention4j.core.TileClass;
import dev.attention4j.core.TileClassifier;
import dev.attention4j.simd.KeyTiles;

/**
 * The neighborhood mask of a {@link Neighborhood} on its row-major token grid: a token predicate
 * ({@link #allows}) and an analytic block classifier ({@link #classify}), usable as a core
 * {@link Mask} ({@link #asMask()}) anywhere, for example with the float64 reference.
 *
 * <p>Per axis the visible keys of a query coordinate form one interval of one dilation group,
 * precomputed per coordinate ({@code O(sum X_a)} ints); token coordinates are precomputed too
 * ({@code O(n S)} ints), so the predicate is a few loads and compares. Blocks are classified from
 * per-axis coordinate boxes of the query and key ranges: EMPTY if the key box misses the union of
 * the query box's windows on some axis, FULL if every window of the query box covers the key box
 * on every axis (windows only move right as the query coordinate grows). Both claims are sound
 * for any contiguous ranges; anything else is PARTIAL. Immutable and thread-safe.
 */
public final class NeighborhoodMask implements MaskMod, TileClassifier {

  private final Neighborhood nb;
  private final int n;
  private final int[] grid;
  private final int[] dil;
  /** Elements per step on each axis (row-major strides). */
  private final int[] step;
  /** Visible key interval per axis and query coordinate, in grid coordinates (same group). */
  private final int[][] lo;
  private final int[][] hi;
  /** Grid coordinate per axis and token. */
  private final int[][] coord;

  NeighborhoodMask(Neighborhood nb) {
    this.nb = nb;
    this.n = nb.rank();
    this.grid = nb.grid();
    this.dil = nb.dilation();
    this.step = new int[n];
    this.lo = new int[n][];
    this.hi = new int[n][];
    int s = 1;
    for (int a = n - 1; a >= 0; a--) {
      step[a] = s;
      s *= grid[a];
    }
    int tokens = s;
    this.coord = new int[n][tokens];
    for (int a = 0; a < n; a++) {
      int d = dil[a];
      lo[a] = new int[grid[a]];
      hi[a] = new int[grid[a]];
      for (int x = 0; x < grid[a]; x++) {
        int[] w = nb.window(a, x);
        lo[a][x] = w[0] * d + x % d;
        hi[a][x] = w[1] * d + x % d;
      }
      for (int t = 0; t < tokens; t++) {
        coord[a][t] = (t / step[a]) % grid[a];
      }
    }
  }

  /** The parameters. */
  public Neighborhood neighborhood() {
    return nb;
  }

  /** This mask as a core {@link Mask} (predicate and analytic classifier). */
  public Mask asMask() {
    return Mask.custom(this, this);
  }

  @Override
  public boolean allows(int b, int h, int i, int j) {
    for (int a = 0; a < n; a++) {
      int x = coord[a][i];
      int y = coord[a][j];
      if (y < lo[a][x] || y > hi[a][x] || (dil[a] > 1 && (y - x) % dil[a] != 0)) {
        return false;
      }
    }
    return true;
  }

  /** Number of keys query {@code i} sees: the product of its per-axis window sizes. */
  public long visibleKeys(int i) {
    long c = 1;
    for (int a = 0; a < n; a++) {
      int x = coord[a][i];
      c *= (hi[a][x] - lo[a][x]) / dil[a] + 1;
    }
    return c;
  }

  @Override
  public TileClass classify(int b, int h, int i0, int i1, int j0, int j1) {
    boolean full = true;
    for (int a = 0; a < n; a++) {
      int xa = boxLo(a, i0, i1);
      int xb = boxHi(a, i0, i1);
      int ya = boxLo(a, j0, j1);
      int yb = boxHi(a, j0, j1);
      int minLo = Integer.MAX_VALUE;
      int maxHi = Integer.MIN_VALUE;
      int maxLo = Integer.MIN_VALUE;
      int minHi = Integer.MAX_VALUE;
      for (int x = xa; x <= xb; x++) {
        minLo = Math.min(minLo, lo[a][x]);
        maxHi = Math.max(maxHi, hi[a][x]);
        maxLo = Math.max(maxLo, lo[a][x]);
        minHi = Math.min(minHi, hi[a][x]);
      }
      if (yb < minLo || ya > maxHi) {
        return TileClass.EMPTY;
      }
      boolean groupsOk = dil[a] == 1 || (xa == xb && ya == yb && (ya - xa) % dil[a] == 0);
      full &= groupsOk && maxLo <= ya && yb <= minHi;
    }
    return full ? TileClass.FULL : TileClass.PARTIAL;
  }

  /** Smallest coordinate on axis {@code a} of the tokens {@code [t0, t1)} (a box bound). */
  private int boxLo(int a, int t0, int t1) {
    return sameOuter(a, t0, t1 - 1) ? coord[a][t0] : 0;
  }

  private int boxHi(int a, int t0, int t1) {
    return sameOuter(a, t0, t1 - 1) ? coord[a][t1 - 1] : grid[a] - 1;
  }

  /** Whether two tokens agree on every axis before {@code a} (so axis {@code a} is monotone). */
  private boolean sameOuter(int a, int t, int u) {
    int span = step[a] * grid[a];
    return t / span == u / span;
  }

  // ---- key runs of a query tile (used by NeighborhoodAttention)

  /**
   * Lists the key ranges the queries {@code [i0, i1)} can see: the box of the union of their
   * windows, as runs along the last axis (adjacent runs of the same class merged), each
   * classified exactly for these queries (FULL, PARTIAL, or left out when EMPTY).
   */
  void plan(int i0, int i1, KeyTiles into) {
    int[] kLo = new int[n];
    int[] kHi = new int[n];
    for (int a = 0; a < n; a++) {
      int xa = boxLo(a, i0, i1);
      int xb = boxHi(a, i0, i1);
      int l = Integer.MAX_VALUE;
      int r = Integer.MIN_VALUE;
      for (int x = xa; x <= xb; x++) {
        l = Math.min(l, lo[a][x]);
        r = Math.max(r, hi[a][x]);
      }
      kLo[a] = l;
      kHi[a] = r;
    }
    int last = n - 1;
    int[] y = new int[n];
    System.arraycopy(kLo, 0, y, 0, n);
    int runStart = -1;
    int runEnd = -1;
    TileClass runClass = null;
    while (true) {
      int base = 0;
      for (int a = 0; a < last; a++) {
        base += y[a] * step[a];
      }
      int j0 = base + kLo[last];
      int j1 = base + kHi[last] + 1;
      TileClass c = classifyRun(i0, i1, y, kLo[last], kHi[last]);
      if (c != TileClass.EMPTY) {
        if (runClass == c && runEnd == j0) {
          runEnd = j1;
        } else {
          if (runClass != null) {
            into.add(runStart, runEnd, runClass);
          }
          runStart = j0;
          runEnd = j1;
          runClass = c;
        }
      }
      // next combination of the outer axes, row-major
      int a = last - 1;
      while (a >= 0 && y[a] == kHi[a]) {
        y[a] = kLo[a];
        a--;
      }
      if (a < 0) {
        break;
      }
      y[a]++;
    }
    if (runClass != null) {
      into.add(runStart, runEnd, runClass);
    }
  }

  /**
   * The exact class of the keys with outer coordinates {@code y[0..n-2]} and last coordinate in
   * {@code [ya, yb]}, for the queries {@code [i0, i1)}.
   */
  private TileClass classifyRun(int i0, int i1, int[] y, int ya, int yb) {
    int last = n - 1;
    int dl = dil[last];
    boolean all = true;
    boolean any = false;
    for (int i = i0; i < i1; i++) {
      boolean outer = true;
      for (int a = 0; a < last && outer; a++) {
        int x = coord[a][i];
        outer = y[a] >= lo[a][x] && y[a] <= hi[a][x] && (dil[a] == 1 || (y[a] - x) % dil[a] == 0);
      }
      if (!outer) {
        all = false;
        if (any) {
          return TileClass.PARTIAL;
        }
        continue;
      }
      int x = coord[last][i];
      int l = lo[last][x];
      int r = hi[last][x];
      boolean fullHere = l <= ya && yb <= r && (dl == 1 || (ya == yb && (ya - l) % dl == 0));
      // some key of the run in the window's group: the window holds [l, r] in steps of dl
      boolean anyHere = Math.max(l, ya) <= Math.min(r, yb)
          && (dl == 1 || firstInGroup(Math.max(l, ya), l, dl) <= Math.min(r, yb));
      all &= fullHere;
      any |= anyHere;
      if (any && !all) {
        return TileClass.PARTIAL;
      }
    }
    return all ? TileClass.FULL : (any ? TileClass.PARTIAL : TileClass.EMPTY);
  }

  /** The first coordinate {@code >= from} congruent to {@code anchor} modulo {@code d}. */
  private static int firstInGroup(int from, int anchor, int d) {
    int r = Math.floorMod(from - anchor, d);
    return r == 0 ? from : from + d - r;
  }
}
