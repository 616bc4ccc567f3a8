package dev.attention4j.sparse;

import dev.attention4j.core.Tensor;
import dev.attention4j.simd.DenseEngine;
import dev.attention4j.simd.KeyTiles;
import java.util.concurrent.ForkJoinPool;

/**
 * The loop every sparse kernel shares: cut the packed query rows of each (batch, KV head) into
 * engine query tiles, let the kernel's {@link Planner} list the key tiles of each query tile, and
 * hand them to {@link DenseEngine#attend}. The tile loop itself is the engine's; nothing here
 * touches scores or values.
 */
final class TileDriver {

  /** Lists the key tiles (FULL or PARTIAL) that query rows {@code [p0, p1)} must visit. */
  interface Planner {
    void plan(int b, int g, int p0, int p1, KeyTiles into);
  }

  private static final ThreadLocal<KeyTiles> TILES = ThreadLocal.withInitial(KeyTiles::new);

  private TileDriver() {
  }

  /**
   * Starts of the query tiles of one (batch, KV head), followed by the end ({@code G * Sq}).
   * With {@code Sq >= tileRows}, tiles never cross a query head or a multiple of {@code segment}
   * (a query block, a grid line): each segment is cut into tiles of at most {@code tileRows}
   * rows. With shorter sequences (decoding), tiles pack the rows of several heads.
   */
  static int[] tileStarts(int qLen, int group, int tileRows, int segment, boolean packHeads) {
    int packed = qLen * group;
    int[] starts = new int[Math.max(1, packed) + 1];
    int n = 0;
    if (qLen >= tileRows || !packHeads) {
      for (int hl = 0; hl < group; hl++) {
        for (int s0 = 0; s0 < qLen; s0 += segment) {
          int s1 = Math.min(s0 + segment, qLen);
          for (int i = s0; i < s1; i += tileRows) {
            starts[n++] = hl * qLen + i;
          }
        }
      }
    } else {
      for (int p = 0; p < packed; p += tileRows) {
        starts[n++] = p;
      }
    }
    starts[n++] = packed;
    return java.util.Arrays.copyOf(starts, n);
  }

  /** Segment length for a natural unit (query block, grid line) of {@code unit} rows. */
  static int segment(int unit, int tileRows) {
    return unit >= tileRows ? unit : Math.max(1, tileRows / unit) * unit;
  }

  /** Runs every query tile of every (batch, KV head) on {@code pool}. */
  static void run(ForkJoinPool pool, DenseEngine engine, int[] starts, Planner planner,
      Tensor out, Tensor lse) {
    int batch = engine.shape().batch();
    int kvHeads = engine.shape().kvHeads();
    int perGroup = starts.length - 1;
    long total = (long) batch * kvHeads * perGroup;
    if (total > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("too many query tiles: " + total);
    }
    Parallel.forEach(pool, (int) total, t -> {
      int bg = t / perGroup;
      int tile = t % perGroup;
      int b = bg / kvHeads;
      int g = bg % kvHeads;
      KeyTiles tiles = TILES.get();
      tiles.clear();
      planner.plan(b, g, starts[tile], starts[tile + 1], tiles);
      engine.attend(b, g, starts[tile], starts[tile + 1], tiles, out, lse);
    });
  }
}
