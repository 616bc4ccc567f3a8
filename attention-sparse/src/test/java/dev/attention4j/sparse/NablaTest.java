package dev.attention4j.sparse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.DType;
import dev.attention4j.core.AttentionResult;
import dev.attention4j.core.MaskMod;
import dev.attention4j.core.Tensor;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** NABLA against the float64 reference under an independently computed block map. */
class NablaTest {

  /** SEMANTICS.md "NABLA" in float64; {@code keep[h][x][y]}. */
  static boolean[][][] oracleKeep(Tensor q, Tensor k, int bs, double thr, double scale) {
    int hq = q.dim(1);
    int s = q.dim(2);
    int d = q.dim(3);
    int g = hq / k.dim(1);
    int nb = (s + bs - 1) / bs;
    boolean[][][] keep = new boolean[hq][nb][nb];
    for (int h = 0; h < hq; h++) {
      double[][] qa = new double[nb][d];
      double[][] ka = new double[nb][d];
      for (int t = 0; t < s; t++) {
        double cnt = Math.min(s, (t / bs + 1) * bs) - t / bs * bs;
        for (int e = 0; e < d; e++) {
          qa[t / bs][e] += q.getDouble(0, h, t, e) / cnt;
          ka[t / bs][e] += k.getDouble(0, h / g, t, e) / cnt;
        }
      }
      for (int x = 0; x < nb; x++) {
        double[] a = new double[nb];
        double sum = 0;
        for (int y = 0; y < nb; y++) {
          double dot = 0;
          for (int e = 0; e < d; e++) {
            dot += qa[x][e] * ka[y][e];
          }
          a[y] = Math.exp(scale * dot);
          sum += a[y];
        }
        for (int y = 0; y < nb; y++) {
          double c = 0;
          for (int z = 0; z < nb; z++) {
            // inclusive cumulative sum in ascending (value, index) order
            if (a[z] < a[y] || (a[z] == a[y] && z <= y)) {
              c += a[z] / sum;
            }
          }
          keep[h][x][y] = c >= 1 - thr;
        }
      }
    }
    return keep;
  }

  @ParameterizedTest(name = "bs {0} thr {1}")
  @CsvSource({"16, 0.7", "32, 0.5", "64, 0.9", "20, 0.3", "48, 0.6"})
  void matchesTheReference(int bs, double thr) {
    long seed = bs * 1000L + Math.round(thr * 100);
    System.out.println("NablaTest bs " + bs + " thr " + thr + " seed " + seed);
    SplittableRandom rnd = new SplittableRandom(seed);
    int s = 250;
    // sigma 3 makes the pooled map peaked enough to drop blocks
    Tensor q = Support.gaussian(rnd, 3, 1, 4, s, 16);
    Tensor k = Support.gaussian(rnd, 3, 1, 2, s, 16);
    Tensor v = Support.gaussian(rnd, 1, 1, 2, s, 8);
    AttentionOptions o = AttentionOptions.defaults();
    boolean[][][] keep = oracleKeep(q, k, bs, thr, 0.25);
    MaskMod m = (b, h, i, j) -> keep[h][i / bs][j / bs];
    NablaAttention nabla = new NablaAttention(bs, thr);
    AttentionResult got = nabla.forward(q, k, v, o);
    Support.assertClose(Support.reference(q, k, v, m, o), got.out(), got.lse(), "nabla");
    BlockMask bm = nabla.blockMask(q, k, o);
    int kept = 0;
    for (int h = 0; h < 4; h++) {
      for (int x = 0; x < bm.qBlocks(); x++) {
        for (int y = 0; y < bm.kBlocks(); y++) {
          assertEquals(keep[h][x][y], bm.classOf(0, h, x, y) != dev.attention4j.core.TileClass.EMPTY,
              "block " + h + "," + x + "," + y);
          kept += keep[h][x][y] ? 1 : 0;
        }
      }
    }
    System.out.println("  kept " + kept + " of " + 4 * bm.qBlocks() * bm.kBlocks());
  }

  @Test
  void tiedBlocksAreDroppedInIndexOrder() {
    // every key block holds the same rows, so each query block's pooled probabilities are all
    // 1/8 (up to rounding): ascending (value, index) order is index order, the running sums are
    // r/8, and at threshold 0.55 (drop while the sum stays below 0.45) blocks 0..2 are dropped
    // and 3..7 kept
    int bs = 4;
    int s = 32;
    SplittableRandom rnd = new SplittableRandom(808);
    Tensor q = Support.gaussian(rnd, 1, 1, 1, s, 8);
    Tensor row = Support.gaussian(rnd, 1, 1, 1, bs, 8);
    Tensor k = Tensor.zeros(DType.F32, 1, 1, s, 8);
    for (int t = 0; t < s; t++) {
      for (int e = 0; e < 8; e++) {
        k.set(row.getDouble(0, 0, t % bs, e), 0, 0, t, e);
      }
    }
    AttentionOptions o = AttentionOptions.builder().scale(0.25).build();
    boolean[][][] keep = oracleKeep(q, k, bs, 0.55, 0.25);
    BlockMask bm = new NablaAttention(bs, 0.55).blockMask(q, k, o);
    for (int x = 0; x < 8; x++) {
      for (int y = 0; y < 8; y++) {
        assertEquals(y >= 3, keep[0][x][y], "oracle block " + x + "," + y);
        assertEquals(y >= 3, bm.classOf(0, 0, x, y) != dev.attention4j.core.TileClass.EMPTY,
            "block " + x + "," + y);
      }
    }
  }

  @Test
  void thresholdOneAndFullWindowsAreDenseAndKeptSetsAreMonotone() {
    SplittableRandom rnd = new SplittableRandom(21);
    System.out.println("thresholdOne seed 21");
    Tensor q = Support.gaussian(rnd, 3, 1, 2, 256, 16);
    Tensor k = Support.gaussian(rnd, 3, 1, 2, 256, 16);
    Tensor v = Support.gaussian(rnd, 1, 1, 2, 256, 16);
    AttentionOptions o = AttentionOptions.defaults();
    AttentionResult dense = Support.reference(q, k, v, null, o);
    AttentionResult one = new NablaAttention(32, 1.0).forward(q, k, v, o);
    Support.assertClose(dense, one.out(), one.lse(), "thr 1");
    // 8 blocks as a 2x4 block grid; windows 3x7 cover everything from anywhere
    NablaAttention sta = new NablaAttention(32, 0.01, new int[] {2, 4}, new int[] {3, 7},
        new dev.attention4j.simd.SimdAttention());
    AttentionResult all = sta.forward(q, k, v, o);
    Support.assertClose(dense, all.out(), all.lse(), "STA covering the grid");
    double[] thr = {0.2, 0.5, 0.8, 0.95};
    BlockMask prev = null;
    for (double t : thr) {
      BlockMask bm = new NablaAttention(16, t).blockMask(q, k, o);
      for (int h = 0; h < 2; h++) {
        for (int x = 0; x < 16; x++) {
          boolean any = false;
          for (int y = 0; y < 16; y++) {
            boolean kept = bm.classOf(0, h, x, y) != dev.attention4j.core.TileClass.EMPTY;
            any |= kept;
            if (prev != null && prev.classOf(0, h, x, y) != dev.attention4j.core.TileClass.EMPTY) {
              assertTrue(kept, "monotone in thr at " + t);
            }
          }
          assertTrue(any, "the largest block is always kept");
        }
      }
      prev = bm;
    }
  }

  @Test
  void emptyBatchOrHeadsGiveEmptyOutputsInBothKernels() {
    NablaAttention nabla = new NablaAttention(4, 0.5);
    for (int[] bh : new int[][] {{0, 2, 1}, {1, 0, 1}}) {
      Tensor q = Tensor.zeros(DType.F32, bh[0], bh[1], 8, 4);
      Tensor k = Tensor.zeros(DType.F32, bh[0], bh[2], 8, 4);
      AttentionResult fast = nabla.forward(q, k, k, AttentionOptions.defaults());
      AttentionResult ref = nabla.reference().forward(q, k, k, AttentionOptions.defaults());
      assertEquals(0, fast.out().size());
      assertEquals(0, ref.out().size());
      assertEquals(0, ref.lse().size());
    }
  }

  @Test
  void blockSizesUpToIntMaxAreOneBlock() {
    // the block count is ceil(S / Bs) without overflow: one block, kept, so dense attention
    SplittableRandom rnd = new SplittableRandom(32);
    System.out.println("NABLA blockSizesUpToIntMax seed 32");
    Tensor q = Support.gaussian(rnd, 1, 1, 2, 70, 8);
    Tensor k = Support.gaussian(rnd, 1, 1, 2, 70, 8);
    Tensor v = Support.gaussian(rnd, 1, 1, 2, 70, 8);
    AttentionOptions o = AttentionOptions.defaults();
    AttentionResult dense = Support.reference(q, k, v, null, o);
    for (int bs : new int[] {Integer.MAX_VALUE, Integer.MAX_VALUE - 1, (1 << 30) + 1}) {
      AttentionResult r = new NablaAttention(bs, 0.3).forward(q, k, v, o);
      Support.assertClose(dense, r.out(), r.lse(), "block size " + bs);
    }
  }

  @Test
  void tinyThresholdsStillKeepTheLargestBlock() {
    // below about 1.1e-16, 1 - thr rounds to 1.0 and the rounded running sum of a row may end
    // just under it: the row's largest block (the last in (value, index) order, whose exact
    // cumulative sum is 1) must be kept anyway, and only it
    SplittableRandom rnd = new SplittableRandom(31);
    System.out.println("tinyThresholds seed 31");
    Tensor q = Support.gaussian(rnd, 2, 1, 2, 70, 8);
    Tensor k = Support.gaussian(rnd, 2, 1, 1, 70, 8);
    AttentionOptions o = AttentionOptions.defaults();
    for (double thr : new double[] {1e-17, 1e-300, Double.MIN_VALUE}) {
      BlockMask bm = new NablaAttention(7, thr).blockMask(q, k, o);
      boolean[][][] near = oracleKeep(q, k, 7, 1e-12, 1 / Math.sqrt(8));
      for (int h = 0; h < 2; h++) {
        for (int x = 0; x < 10; x++) {
          int kept = 0;
          for (int y = 0; y < 10; y++) {
            boolean in = bm.classOf(0, h, x, y) != dev.attention4j.core.TileClass.EMPTY;
            kept += in ? 1 : 0;
            // thr = 1e-12 keeps exactly the largest block here (no other block has mass 1e-12)
            assertEquals(near[h][x][y], in, "thr " + thr + " block " + h + "," + x + "," + y);
          }
          assertEquals(1, kept, "thr " + thr + " row " + h + "," + x);
        }
      }
    }
  }

  @Test
  void slidingTileWindowWithTruncatedBorders() {
    SplittableRandom rnd = new SplittableRandom(22);
    System.out.println("slidingTileWindow seed 22");
    // video latent 2 frames x 16 x 16, patches of 8x8 -> block grid (2, 2, 2)
    TokenPermutation p = TokenPermutation.videoPatches(2, 16, 16);
    Tensor q = p.permute(Support.gaussian(rnd, 3, 1, 2, 512, 16));
    Tensor k = p.permute(Support.gaussian(rnd, 3, 1, 2, 512, 16));
    Tensor v = Support.gaussian(rnd, 1, 1, 2, 512, 16);
    AttentionOptions o = AttentionOptions.defaults();
    double thr = 0.3;
    boolean[][][] keep = oracleKeep(q, k, 64, thr, 0.25);
    // window 1x3x1: same frame, |d patch row| <= 1, same patch column
    MaskMod m = (b, h, i, j) -> {
      int x = i / 64;
      int y = j / 64;
      boolean win = x / 4 == y / 4 && x % 2 == y % 2;
      return keep[h][x][y] || win;
    };
    AttentionResult got = new NablaAttention(64, thr, new int[] {2, 2, 2}, new int[] {1, 3, 1},
        new dev.attention4j.simd.SimdAttention()).forward(q, k, v, o);
    Support.assertClose(Support.reference(q, k, v, m, o), got.out(), got.lse(), "nabla + sta");
    int[] order = p.order();
    // block 1 = frame 0, patch row 0, patch column 1
    assertEquals(8, order[64]);
    assertEquals(16 * 8, order[128]);
    assertThrows(IllegalArgumentException.class, () -> TokenPermutation.videoPatches(2, 12, 16));
    assertThrows(IllegalArgumentException.class, () -> new NablaAttention(64, 0));
    assertThrows(IllegalArgumentException.class, () -> new NablaAttention(64, 1.5));
  }
}
