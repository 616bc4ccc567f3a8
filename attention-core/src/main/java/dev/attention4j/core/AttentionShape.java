package dev.attention4j.core;

import java.util.Arrays;

/**
 * The validated geometry of one attention call: Q {@code [B, Hq, Sq, D]}, K {@code [B, Hkv, Sk, D]},
 * V {@code [B, Hkv, Sk, Dv]}, O {@code [B, Hq, Sq, Dv]}, LSE {@code [B, Hq, Sq]}.
 * {@link #of} performs every check that needs both the tensors and the options, once, so that
 * kernels run without checks.
 */
public record AttentionShape(int batch, int qHeads, int kvHeads, int qLen, int kvLen,
    int headDim, int valueDim) {

  /** Query heads per KV head. */
  public int groupSize() {
    return qHeads / kvHeads;
  }

  /** The KV head read by query head {@code h}. */
  public int kvHead(int h) {
    return h / (qHeads / kvHeads);
  }

  /** Visible (query, key) pairs are at most this many. */
  public long maxPairs() {
    return (long) batch * qHeads * qLen * kvLen;
  }

  /**
   * Validates a call.
   *
   * @param out the output, or null when only the inputs are checked
   * @param lse the LSE output, or null
   * @throws IllegalArgumentException naming the argument and the numbers
   */
  public static AttentionShape of(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
      AttentionOptions options) {
    requireRank("Q", q, 4, "[B, Hq, Sq, D]");
    requireRank("K", k, 4, "[B, Hkv, Sk, D]");
    requireRank("V", v, 4, "[B, Hkv, Sk, Dv]");
    if (options == null) {
      throw new IllegalArgumentException("options must not be null");
    }
    int b = q.dim(0);
    int hq = q.dim(1);
    int sq = q.dim(2);
    int d = q.dim(3);
    int hkv = k.dim(1);
    int sk = k.dim(2);
    int dv = v.dim(3);
    if (k.dim(0) != b || v.dim(0) != b) {
      throw new IllegalArgumentException("batch sizes differ: Q " + b + ", K " + k.dim(0) + ", V "
          + v.dim(0));
    }
    if (k.dim(3) != d) {
      throw new IllegalArgumentException("K head dim " + k.dim(3) + " != Q head dim " + d);
    }
    if (v.dim(1) != hkv) {
      throw new IllegalArgumentException("V heads " + v.dim(1) + " != K heads " + hkv);
    }
    if (v.dim(2) != sk) {
      throw new IllegalArgumentException("V length " + v.dim(2) + " != K length " + sk);
    }
    if (hkv == 0 || hq % hkv != 0) {
      throw new IllegalArgumentException("query heads " + hq + " are not a multiple of KV heads "
          + hkv);
    }
    if (out != null) {
      requireShape("O", out, b, hq, sq, dv);
    }
    if (lse != null) {
      requireShape("LSE", lse, b, hq, sq);
    }
    double[] slopes = options.alibiSlopesUnsafe();
    if (slopes != null && slopes.length != hq) {
      throw new IllegalArgumentException("alibi slopes have " + slopes.length
          + " entries, expected one per query head (" + hq + ")");
    }
    int[] lens = options.kvLensUnsafe();
    if (lens != null) {
      if (lens.length != b) {
        throw new IllegalArgumentException("kvLens has " + lens.length
            + " entries, expected one per batch (" + b + ")");
      }
      for (int i = 0; i < b; i++) {
        if (lens[i] > sk) {
          throw new IllegalArgumentException("kvLens[" + i + "] = " + lens[i]
              + " exceeds the key length " + sk);
        }
      }
    }
    int[][] docs = options.documentIdsUnsafe();
    if (docs != null) {
      if (sq != sk) {
        throw new IllegalArgumentException("document masks need Sq == Sk, got Sq " + sq + ", Sk "
            + sk);
      }
      if (docs.length != b) {
        throw new IllegalArgumentException("documentIds has " + docs.length
            + " rows, expected one per batch (" + b + ")");
      }
      for (int i = 0; i < b; i++) {
        if (docs[i].length != sq) {
          throw new IllegalArgumentException("documentIds[" + i + "] has " + docs[i].length
              + " entries, expected the sequence length " + sq);
        }
      }
    }
    return new AttentionShape(b, hq, hkv, sq, sk, d, dv);
  }

  private static void requireRank(String name, Tensor t, int rank, String layout) {
    if (t == null) {
      throw new IllegalArgumentException(name + " must not be null");
    }
    if (t.rank() != rank) {
      throw new IllegalArgumentException(name + " has rank " + t.rank() + " (shape "
          + Arrays.toString(t.shape()) + "), expected " + layout);
    }
  }

  private static void requireShape(String name, Tensor t, int... expected) {
    if (!Arrays.equals(t.shape(), expected)) {
      throw new IllegalArgumentException(name + " has shape " + Arrays.toString(t.shape())
          + ", expected " + Arrays.toString(expected));
    }
  }
}
