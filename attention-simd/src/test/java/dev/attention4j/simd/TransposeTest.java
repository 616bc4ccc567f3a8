package dev.attention4j.simd;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The query-tile packing and the accumulator unpacking of the tile kernels
 * ({@link Micro#packTransposed}, {@link Micro#unpackTransposed16}, {@link Micro#turn16}) against
 * element-by-element index arithmetic, at every vector width, with row counts and head dims that
 * leave partial row vectors and partial column blocks.
 */
class TransposeTest {

  @ParameterizedTest(name = "{0} bits, {1} rows, d = {2}")
  @CsvSource({"128, 1, 1", "128, 7, 13", "128, 12, 64", "256, 8, 64", "256, 17, 80",
      "256, 24, 3", "512, 1, 128", "512, 16, 16", "512, 33, 96", "512, 48, 13", "512, 47, 257",
      "512, 32, 128", "512, 5, 15"})
  void queryTileIsPackedScaledAndZeroPadded(int bits, int rows, int d) {
    Lanes w = Lanes.of(bits);
    int br = Micro.TILE_VECTORS * w.species().length();
    SplittableRandom rnd = new SplittableRandom(bits * 1000L + rows * 31L + d);
    // rows scattered over a larger array in a shuffled order, with a gap after each
    int stride = d + 5;
    float[] x = new float[stride * (rows + 3)];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) rnd.nextGaussian();
    }
    int[] rowOff = new int[br];
    for (int r = 0; r < rows; r++) {
      rowOff[r] = ((r * 7 + 3) % (rows + 3)) * stride + 2;
    }
    float scale = 0.37f;
    float[] qt = new float[d * br];
    Arrays.fill(qt, Float.NaN);
    Micro.packTransposed(w, x, rowOff, rows, d, scale, qt);
    for (int e = 0; e < d; e++) {
      for (int r = 0; r < br; r++) {
        float want = r < rows ? x[rowOff[r] + e] * scale : 0f;
        assertEquals(want, qt[e * br + r], 0f, "row " + r + ", column " + e);
      }
    }
  }

  @ParameterizedTest(name = "{0} rows, dv = {1}")
  @CsvSource({"1, 1", "7, 13", "16, 16", "17, 80", "33, 96", "48, 128", "47, 257", "32, 15"})
  void accumulatorIsUnpackedRowMajor(int rows, int dv) {
    int br = Micro.TILE_VECTORS * 16;
    SplittableRandom rnd = new SplittableRandom(rows * 31L + dv);
    float[] ot = new float[dv * br];
    for (int i = 0; i < ot.length; i++) {
      ot[i] = (float) rnd.nextGaussian();
    }
    int[] cols = new int[16];
    for (int c = 0; c < 16; c++) {
      cols[c] = c * br;
    }
    float[] dst = new float[br * dv];
    Arrays.fill(dst, Float.NaN);
    Micro.unpackTransposed16(ot, rows, dv, cols, dst);
    for (int r = 0; r < rows; r++) {
      for (int e = 0; e < dv; e++) {
        assertEquals(ot[e * br + r], dst[r * dv + e], 0f, "row " + r + ", column " + e);
      }
    }
  }
}
