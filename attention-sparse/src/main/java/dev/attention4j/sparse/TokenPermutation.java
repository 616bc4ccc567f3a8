package dev.attention4j.sparse;

import dev.attention4j.core.Tensor;
import java.util.Arrays;

/**
 * A reordering of the tokens of an n-D grid (row-major) so that each tile of a chosen shape is
 * contiguous: tiles in row-major order of their tile coordinates, tokens row-major inside a tile;
 * edge tiles may be smaller. GNA's "token permute" (kernel-notes §3.3): after it, a neighborhood
 * or window pattern becomes block-sparse along the sequence (Swin windows, {@code stride == kernel}
 * and tiles equal to the kernel, are then exactly block-diagonal), and NABLA's 8x8 spatial patches
 * per video frame become its 64-token blocks ({@link #videoPatches}).
 *
 * <p>{@link #order()}{@code [t]} is the original token at new position {@code t};
 * {@link #permute} and {@link #unpermute} copy {@code [B, H, S, D]} tensors along the sequence
 * axis ({@code O(S)} ints and one copy of the tensor). Immutable.
 */
public final class TokenPermutation {

  private final int[] order;
  private final int[] inverse;

  private TokenPermutation(int[] order) {
    this.order = order;
    this.inverse = new int[order.length];
    for (int t = 0; t < order.length; t++) {
      inverse[order[t]] = t;
    }
  }

  /**
   * Contiguous tiles of shape {@code tile} on {@code grid} (1 to 3 axes, first outermost).
   *
   * @throws IllegalArgumentException naming the axis if a length or tile size is below 1
   */
  public static TokenPermutation tiles(int[] grid, int[] tile) {
    if (grid.length < 1 || grid.length > 3 || tile.length != grid.length) {
      throw new IllegalArgumentException("grid " + Arrays.toString(grid) + " and tile "
          + Arrays.toString(tile) + " need the same rank, 1 to 3");
    }
    int n = grid.length;
    long tokens = 1;
    for (int a = 0; a < n; a++) {
      if (grid[a] < 1 || tile[a] < 1) {
        throw new IllegalArgumentException("axis " + a + ": grid length " + grid[a]
            + " and tile size " + tile[a] + " must be >= 1");
      }
      tokens *= grid[a];
    }
    if (tokens > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("grid " + Arrays.toString(grid) + " has too many tokens");
    }
    int[] g = Arrays.copyOf(grid, 3);
    int[] tl = Arrays.copyOf(tile, 3);
    for (int a = n; a < 3; a++) {
      g[a] = 1;
      tl[a] = 1;
    }
    int[] order = new int[(int) tokens];
    int at = 0;
    for (int t0 = 0; t0 < g[0]; t0 += tl[0]) {
      for (int t1 = 0; t1 < g[1]; t1 += tl[1]) {
        for (int t2 = 0; t2 < g[2]; t2 += tl[2]) {
          for (int x0 = t0; x0 < Math.min(t0 + tl[0], g[0]); x0++) {
            for (int x1 = t1; x1 < Math.min(t1 + tl[1], g[1]); x1++) {
              for (int x2 = t2; x2 < Math.min(t2 + tl[2], g[2]); x2++) {
                order[at++] = (x0 * g[1] + x1) * g[2] + x2;
              }
            }
          }
        }
      }
    }
    return new TokenPermutation(order);
  }

  /**
   * NABLA's ordering of a video latent {@code (T, H, W)}: every 64 consecutive tokens are an
   * 8x8 spatial patch of one frame (frame, patch row, patch column, then row-major inside).
   *
   * @throws IllegalArgumentException if {@code H} or {@code W} is not a multiple of 8
   */
  public static TokenPermutation videoPatches(int frames, int height, int width) {
    if (height % 8 != 0 || width % 8 != 0 || frames < 1 || height < 8 || width < 8) {
      throw new IllegalArgumentException("video latent (" + frames + ", " + height + ", " + width
          + "): height and width must be positive multiples of 8");
    }
    return tiles(new int[] {frames, height, width}, new int[] {1, 8, 8});
  }

  /** Number of tokens. */
  public int size() {
    return order.length;
  }

  /** {@code order()[t]} = original token at new position {@code t}. */
  public int[] order() {
    return order.clone();
  }

  /** {@code inverse()[x]} = new position of original token {@code x}. */
  public int[] inverse() {
    return inverse.clone();
  }

  /** A copy of {@code x [B, H, S, D]} with its tokens in tile order. */
  public Tensor permute(Tensor x) {
    return gather(x, order);
  }

  /** The inverse of {@link #permute}: back to row-major grid order. */
  public Tensor unpermute(Tensor x) {
    return gather(x, inverse);
  }

  private Tensor gather(Tensor x, int[] from) {
    if (x.rank() != 4 || x.dim(2) != order.length) {
      throw new IllegalArgumentException("expected [B, H, " + order.length + ", D], got "
          + Arrays.toString(x.shape()));
    }
    Tensor y = Tensor.zeros(x.dtype(), x.shape());
    for (int t = 0; t < from.length; t++) {
      y.slice(2, t, t + 1).copyFrom(x.slice(2, from[t], from[t] + 1));
    }
    return y;
  }
}
