package dev.attention4j.linear;

import dev.attention4j.core.Tensor;
import dev.attention4j.core.io.Npy;
import dev.attention4j.core.io.NpyArray;
import dev.attention4j.core.io.Safetensors;
import dev.attention4j.core.io.SafetensorsFile;
import dev.attention4j.core.io.TensorFileException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The per-head projection weights of the Hedgehog feature maps: {@code wq} of shape
 * {@code [Hq, D, F]} for the queries and {@code wk} of shape {@code [Hkv, D, F]} for the keys
 * (separate maps, LoLCATs {@code untied_head_einsum}, no bias). Immutable; values are kept in
 * float64 (for the reference and the fitter) and rounded once to float32 (for the fast kernels).
 */
public final class FeatureWeights {

  /** Safetensors name of the query weights. */
  public static final String WQ = "wq";
  /** Safetensors name of the key weights. */
  public static final String WK = "wk";

  private final int dim;
  private final int features;
  private final double[][] wq;
  private final double[][] wk;
  private final float[][] wqf;
  private final float[][] wkf;

  private FeatureWeights(double[][] wq, double[][] wk, int dim, int features) {
    this.dim = dim;
    this.features = features;
    this.wq = wq;
    this.wk = wk;
    this.wqf = toFloat(wq);
    this.wkf = toFloat(wk);
  }

  /**
   * Weights from tensors of any dtype and strides.
   *
   * @param wq {@code [Hq, D, F]}
   * @param wk {@code [Hkv, D, F]}
   * @throws IllegalArgumentException for wrong ranks, differing D or F, empty dimensions or
   *     non-finite values, naming the tensor and the numbers
   */
  public static FeatureWeights of(Tensor wq, Tensor wk) {
    requireRank3(WQ, wq, "[Hq, D, F]");
    requireRank3(WK, wk, "[Hkv, D, F]");
    if (wq.dim(1) != wk.dim(1)) {
      throw new IllegalArgumentException("wq head dim " + wq.dim(1) + " != wk head dim "
          + wk.dim(1) + " (wq " + Arrays.toString(wq.shape()) + ", wk "
          + Arrays.toString(wk.shape()) + ")");
    }
    if (wq.dim(2) != wk.dim(2)) {
      throw new IllegalArgumentException("wq feature count " + wq.dim(2) + " != wk feature count "
          + wk.dim(2) + " (wq " + Arrays.toString(wq.shape()) + ", wk "
          + Arrays.toString(wk.shape()) + ")");
    }
    return new FeatureWeights(heads(WQ, wq), heads(WK, wk), wq.dim(1), wq.dim(2));
  }

  /**
   * Weights from arrays: {@code wq[h][d * F + f]} and {@code wk[g][d * F + f]}. Copied.
   *
   * @throws IllegalArgumentException for lengths other than {@code dim * features}
   */
  public static FeatureWeights of(double[][] wq, double[][] wk, int dim, int features) {
    if (dim < 1 || features < 1 || wq.length < 1 || wk.length < 1) {
      throw new IllegalArgumentException("weights need at least one head, D >= 1 and F >= 1, got "
          + wq.length + " query heads, " + wk.length + " KV heads, D " + dim + ", F " + features);
    }
    return new FeatureWeights(copy(WQ, wq, dim, features), copy(WK, wk, dim, features), dim,
        features);
  }

  /**
   * Reads {@code wq} and {@code wk} from a safetensors file.
   *
   * @throws TensorFileException if the file is malformed or lacks a tensor
   * @throws IllegalArgumentException for bad shapes (as {@link #of(Tensor, Tensor)})
   */
  public static FeatureWeights read(Path safetensors) throws TensorFileException {
    SafetensorsFile f = Safetensors.read(safetensors);
    for (String name : new String[] {WQ, WK}) {
      if (!f.contains(name)) {
        throw new TensorFileException(safetensors + ": no tensor '" + name + "' (a Hedgehog"
            + " weights file holds wq [Hq, D, F] and wk [Hkv, D, F]; it has " + f.names() + ")");
      }
    }
    return of(f.tensor(WQ), f.tensor(WK));
  }

  /** Reads {@code wq} and {@code wk} from two {@code .npy} files (float32 or float64). */
  public static FeatureWeights read(Path wqNpy, Path wkNpy) throws TensorFileException {
    NpyArray q = Npy.read(wqNpy);
    NpyArray k = Npy.read(wkNpy);
    if (!q.isFloat()) {
      throw new TensorFileException(wqNpy + ": dtype " + q.descr() + " is not a float type");
    }
    if (!k.isFloat()) {
      throw new TensorFileException(wkNpy + ": dtype " + k.descr() + " is not a float type");
    }
    return of(q.toTensor(), k.toTensor());
  }

  /** Writes {@code wq} and {@code wk} as float32 to a safetensors file, with metadata. */
  public void write(Path file, Map<String, String> metadata) throws IOException {
    Map<String, SafetensorsFile.Entry> t = new LinkedHashMap<>();
    t.put(WQ, SafetensorsFile.Entry.of(tensor(wq), "F32"));
    t.put(WK, SafetensorsFile.Entry.of(tensor(wk), "F32"));
    Safetensors.write(file, t, metadata);
  }

  /** The head dim D. */
  public int dim() {
    return dim;
  }

  /** F: the projection width; the feature dim of the map is {@code 2F}. */
  public int features() {
    return features;
  }

  public int queryHeads() {
    return wq.length;
  }

  public int kvHeads() {
    return wk.length;
  }

  /** The weights of query head {@code h}, {@code [D * F]} row-major. A copy. */
  public double[] query(int h) {
    return wq[h].clone();
  }

  /** The weights of KV head {@code g}, {@code [D * F]} row-major. A copy. */
  public double[] key(int g) {
    return wk[g].clone();
  }

  double[] headUnsafe(boolean query, int h) {
    return query ? wq[h] : wk[h];
  }

  float[] headFloat(boolean query, int h) {
    return query ? wqf[h] : wkf[h];
  }

  /**
   * Checks the weights against an attention call.
   *
   * @throws IllegalArgumentException naming the numbers
   */
  void check(int qHeads, int kvHeads, int headDim) {
    if (dim != headDim) {
      throw new IllegalArgumentException("feature weights head dim " + dim + " != Q head dim "
          + headDim + " (wq [" + wq.length + ", " + dim + ", " + features + "])");
    }
    if (wq.length != qHeads) {
      throw new IllegalArgumentException("wq has " + wq.length + " heads, Q has " + qHeads
          + " query heads (wq must be [Hq, D, F] = [" + qHeads + ", " + dim + ", " + features
          + "])");
    }
    if (wk.length != kvHeads) {
      throw new IllegalArgumentException("wk has " + wk.length + " heads, K has " + kvHeads
          + " KV heads (wk must be [Hkv, D, F] = [" + kvHeads + ", " + dim + ", " + features
          + "])");
    }
  }

  private static void requireRank3(String name, Tensor t, String layout) {
    if (t == null) {
      throw new IllegalArgumentException(name + " must not be null");
    }
    if (t.rank() != 3) {
      throw new IllegalArgumentException(name + " has rank " + t.rank() + " (shape "
          + Arrays.toString(t.shape()) + "), expected " + layout);
    }
    for (int a = 0; a < 3; a++) {
      if (t.dim(a) < 1) {
        throw new IllegalArgumentException(name + " has shape " + Arrays.toString(t.shape())
            + ": every dimension must be >= 1, expected " + layout);
      }
    }
  }

  private static double[][] heads(String name, Tensor t) {
    int h = t.dim(0);
    int d = t.dim(1);
    int f = t.dim(2);
    double[][] out = new double[h][d * f];
    for (int i = 0; i < h; i++) {
      for (int e = 0; e < d; e++) {
        for (int j = 0; j < f; j++) {
          double x = t.getDouble(i, e, j);
          if (!Double.isFinite(x)) {
            throw new IllegalArgumentException(name + "[" + i + ", " + e + ", " + j + "] = " + x
                + " is not finite");
          }
          out[i][e * f + j] = x;
        }
      }
    }
    return out;
  }

  private static double[][] copy(String name, double[][] w, int d, int f) {
    double[][] out = new double[w.length][];
    for (int h = 0; h < w.length; h++) {
      if (w[h].length != d * f) {
        throw new IllegalArgumentException(name + "[" + h + "] has " + w[h].length
            + " values, expected D * F = " + d + " * " + f + " = " + (d * f));
      }
      out[h] = w[h].clone();
    }
    return out;
  }

  private static float[][] toFloat(double[][] w) {
    float[][] out = new float[w.length][];
    for (int h = 0; h < w.length; h++) {
      out[h] = new float[w[h].length];
      for (int i = 0; i < w[h].length; i++) {
        out[h][i] = (float) w[h][i];
      }
    }
    return out;
  }

  private Tensor tensor(double[][] w) {
    double[] flat = new double[w.length * dim * features];
    for (int h = 0; h < w.length; h++) {
      System.arraycopy(w[h], 0, flat, h * dim * features, dim * features);
    }
    return Tensor.of(flat, w.length, dim, features);
  }
}
