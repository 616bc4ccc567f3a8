package dev.attention4j.simd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.attention4j.core.Alignment;
import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionResult;
import dev.attention4j.core.DType;
import dev.attention4j.core.LseMerge;
import dev.attention4j.core.Tensor;
import dev.attention4j.core.TileClass;
import java.util.HashSet;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ForkJoinPool;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The engine's external entry points: caller-chosen key tiles and partial key ranges. */
class DenseEngineTest {

  static AttentionOptions options(int variant) {
    return switch (variant) {
      case 0 -> AttentionOptions.defaults();
      case 1 -> AttentionOptions.builder().causal(true).build();
      case 2 -> AttentionOptions.builder().window(40, 5).alignment(Alignment.TOP_LEFT)
          .softcap(8).build();
      default -> AttentionOptions.builder().causal(true).kvLens(170, 90)
          .alibiSlopes(0.1, 0.2, 0.3, 0.4).maskMod((b, h, i, j) -> (i + j) % 7 != 3).build();
    };
  }

  /**
   * K and V of one (batch, KV head) at {@link DenseEngine#ZIGZAG_MIN_BYTES}, so that every other
   * query tile sweeps its keys last to first: against the reference under each option set, with
   * query tiles of both parities (5 tiles of packed GQA rows), and the same bits on 1 and 2
   * threads.
   */
  @ParameterizedTest(name = "options {0}")
  @ValueSource(ints = {0, 1, 2})
  void longKeysSweptBackwardsOnOddTilesMatchTheReference(int variant) {
    long seed = 1100 + variant;
    System.out.println("seed " + seed);
    SplittableRandom rnd = new SplittableRandom(seed);
    int sk = (int) (DenseEngine.ZIGZAG_MIN_BYTES / (4 * (64 + 64)));
    Tensor q = Support.gaussian(rnd, DType.F32, 1, 1, 2, 101, 64);
    Tensor k = Support.gaussian(rnd, DType.F32, 1, 1, 1, sk, 64);
    Tensor v = Support.gaussian(rnd, DType.F32, 1, 1, 1, sk, 64);
    AttentionOptions o = options(variant);
    AttentionResult one = Support.check(new SimdAttention(new ForkJoinPool(1)), q, k, v, o,
        "Sk " + sk);
    AttentionResult two = Support.run(new SimdAttention(new ForkJoinPool(2)), q, k, v, o);
    assertArrayEquals(one.out().toFloatArray(), two.out().toFloatArray(), "1 and 2 threads");
    assertArrayEquals(one.lse().toFloatArray(), two.lse().toFloatArray(), "1 and 2 threads");
  }

  @ParameterizedTest(name = "options {0}")
  @ValueSource(ints = {0, 1, 2, 3})
  void splitKeyRangesMergeToTheFullResult(int variant) {
    long seed = 1000 + variant;
    System.out.println("seed " + seed);
    SplittableRandom rnd = new SplittableRandom(seed);
    Tensor q = Support.gaussian(rnd, DType.F32, 1, 2, 4, 33, 32);
    Tensor k = Support.gaussian(rnd, DType.F32, 1, 2, 2, 200, 32);
    Tensor v = Support.gaussian(rnd, DType.F32, 1, 2, 2, 200, 24);
    AttentionOptions o = options(variant);
    DenseEngine engine = new SimdAttention().engine(q, k, v, o);
    int[] cuts = {0, 1 + rnd.nextInt(60), 70 + rnd.nextInt(60), 200};
    Tensor out = Tensor.zeros(DType.F32, 2, 4, 33, 24);
    Tensor lse = Tensor.zeros(DType.F32, 2, 4, 33);
    Tensor partOut = Tensor.zeros(DType.F32, 2, 4, 33, 24);
    Tensor partLse = Tensor.zeros(DType.F32, 2, 4, 33);
    lse.fill(Double.NEGATIVE_INFINITY);
    for (int s = 0; s + 1 < cuts.length; s++) {
      for (int b = 0; b < 2; b++) {
        for (int g = 0; g < 2; g++) {
          for (int p0 = 0; p0 < engine.packedRows(); p0 += engine.tileRows()) {
            int p1 = Math.min(p0 + engine.tileRows(), engine.packedRows());
            engine.attendRange(b, g, p0, p1, cuts[s], cuts[s + 1], partOut, partLse);
          }
        }
      }
      LseMerge.merge(out, lse, partOut, partLse, out, lse);
    }
    Support.assertClose(Support.reference(q, k, v, o), new AttentionResult(out, lse),
        "merged split at " + cuts[1] + ", " + cuts[2]);
  }

  @ParameterizedTest(name = "options {0}")
  @ValueSource(ints = {0, 1, 2, 3})
  void externalTileListsAllPartialInOddChunks(int variant) {
    SplittableRandom rnd = new SplittableRandom(2000 + variant);
    Tensor q = Support.gaussian(rnd, DType.F32, 1, 2, 4, 33, 32);
    Tensor k = Support.gaussian(rnd, DType.F32, 1, 2, 2, 200, 32);
    Tensor v = Support.gaussian(rnd, DType.F32, 1, 2, 2, 200, 24);
    AttentionOptions o = options(variant);
    DenseEngine engine = DenseEngine.of(0, q, k, v, o);
    Tensor out = Tensor.zeros(DType.F32, 2, 4, 33, 24);
    Tensor lse = Tensor.zeros(DType.F32, 2, 4, 33);
    KeyTiles tiles = new KeyTiles();
    for (int j = 0; j < 200; j += 37) {
      tiles.add(j, Math.min(j + 37, 200), o.mask() == null ? TileClass.FULL : TileClass.PARTIAL);
    }
    // uneven query tiles, also crossing query heads of a group
    int[] starts = {0, 5, 40, 41};
    for (int b = 0; b < 2; b++) {
      for (int g = 0; g < 2; g++) {
        for (int t = 0; t < starts.length; t++) {
          int p1 = t + 1 < starts.length ? starts[t + 1] : engine.packedRows();
          engine.attend(b, g, starts[t], p1, tiles, out, lse);
        }
      }
    }
    Support.assertClose(Support.reference(q, k, v, o), new AttentionResult(out, lse),
        "external tiles " + tiles);
  }

  @Test
  void scheduleSkipsEmptyTilesAndMarksFullOnes() {
    Tensor q = Tensor.zeros(DType.F32, 1, 1, 512, 8);
    DenseEngine engine = DenseEngine.of(512, q, q, q,
        AttentionOptions.builder().causal(true).build());
    KeyTiles tiles = new KeyTiles();
    engine.schedule(0, 0, 200, 248, 0, 512, tiles);
    // keys 0..247 visible to some row: the tiles that end by key 201 full (row 200 sees keys
    // 0..200), then partial ones up to 248 (the last clipped), nothing after
    int t = DenseEngine.KEY_TILE;
    int full = 201 / t;
    int partial = (248 - full * t + t - 1) / t;
    assertEquals(full + partial, tiles.size(), tiles.toString());
    for (int i = 0; i < full + partial; i++) {
      assertEquals(i < full, tiles.isFull(i), "tile " + i + ": " + tiles);
      assertEquals(i * t, tiles.start(i), "tile " + i + ": " + tiles);
      assertEquals(Math.min(248, (i + 1) * t), tiles.end(i), "tile " + i + ": " + tiles);
    }
    assertThrows(IllegalArgumentException.class, () -> engine.attend(0, 0, 0, 49, tiles, q, null));
    assertThrows(IllegalArgumentException.class, () -> tiles.add(5, 4, TileClass.FULL));
  }

  /**
   * A hook sees tiles of the length it asks for, at multiples of it, and the rest is exact: for
   * query tiles of many rows and of the few rows of decoding (row mode).
   */
  @ParameterizedTest(name = "key tile {0}, Sq {1}")
  @CsvSource({"16, 20", "64, 20", "128, 20", "160, 20", "16, 1", "64, 1", "160, 1"})
  void hookKeyTileSetsTheTilesItSees(int keyTile, int sq) {
    SplittableRandom rnd = new SplittableRandom(keyTile);
    int sk = 300;
    Tensor q = Support.gaussian(rnd, DType.F32, 1, 1, 2, sq, 16);
    Tensor k = Support.gaussian(rnd, DType.F32, 1, 1, 2, sk, 16);
    Tensor v = Support.gaussian(rnd, DType.F32, 1, 1, 2, sk, 16);
    Set<String> seen = ConcurrentHashMap.newKeySet();
    TileHook hook = new TileHook() {
      @Override
      public void logits(int b, int g, int p0, int rows, int j0, int cols, float[] st, int ld) {
        seen.add(j0 + "+" + cols);
      }
    };
    DenseEngine engine = DenseEngine.of(0, q, k, v, AttentionOptions.defaults());
    Tensor out = Tensor.zeros(DType.F32, 1, 2, sq, 16);
    Tensor lse = Tensor.zeros(DType.F32, 1, 2, sq);
    engine.withHook(hook, keyTile).forwardSplit(ForkJoinPool.commonPool(), out, lse, 0);
    Set<String> expected = new HashSet<>();
    for (int j0 = 0; j0 < sk; j0 += keyTile) {
      expected.add(j0 + "+" + Math.min(keyTile, sk - j0));
    }
    assertEquals(expected, seen);
    Support.assertClose(Support.reference(q, k, v, AttentionOptions.defaults()),
        new AttentionResult(out, lse), "key tile " + keyTile + ", Sq " + sq);
  }

  /**
   * A query order moves where each query position's row is read and written, nothing else:
   * without a mask, position {@code i} read from and written to row {@code order[i]} gives
   * exactly the plain result, in tile mode, row mode (few rows) and with split keys. (Sq = 96
   * is whole tiles at every width: a row computed in a short tile, in row mode, could differ
   * in its last bit from the same row in a whole tile.)
   */
  @ParameterizedTest(name = "Sq {0}, chunk {1}, Q {2}")
  @CsvSource({"96, 0, F32", "96, 64, F32", "3, 0, F32", "3, 64, F32", "96, 0, F16"})
  void queryOrderMovesRowsOnly(int sq, int chunk, DType qType) {
    SplittableRandom rnd = new SplittableRandom(sq * 31L + chunk);
    int sk = 257;
    Tensor q = Support.gaussian(rnd, qType, 1, 2, 4, sq, 32);
    Tensor k = Support.gaussian(rnd, DType.F32, 1, 2, 2, sk, 32);
    Tensor v = Support.gaussian(rnd, DType.F32, 1, 2, 2, sk, 16);
    int[] order = new int[sq];
    for (int i = 0; i < sq; i++) {
      order[i] = i;
    }
    for (int i = sq - 1; i > 0; i--) {
      int j = rnd.nextInt(i + 1);
      int t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    DenseEngine engine = DenseEngine.of(0, q, k, v, AttentionOptions.defaults());
    Tensor out = Tensor.zeros(DType.F32, 2, 4, sq, 16);
    Tensor lse = Tensor.zeros(DType.F32, 2, 4, sq);
    engine.forwardSplit(ForkJoinPool.commonPool(), out, lse, chunk);
    Tensor out2 = Tensor.zeros(DType.F32, 2, 4, sq, 16);
    Tensor lse2 = Tensor.zeros(DType.F32, 2, 4, sq);
    engine.withQueryOrder(order).forwardSplit(ForkJoinPool.commonPool(), out2, lse2, chunk);
    for (int b = 0; b < 2; b++) {
      for (int h = 0; h < 4; h++) {
        for (int i = 0; i < sq; i++) {
          assertEquals(lse.getDouble(b, h, i), lse2.getDouble(b, h, i), "lse " + b + h + i);
          for (int e = 0; e < 16; e++) {
            assertEquals(out.getDouble(b, h, i, e), out2.getDouble(b, h, i, e),
                "out " + b + "," + h + "," + i + "," + e);
          }
        }
      }
    }
  }

  @Test
  void queryOrderMustMapEveryPositionToARow() {
    Tensor q = Tensor.zeros(DType.F32, 1, 1, 4, 8);
    DenseEngine engine = DenseEngine.of(0, q, q, q, AttentionOptions.defaults());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> engine.withQueryOrder(new int[] {0, 1, 2}));
    assertEquals("query order has 3 entries, Sq = 4", e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> engine.withQueryOrder(new int[] {0, 1, 4, 2}));
    assertEquals("query order[2] = 4 is outside [0, 4)", e.getMessage());
  }

  @Test
  void hookKeyTileMustBeAPositiveMultipleOf16() {
    Tensor q = Tensor.zeros(DType.F32, 1, 1, 4, 8);
    DenseEngine engine = DenseEngine.of(0, q, q, q, AttentionOptions.defaults());
    for (int bad : new int[] {0, -16, 24}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> engine.withHook(null, bad));
      assertEquals("keyTile must be a positive multiple of 16, got " + bad, e.getMessage());
    }
  }
}
