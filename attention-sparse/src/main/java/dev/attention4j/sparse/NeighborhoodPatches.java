package dev.attention4j.sparse;

import dev.attention4j.core.TileClass;
import dev.attention4j.simd.BoxMask;
import dev.attention4j.simd.KeyTiles;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The permuted execution plan of a neighborhood (GNA's multi-dimensional tiles, kernel-notes
 * §3.3). Queries, keys and values are reordered by one {@link TokenPermutation}: the grid is cut
 * into patches (for example 8x8 in 2-D), each contiguous and row-major inside. An engine query
 * tile is a slab of whole rows of one patch (at most {@code tileRows} queries, for example two
 * 4x8 slabs of an 8x8 patch at 512 bits), so its windows reach a small box of keys, and that box
 * is visited patch by patch: in each key patch only the rows (first axis) the box reaches, one
 * contiguous range, classified exactly for the slab (FULL when every query sees every key of the
 * range, no mask work; PARTIAL otherwise); adjacent ranges of one class are merged into one run.
 * With {@code stride == kernel} and windows aligned to the patches (Swin), every slab sees one
 * FULL run.
 *
 * <p>The patch shape minimises an estimate of the engine's work over the whole grid (keys
 * visited times query vectors, plus a cost per run). The key runs of every query tile are computed
 * once per plan (they depend only on the neighborhood and the tile size) and shared read-only by
 * all threads. PARTIAL runs are masked by a {@link BoxMask} in permuted positions, which the engine
 * evaluates with vector compares. Memory: {@code O(n S)} ints and floats plus the key runs.
 * Immutable and thread-safe.
 */
final class NeighborhoodPatches {

  /** Estimated cost of a run, in keys (softmax rescale per tile, tails of 8-key blocks). */
  private static final int RUN_COST = 16;
  /** Estimated cost of a query tile, in keys (packing the queries, writing the rows). */
  private static final int TILE_COST = 32;
  /** The patch lengths tried on each axis (and the whole axis). */
  private static final int[] SIZES = {1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40,
      48, 56, 64};
  /** Query vectors of a full engine tile. */
  private static final int TILE_VECTORS = 3;
  /**
   * Relative cost of a key for a query tile of 1, 2 or 3 vectors of rows: measured on the dense
   * engine (16, 32 and 48 query rows against 512 keys in cache: 47, 70 and 94 us), the narrower
   * microkernels do less work per key but more per flop. One vector is costed 1.7, not the 1.5 of
   * that measurement: on short key runs (Swin's 64 keys) its kernels took 1.7 times the time per
   * row of the three-vector ones (JFR), and with 1.7 a 64-token window runs as 32 + 32 rows
   * instead of 48 + 16, which was 0.8-5.7 % faster in four one-JVM comparisons (8x8 windows on a
   * 64x64 grid, medians 16.5-17.9 ms against 17.3-18.3); the 13x13 neighborhood is unchanged.
   */
  private static final double[] VECTOR_COST = {0, 1.7, 2.25, 3};

  final int tileRows;
  /** The patch (permutation tile) shape. */
  final int[] patch;
  final TokenPermutation permutation;
  /** {@code order[t]} = original token at permuted position {@code t}. */
  final int[] order;
  /** Starts of the query tiles in permuted positions, then the token count. */
  final int[] starts;
  /** The key runs of each query tile, in permuted positions (read-only once built). */
  final KeyTiles[] keys;
  /** The neighborhood predicate in permuted positions (queries and keys alike). */
  final BoxMask mask;
  /** Keys visited by all query tiles together, per token (1 would be every key visited once). */
  final double visitsPerKey;

  private final int n;
  private final int[] grid;
  private final int[] dil;
  /** Per axis and grid coordinate, the window in grid coordinates (with its dilation group). */
  private final int[][] lo;
  private final int[][] hi;
  /** Number of patches per axis, and the permuted position where each patch starts. */
  private final int[] count;
  private final int[] patchStart;

  NeighborhoodPatches(Neighborhood nb, int tileRows) {
    this.tileRows = tileRows;
    this.n = nb.rank();
    this.grid = nb.grid();
    this.dil = nb.dilation();
    this.lo = new int[n][];
    this.hi = new int[n][];
    for (int a = 0; a < n; a++) {
      lo[a] = new int[grid[a]];
      hi[a] = new int[grid[a]];
      for (int x = 0; x < grid[a]; x++) {
        int[] w = nb.window(a, x);
        lo[a][x] = w[0] * dil[a] + x % dil[a];
        hi[a][x] = w[1] * dil[a] + x % dil[a];
      }
    }
    int[] chosen = choosePatch(grid, lo, hi, tileRows);
    this.patch = Arrays.copyOf(chosen, n);
    // query tiles of about this many rows (fewer in the patches cut by the grid's edges)
    long innerFull = 1;
    for (int a = 1; a < n; a++) {
      innerFull *= patch[a];
    }
    int tileTarget = (int) Math.min(tileRows, chosen[n] * innerFull);
    this.permutation = TokenPermutation.tiles(grid, patch);
    this.order = permutation.order();
    this.mask = boxMask(nb, order);
    this.count = new int[n];
    int patches = 1;
    for (int a = 0; a < n; a++) {
      count[a] = (grid[a] + patch[a] - 1) / patch[a];
      patches *= count[a];
    }
    // patches in row-major order of their coordinates, each contiguous
    this.patchStart = new int[patches];
    List<Integer> tileStarts = new ArrayList<>();
    List<KeyTiles> tileKeys = new ArrayList<>();
    int[] p0 = new int[n];
    int[] p1 = new int[n];
    int pos = 0;
    for (int id = 0; id < patches; id++) {
      patchBox(id, p0, p1);
      patchStart[id] = pos;
      int inner = 1;
      for (int a = 1; a < n; a++) {
        inner *= p1[a] - p0[a];
      }
      pos += (p1[0] - p0[0]) * inner;
    }
    int[] t0 = new int[n];
    int[] t1 = new int[n];
    for (int id = 0; id < patches; id++) {
      patchBox(id, p0, p1);
      int inner = 1;
      for (int a = 1; a < n; a++) {
        inner *= p1[a] - p0[a];
      }
      int slab = Math.max(1, tileTarget / inner);
      System.arraycopy(p0, 0, t0, 0, n);
      System.arraycopy(p1, 0, t1, 0, n);
      for (int y = p0[0]; y < p1[0]; y += slab) {
        t0[0] = y;
        t1[0] = Math.min(p1[0], y + slab);
        tileStarts.add(patchStart[id] + (y - p0[0]) * inner);
        tileKeys.add(plan(t0, t1));
      }
    }
    this.starts = new int[tileStarts.size() + 1];
    for (int t = 0; t < tileStarts.size(); t++) {
      starts[t] = tileStarts.get(t);
    }
    starts[tileStarts.size()] = pos;
    this.keys = tileKeys.toArray(new KeyTiles[0]);
    long visited = 0;
    for (KeyTiles t : keys) {
      for (int r = 0; r < t.size(); r++) {
        visited += t.end(r) - t.start(r);
      }
    }
    this.visitsPerKey = (double) visited / order.length;
  }

  /** The grid box {@code [p0, p1)} of patch {@code id} (row-major over the patch coordinates). */
  private void patchBox(int id, int[] p0, int[] p1) {
    int rest = id;
    for (int a = n - 1; a >= 0; a--) {
      int c = rest % count[a];
      rest /= count[a];
      p0[a] = c * patch[a];
      p1[a] = Math.min(grid[a], p0[a] + patch[a]);
    }
  }

  /**
   * The neighborhood as interval tests on the permuted tokens: per axis, the key coordinate lies
   * in the query's window; a dilated axis is two tests (same dilation group, then the in-group
   * index in the in-group window).
   */
  private static BoxMask boxMask(Neighborhood nb, int[] order) {
    int n = nb.rank();
    int[] grid = nb.grid();
    int tokens = order.length;
    int axes = 0;
    for (int a = 0; a < n; a++) {
      axes += nb.dilation(a) == 1 ? 1 : 2;
    }
    int[][] qlo = new int[axes][tokens];
    int[][] qhi = new int[axes][tokens];
    int[][] key = new int[axes][tokens];
    int[] step = new int[n];
    for (int a = n - 1, s = 1; a >= 0; s *= grid[a], a--) {
      step[a] = s;
    }
    for (int a = 0, ax = 0; a < n; a++) {
      int d = nb.dilation(a);
      for (int t = 0; t < tokens; t++) {
        int x = (order[t] / step[a]) % grid[a];
        int[] w = nb.window(a, x);
        if (d == 1) {
          qlo[ax][t] = w[0];
          qhi[ax][t] = w[1];
          key[ax][t] = x;
        } else {
          qlo[ax][t] = x % d;
          qhi[ax][t] = x % d;
          key[ax][t] = x % d;
          qlo[ax + 1][t] = w[0];
          qhi[ax + 1][t] = w[1];
          key[ax + 1][t] = x / d;
        }
      }
      ax += d == 1 ? 1 : 2;
    }
    return new BoxMask(qlo, qhi, key);
  }

  /** The exact key runs of the query box {@code [t0, t1)} (grid coordinates). */
  private KeyTiles plan(int[] t0, int[] t1) {
    // per axis: the union and the intersection of the queries' windows
    int[] u0 = new int[n];
    int[] u1 = new int[n];
    int[] f0 = new int[n];
    int[] f1 = new int[n];
    int[] c0 = new int[n];
    int[] c1 = new int[n];
    for (int a = 0; a < n; a++) {
      u0[a] = Integer.MAX_VALUE;
      u1[a] = Integer.MIN_VALUE;
      f0[a] = Integer.MIN_VALUE;
      f1[a] = Integer.MAX_VALUE;
      for (int x = t0[a]; x < t1[a]; x++) {
        u0[a] = Math.min(u0[a], lo[a][x]);
        u1[a] = Math.max(u1[a], hi[a][x]);
        f0[a] = Math.max(f0[a], lo[a][x]);
        f1[a] = Math.min(f1[a], hi[a][x]);
      }
      c0[a] = u0[a] / patch[a];
      c1[a] = u1[a] / patch[a];
    }
    KeyTiles into = new KeyTiles();
    int[] c = c0.clone();
    int[] k0 = new int[n];
    int[] k1 = new int[n];
    int runStart = -1;
    int runEnd = -1;
    boolean runFull = false;
    while (true) {
      int id = 0;
      int inner = 1;
      for (int a = 0; a < n; a++) {
        id = id * count[a] + c[a];
        k0[a] = c[a] * patch[a];
        k1[a] = Math.min(grid[a], k0[a] + patch[a]);
        if (a > 0) {
          inner *= k1[a] - k0[a];
        }
      }
      // the rows of this patch that the box reaches, one contiguous range
      int y0 = Math.max(k0[0], u0[0]);
      int y1 = Math.min(k1[0] - 1, u1[0]);
      boolean full = true;
      for (int a = 0; a < n && full; a++) {
        // the range holds rows y0..y1 of the patch, each with the patch's whole inner extent
        int from = a == 0 ? y0 : k0[a];
        int to = a == 0 ? y1 : k1[a] - 1;
        full = dil[a] == 1 && f0[a] <= from && to <= f1[a];
      }
      int j0 = patchStart[id] + (y0 - k0[0]) * inner;
      int j1 = patchStart[id] + (y1 - k0[0] + 1) * inner;
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
      int a = n - 1;
      while (a >= 0 && c[a] == c1[a]) {
        c[a] = c0[a];
        a--;
      }
      if (a < 0) {
        break;
      }
      c[a]++;
    }
    into.add(runStart, runEnd, runFull ? TileClass.FULL : TileClass.PARTIAL);
    return into;
  }

  /**
   * The patch shape and the slab height: per-axis lengths (whole rows of a patch beyond the first
   * axis at most {@code tileRows} tokens), then the rows of the first axis per query tile (the
   * most that fit, or fewer whose tokens fill whole vectors). Chosen to minimise the estimated
   * engine work over the grid: for every query tile, (keys visited + a cost per run and per tile)
   * x the measured cost of the tile's query vectors ({@link #VECTOR_COST}). The estimate is
   * exact for the visited keys and the runs of unmerged patches; it is a sum of per-axis terms,
   * so it costs O(tiles) per candidate.
   *
   * @return the patch lengths, then the slab height
   */
  static int[] choosePatch(int[] grid, int[][] lo, int[][] hi, int tileRows) {
    int n = grid.length;
    int lanes = Math.max(1, tileRows / TILE_VECTORS);
    int[][] sizes = new int[n][];
    for (int a = 0; a < n; a++) {
      int g = grid[a];
      sizes[a] = Arrays.stream(SIZES).filter(x -> x < g).toArray();
      sizes[a] = Arrays.copyOf(sizes[a], sizes[a].length + 1);
      sizes[a][sizes[a].length - 1] = g;
    }
    int[] best = null;
    double bestCost = Double.POSITIVE_INFINITY;
    Map<Long, int[][]> memo = new HashMap<>();
    int[] p = new int[n];
    int[] pick = new int[n];
    while (true) {
      for (int a = 0; a < n; a++) {
        p[a] = sizes[a][pick[a]];
      }
      long inner = 1;
      for (int a = 1; a < n; a++) {
        inner *= p[a];
      }
      if (inner <= tileRows) {
        // slabs of the most rows that fit a tile, or of fewer rows filling whole vectors
        int most = (int) Math.max(1, tileRows / inner);
        for (int slab = most; slab >= 1; slab--) {
          if (slab != most && (slab * inner) % lanes != 0) {
            continue;
          }
          double cost = cost(grid, lo, hi, p, slab, lanes, memo);
          if (cost < bestCost - 1e-9) {
            bestCost = cost;
            best = Arrays.copyOf(p, n + 1);
            best[n] = slab;
          }
        }
      }
      int a = n - 1;
      while (a >= 0 && pick[a] == sizes[a].length - 1) {
        pick[a] = 0;
        a--;
      }
      if (a < 0) {
        break;
      }
      pick[a]++;
    }
    return best;
  }

  /** The work estimate of patch shape {@code p} with slabs of {@code slab} rows on axis 0. */
  private static double cost(int[] grid, int[][] lo, int[][] hi, int[] p, int slab, int lanes,
      Map<Long, int[][]> memo) {
    int n = grid.length;
    // per axis, per query interval: its length, the keys covered and the key patches touched
    int[][][] parts = new int[3][][];
    for (int a = 0; a < 3; a++) {
      if (a >= n) {
        parts[a] = new int[][] {{1, 1, 1, 1}};
        continue;
      }
      int step = a == 0 ? slab : p[a];
      int axis = a;
      parts[a] = memo.computeIfAbsent(((long) a << 40) | ((long) p[a] << 20) | step,
          key -> axisParts(grid[axis], lo[axis], hi[axis], p[axis], step, axis == 0));
    }
    // grouped by piece length: {length, pieces, sum of keys covered, sum of patches touched}
    int[][] x = parts[0];
    int[][] y = parts[1];
    int[][] z = parts[2];
    double total = 0;
    for (int[] i : x) {
      for (int[] j : y) {
        for (int[] k : z) {
          int rows = i[0] * j[0] * k[0];
          double keys = (double) i[2] * j[2] * k[2]
              + RUN_COST * (double) i[3] * j[3] * k[3]
              + TILE_COST * (double) i[1] * j[1] * k[1];
          total += keys * VECTOR_COST[Math.min(TILE_VECTORS, (rows + lanes - 1) / lanes)];
        }
      }
    }
    return total;
  }

  /**
   * The query intervals of one axis (patches of {@code p}, cut into pieces of {@code step}),
   * grouped by length: {@code {length, pieces, keys covered, key patches touched}}, the keys
   * covered being the exact union of the windows on the first axis (whose key range is cut to it)
   * and whole key patches on the others. The sums over the groups factor the cost estimate.
   */
  private static int[][] axisParts(int g, int[] lo, int[] hi, int p, int step, boolean first) {
    Map<Integer, int[]> byLength = new java.util.TreeMap<>();
    for (int s0 = 0; s0 < g; s0 += p) {
      int s1 = Math.min(g, s0 + p);
      for (int x0 = s0; x0 < s1; x0 += step) {
        int x1 = Math.min(s1, x0 + step);
        int u0 = Integer.MAX_VALUE;
        int u1 = Integer.MIN_VALUE;
        for (int x = x0; x < x1; x++) {
          u0 = Math.min(u0, lo[x]);
          u1 = Math.max(u1, hi[x]);
        }
        int firstPatch = u0 / p;
        int lastPatch = u1 / p;
        int[] sum = byLength.computeIfAbsent(x1 - x0, len -> new int[] {len, 0, 0, 0});
        sum[1]++;
        sum[2] += first ? u1 - u0 + 1 : Math.min(g, (lastPatch + 1) * p) - firstPatch * p;
        sum[3] += lastPatch - firstPatch + 1;
      }
    }
    return byLength.values().toArray(new int[0][]);
  }
}
