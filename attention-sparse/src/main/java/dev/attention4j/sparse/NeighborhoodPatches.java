package dev.attention4j.sparse;

import dev.attention4j.core.MaskMod;
import dev.attention4j.core.TileClass;
import dev.attention4j.simd.KeyTiles;
import java.util.Arrays;

/**
 * The permuted execution plan of a neighborhood (GNA's multi-dimensional query tiles,
 * kernel-notes §3.3): the queries are reordered ({@link TokenPermutation#tiles}) so that every
 * engine query tile is a compact patch of the grid (for example 6x8 in 2-D, 48 rows at 512 bits),
 * whose windows reach a small box of keys. Keys stay in row-major order: per query tile the key box
 * is visited as runs along the last axis, and each run is split exactly into a FULL middle (every
 * query of the patch sees those keys, no mask work) and PARTIAL ends; runs no query sees are left
 * out. The key tiles of every query tile are computed once per plan (they depend only on the
 * neighborhood and the tile size) and shared read-only by all threads.
 *
 * <p>The PARTIAL ends are evaluated by {@link PatchMask}, one final class whose predicate reads the
 * query's precomputed per-axis window (indexed by its permuted position) and the key's
 * coordinates: a few loads and compares, no allocation. Memory: {@code O(n S)} ints plus the key
 * tiles of each query tile. Immutable and thread-safe.
 */
final class NeighborhoodPatches {

  /** Estimated cost of a run, in keys (tails of the 8-key score blocks, softmax per tile). */
  private static final int RUN_COST = 16;

  final int tileRows;
  final int[] tile;
  /** {@code order[t]} = original token at permuted position {@code t}. */
  final int[] order;
  /** Starts of the query tiles in permuted positions, then the token count. */
  final int[] starts;
  /** The key tiles of each query tile (read-only once built). */
  final KeyTiles[] keys;
  final PatchMask mask;

  NeighborhoodPatches(Neighborhood nb, int tileRows) {
    this.tileRows = tileRows;
    int n = nb.rank();
    int[] grid = nb.grid();
    this.tile = chooseTile(nb, tileRows);
    this.order = TokenPermutation.tiles(grid, tile).order();
    int tokens = order.length;
    // per-axis windows per coordinate (grid coordinates, same dilation group)
    int[][] lo = new int[n][];
    int[][] hi = new int[n][];
    int[] dil = nb.dilation();
    for (int a = 0; a < n; a++) {
      lo[a] = new int[grid[a]];
      hi[a] = new int[grid[a]];
      for (int x = 0; x < grid[a]; x++) {
        int[] w = nb.window(a, x);
        lo[a][x] = w[0] * dil[a] + x % dil[a];
        hi[a][x] = w[1] * dil[a] + x % dil[a];
      }
    }
    int[] step = new int[n];
    for (int a = n - 1, s = 1; a >= 0; s *= grid[a], a--) {
      step[a] = s;
    }
    int[] qlo = new int[tokens * n];
    int[] qhi = new int[tokens * n];
    int[] kc = new int[tokens * n];
    for (int t = 0; t < tokens; t++) {
      for (int a = 0; a < n; a++) {
        int xq = (order[t] / step[a]) % grid[a];
        qlo[t * n + a] = lo[a][xq];
        qhi[t * n + a] = hi[a][xq];
        kc[t * n + a] = (t / step[a]) % grid[a];
      }
    }
    this.mask = new PatchMask(n, qlo, qhi, kc, dil);
    // query tiles in tile order, each a box [t0, t1) per axis
    int[] count = new int[n];
    int tiles = 1;
    for (int a = 0; a < n; a++) {
      count[a] = (grid[a] + tile[a] - 1) / tile[a];
      tiles *= count[a];
    }
    this.starts = new int[tiles + 1];
    this.keys = new KeyTiles[tiles];
    int[] t0 = new int[n];
    int[] t1 = new int[n];
    int pos = 0;
    for (int id = 0; id < tiles; id++) {
      int rest = id;
      int rows = 1;
      for (int a = n - 1; a >= 0; a--) {
        int c = rest % count[a];
        rest /= count[a];
        t0[a] = c * tile[a];
        t1[a] = Math.min(grid[a], t0[a] + tile[a]);
        rows *= t1[a] - t0[a];
      }
      starts[id] = pos;
      pos += rows;
      keys[id] = plan(n, grid, step, dil, lo, hi, t0, t1);
    }
    starts[tiles] = pos;
  }

  /**
   * The query patch: per-axis sizes with product at most {@code tileRows} minimising the estimated
   * engine work (query tiles x (keys in the window box + a cost per run) x query vectors).
   */
  static int[] chooseTile(Neighborhood nb, int tileRows) {
    int n = nb.rank();
    int lanes = Math.max(1, tileRows / 3);
    int[] best = null;
    double bestCost = Double.POSITIVE_INFINITY;
    int[] t = new int[3];
    int[] g = Arrays.copyOf(nb.grid(), 3);
    for (int a = n; a < 3; a++) {
      g[a] = 1;
    }
    for (t[0] = 1; t[0] <= Math.min(g[0], tileRows); t[0]++) {
      for (t[1] = 1; t[1] <= Math.min(g[1], tileRows / t[0]); t[1]++) {
        for (t[2] = 1; t[2] <= Math.min(g[2], tileRows / (t[0] * t[1])); t[2]++) {
          double tiles = 1;
          double box = 1;
          double runs = 1;
          for (int a = 0; a < n; a++) {
            tiles *= Math.ceil((double) g[a] / t[a]);
            long span = Math.min(g[a], t[a] + (long) (nb.kernel(a) - 1) * nb.dilation(a));
            box *= span;
            if (a < n - 1) {
              runs *= span;
            }
          }
          int rows = t[0] * t[1] * t[2];
          double cost = tiles * (box + RUN_COST * runs) * (rows <= lanes ? 1 : 3);
          if (cost < bestCost - 1e-9) {
            bestCost = cost;
            best = Arrays.copyOf(t, n);
          }
        }
      }
    }
    return best;
  }

  /** The exact key tiles of the query box {@code [t0, t1)}. */
  private static KeyTiles plan(int n, int[] grid, int[] step, int[] dil, int[][] lo, int[][] hi,
      int[] t0, int[] t1) {
    int last = n - 1;
    int[] u0 = new int[n];
    int[] u1 = new int[n];
    for (int a = 0; a < n; a++) {
      u0[a] = Integer.MAX_VALUE;
      u1[a] = Integer.MIN_VALUE;
      for (int x = t0[a]; x < t1[a]; x++) {
        u0[a] = Math.min(u0[a], lo[a][x]);
        u1[a] = Math.max(u1[a], hi[a][x]);
      }
    }
    // the columns every query sees (dilation 1 on the last axis only)
    int f0 = Integer.MIN_VALUE;
    int f1 = Integer.MAX_VALUE;
    for (int x = t0[last]; x < t1[last]; x++) {
      f0 = Math.max(f0, lo[last][x]);
      f1 = Math.min(f1, hi[last][x]);
    }
    boolean fullCols = dil[last] == 1 && f1 - f0 + 1 >= Integer.getInteger("a4j.na.split", 32);
    KeyTiles into = new KeyTiles();
    int[] y = new int[n];
    for (int a = 0; a < last; a++) {
      y[a] = u0[a];
    }
    int runStart = -1;
    int runEnd = -1;
    boolean runFull = false;
    while (true) {
      boolean any = true;
      boolean all = true;
      int base = 0;
      for (int a = 0; a < last; a++) {
        boolean anyA = false;
        boolean allA = true;
        for (int x = t0[a]; x < t1[a]; x++) {
          boolean sees = lo[a][x] <= y[a] && y[a] <= hi[a][x]
              && (dil[a] == 1 || (y[a] - lo[a][x]) % dil[a] == 0);
          anyA |= sees;
          allA &= sees;
        }
        any &= anyA;
        all &= allA;
        base += y[a] * step[a];
      }
      if (any) {
        int[][] parts;
        if (all && fullCols) {
          parts = new int[][] {{u0[last], f0, 0}, {f0, f1 + 1, 1}, {f1 + 1, u1[last] + 1, 0}};
        } else {
          parts = new int[][] {{u0[last], u1[last] + 1, 0}};
        }
        for (int[] p : parts) {
          if (p[1] <= p[0]) {
            continue;
          }
          int j0 = base + p[0];
          int j1 = base + p[1];
          boolean full = p[2] == 1;
          if (runStart >= 0 && runEnd == j0 && runFull == full) {
            runEnd = j1;
          } else {
            if (runStart >= 0) {
              into.add(runStart, runEnd, runFull ? TileClass.FULL : TileClass.PARTIAL);
            }
            runStart = j0;
            runEnd = j1;
            runFull = full;
          }
        }
      }
      int a = last - 1;
      while (a >= 0 && y[a] == u1[a]) {
        y[a] = u0[a];
        a--;
      }
      if (a < 0) {
        break;
      }
      y[a]++;
    }
    if (runStart >= 0) {
      into.add(runStart, runEnd, runFull ? TileClass.FULL : TileClass.PARTIAL);
    }
    return into;
  }

  /**
   * The neighborhood predicate for a permuted query position {@code i} and an original key
   * {@code j}: per axis, the key coordinate lies in the query's window and (with dilation) in its
   * group.
   */
  static final class PatchMask implements MaskMod {
    private final int n;
    private final int[] qlo;
    private final int[] qhi;
    private final int[] kc;
    private final int[] dil;
    private final boolean dilated;

    PatchMask(int n, int[] qlo, int[] qhi, int[] kc, int[] dil) {
      this.n = n;
      this.qlo = qlo;
      this.qhi = qhi;
      this.kc = kc;
      this.dil = dil.clone();
      boolean d = false;
      for (int x : dil) {
        d |= x != 1;
      }
      this.dilated = d;
    }

    @Override
    public boolean allows(int b, int h, int i, int j) {
      int qa = i * n;
      int ka = j * n;
      for (int a = 0; a < n; a++) {
        int y = kc[ka + a];
        int l = qlo[qa + a];
        if (y < l || y > qhi[qa + a]) {
          return false;
        }
        if (dilated && (y - l) % dil[a] != 0) {
          return false;
        }
      }
      return true;
    }
  }
}
