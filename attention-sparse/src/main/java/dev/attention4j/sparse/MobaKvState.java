package dev.attention4j.sparse;

import dev.attention4j.core.Tensor;
import java.util.Arrays;

/**
 * MoBA's routing state for decoding: per (batch, KV head, key block) the running sum of the keys
 * appended so far (float64) and the block's token count, so the block means
 * {@code kbar_i} (SEMANTICS.md "MoBA") are available without re-reading the cache. Appending
 * {@code n} tokens costs {@code O(B Hkv n D)}; memory is {@code O(B Hkv (L / Bk) D)}. The means
 * equal {@link MobaAttention#blockMeans} of the same keys bit for bit (same summation order).
 * Not thread-safe.
 */
public final class MobaKvState {

  private final int batch;
  private final int kvHeads;
  private final int dim;
  private final int blockSize;
  private double[] sums;
  private int length;

  /**
   * An empty state.
   *
   * @throws IllegalArgumentException if a size is below 1
   */
  public MobaKvState(int batch, int kvHeads, int dim, int blockSize) {
    if (batch < 1 || kvHeads < 1 || dim < 1 || blockSize < 1) {
      throw new IllegalArgumentException("batch " + batch + ", KV heads " + kvHeads + ", dim "
          + dim + " and block size " + blockSize + " must be >= 1");
    }
    this.batch = batch;
    this.kvHeads = kvHeads;
    this.dim = dim;
    this.blockSize = blockSize;
    this.sums = new double[0];
  }

  /**
   * Adds the keys {@code kNew [B, Hkv, n, D]} at positions {@code length() .. length() + n - 1}.
   *
   * @throws IllegalArgumentException if the shape does not match the state
   */
  public void append(Tensor kNew) {
    if (kNew.rank() != 4 || kNew.dim(0) != batch || kNew.dim(1) != kvHeads
        || kNew.dim(3) != dim) {
      throw new IllegalArgumentException("keys have shape " + Arrays.toString(kNew.shape())
          + ", expected [" + batch + ", " + kvHeads + ", n, " + dim + "]");
    }
    int n = kNew.dim(2);
    int blocks = blocks(length + n);
    if (blocks > blocks(length) || sums.length == 0) {
      double[] grown = new double[batch * kvHeads * blocks * dim];
      int old = blocks(length);
      for (int bg = 0; bg < batch * kvHeads; bg++) {
        System.arraycopy(sums, bg * old * dim, grown, bg * blocks * dim, old * dim);
      }
      sums = grown;
    }
    float[] row = new float[dim];
    for (int b = 0; b < batch; b++) {
      for (int g = 0; g < kvHeads; g++) {
        for (int t = 0; t < n; t++) {
          MobaAttention.readRow(kNew, b, g, t, row);
          int block = (length + t) / blockSize;
          int at = ((b * kvHeads + g) * blocks + block) * dim;
          for (int e = 0; e < dim; e++) {
            sums[at + e] += row[e];
          }
        }
      }
    }
    length += n;
  }

  /** Tokens appended so far. */
  public int length() {
    return length;
  }

  public int blockSize() {
    return blockSize;
  }

  /** Block means {@code [B][Hkv][ceil(L / Bk)][D]}, flattened, in float32. */
  public float[] means() {
    int blocks = blocks(length);
    float[] m = new float[batch * kvHeads * blocks * dim];
    for (int bg = 0; bg < batch * kvHeads; bg++) {
      for (int c = 0; c < blocks; c++) {
        int count = Math.min(blockSize, length - c * blockSize);
        int at = (bg * blocks + c) * dim;
        for (int e = 0; e < dim; e++) {
          m[at + e] = (float) (sums[at + e] / count);
        }
      }
    }
    return m;
  }

  private int blocks(int len) {
    return Math.ceilDiv(len, blockSize);
  }
}
