package dev.attention4j.linear;

import dev.attention4j.core.Tensor;
import dev.attention4j.core.io.Safetensors;
import dev.attention4j.core.io.SafetensorsFile;
import dev.attention4j.core.io.TensorFileException;
import dev.attention4j.simd.SimdAttention;
import dev.attention4j.simd.TileMatmul;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The recurrent (decode) form of causal linear attention for one (batch, query head)
 * (kernel-notes §6.2): a float32 state {@code S} ({@code F x Dv}) and normaliser {@code z}
 * ({@code F}),
 * <pre>
 *   S_t = lambda S_{t-1} + phi(k_t) v_t^T,   z_t = z_{t-1} + phi(k_t),
 *   o_t = phi(q_t)^T S_t / (phi(q_t) . z_t + 1e-12)     (unnormalised: phi(q_t)^T S_t)
 * </pre>
 * {@link #step} appends one key and value and answers one query; it gives the same rows as the
 * causal prefill ({@link LinearAttention}) over the same keys. {@link #append} adds many keys at
 * once with tile products (decay powers relative to the block, {@code exp(-slope x)}). Not
 * thread-safe. The hybrid is not supported here (it needs the window's keys).
 */
public final class LinearAttentionState {

  private static final String FORMAT = "attention4j-linear-state-1";

  private final FeatureMap map;
  private final int qHead;
  private final int kvHead;
  private final int d;
  private final int dv;
  private final int fd;
  private final boolean normalize;
  private final double slope;
  private final float[] state;
  private final float[] z;
  private long length;
  // scratch
  private final float[] pq;
  private final float[] pk;
  private final float[] u;
  private final float[] one;

  private LinearAttentionState(FeatureMap map, int qHead, int kvHead, int d, int dv,
      boolean normalize, double slope) {
    this.map = map;
    this.qHead = qHead;
    this.kvHead = kvHead;
    this.d = d;
    this.dv = dv;
    this.fd = map.featureDim(d);
    this.normalize = normalize;
    this.slope = slope;
    this.state = new float[fd * dv];
    this.z = new float[fd];
    this.pq = new float[fd];
    this.pk = new float[BLOCK * fd];
    this.u = new float[BLOCK * Math.max(1, Features.scratchPerRow(map))];
    this.one = new float[BLOCK * d];
  }

  /** Keys per block of {@link #append}. */
  private static final int BLOCK = 64;

  /**
   * An empty state for query head {@code qHead} (reading KV head {@code kvHead}) of a causal call
   * with options {@code o} (its feature map, normalisation and the head's decay slope).
   *
   * @throws IllegalArgumentException if {@code o} is not causal or is a hybrid, or the map's
   *     weights do not fit
   */
  public static LinearAttentionState create(LinearOptions o, int qHead, int kvHead, int headDim,
      int valueDim) {
    SimdAttention.requireVectorApi();
    if (!o.causal()) {
      throw new IllegalArgumentException("the recurrent state needs causal options");
    }
    if (o.isHybrid()) {
      throw new IllegalArgumentException("the recurrent state does not support the hybrid"
          + " (it needs the window's keys)");
    }
    if (headDim < 1 || valueDim < 1) {
      throw new IllegalArgumentException("head dim " + headDim + " and value dim " + valueDim
          + " must be >= 1");
    }
    FeatureWeights w = o.featureMap().weights();
    if (w != null) {
      if (w.dim() != headDim) {
        throw new IllegalArgumentException("feature weights head dim " + w.dim()
            + " != head dim " + headDim);
      }
      if (qHead < 0 || qHead >= w.queryHeads() || kvHead < 0 || kvHead >= w.kvHeads()) {
        throw new IllegalArgumentException("heads (" + qHead + ", " + kvHead + ") out of range"
            + " for weights with " + w.queryHeads() + " query and " + w.kvHeads() + " KV heads");
      }
    }
    return new LinearAttentionState(o.featureMap(), qHead, kvHead, headDim, valueDim,
        o.normalize(), o.hasDecay() ? o.decaySlope(qHead) : 0);
  }

  /** Keys appended so far. */
  public long length() {
    return length;
  }

  public int featureDim() {
    return fd;
  }

  /** A copy of the state {@code S}, {@code [F * Dv]} row-major. */
  public float[] state() {
    return state.clone();
  }

  /** A copy of the normaliser {@code z}, {@code [F]}. */
  public float[] normalizer() {
    return z.clone();
  }

  /**
   * Appends key {@code k} ({@code [D]}) and value {@code v} ({@code [Dv]}), then writes the output
   * of query {@code q} ({@code [D]}) into {@code out} ({@code [Dv]}).
   */
  public void step(float[] q, float[] k, float[] v, float[] out) {
    if (q.length < d || k.length < d || v.length < dv || out.length < dv) {
      throw new IllegalArgumentException("step needs q and k of at least " + d + " floats, v and"
          + " out of at least " + dv + ", got " + q.length + ", " + k.length + ", " + v.length
          + " and " + out.length);
    }
    System.arraycopy(k, 0, one, 0, d);
    Features.apply(map, false, kvHead, one, 1, d, pk, u);
    System.arraycopy(q, 0, one, 0, d);
    Features.apply(map, true, qHead, one, 1, d, pq, u);
    // S = lambda S + phi(k) v^T and phi(q)^T S in one pass over the state (as append then query)
    float lambda = slope != 0 ? (float) Math.exp(-slope) : 1f;
    Vec.updateAndRead(state, fd, dv, lambda, pk, v, pq, out);
    length++;
    if (normalize) {
      Vec.axpy(1f, pk, 0, z, 0, fd);
      float den = Vec.dot(pq, 0, z, 0, fd);
      Vec.scale((float) (1 / (den + LinearOptions.EPS)), out, 0, dv);
    }
    Rows.nanIfNotFinite(out, 0, dv);
  }

  /**
   * Appends {@code n} keys ({@code k}, {@code [n * D]} row-major) and values ({@code v},
   * {@code [n * Dv]}).
   */
  public void append(float[] k, float[] v, int n) {
    if (k.length < (long) n * d || v.length < (long) n * dv) {
      throw new IllegalArgumentException("append of " + n + " rows needs " + ((long) n * d)
          + " key and " + ((long) n * dv) + " value floats, got " + k.length + " and "
          + v.length);
    }
    for (int r0 = 0; r0 < n; r0 += BLOCK) {
      int m = Math.min(BLOCK, n - r0);
      System.arraycopy(k, r0 * d, one, 0, m * d);
      Features.apply(map, false, kvHead, one, m, d, pk, u);
      if (slope != 0) {
        Vec.scale((float) Math.exp(-slope * m), state, 0, fd * dv);
        for (int r = 0; r < m; r++) {
          Vec.scale((float) Math.exp(-slope * (m - 1 - r)), pk, r * fd, fd);
        }
      }
      // S += phi(K)^T V
      TileMatmul.multiply(fd, dv, m, pk, 0, 1, fd, v, r0 * dv, dv, state, 0, dv, true);
      if (normalize) {
        for (int r = 0; r < m; r++) {
          Vec.axpy(1f, pk, r * fd, z, 0, fd);
        }
      }
    }
    length += n;
  }

  /** Writes the output of query {@code q} ({@code [D]}) against the keys so far into {@code out}. */
  public void query(float[] q, float[] out) {
    System.arraycopy(q, 0, one, 0, d);
    Features.apply(map, true, qHead, one, 1, d, pq, u);
    if (length == 0) {
      java.util.Arrays.fill(out, 0, dv, 0f);
      return;
    }
    TileMatmul.multiply(1, dv, fd, pq, 0, fd, 1, state, 0, dv, out, 0, dv, false);
    if (normalize) {
      float den = Vec.dot(pq, 0, z, 0, fd);
      Vec.scale((float) (1 / (den + LinearOptions.EPS)), out, 0, dv);
    }
    Rows.nanIfNotFinite(out, 0, dv);
  }

  /** Saves {@code S}, {@code z} and the length (with the configuration in the metadata). */
  public void save(Path file) throws IOException {
    Map<String, SafetensorsFile.Entry> t = new LinkedHashMap<>();
    t.put("state", SafetensorsFile.Entry.of(Tensor.of(state.clone(), fd, dv), "F32"));
    t.put("normalizer", SafetensorsFile.Entry.of(Tensor.of(z.clone(), fd), "F32"));
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put("format", FORMAT);
    meta.put("feature_map", map.kind().label());
    meta.put("q_head", Integer.toString(qHead));
    meta.put("kv_head", Integer.toString(kvHead));
    meta.put("head_dim", Integer.toString(d));
    meta.put("value_dim", Integer.toString(dv));
    meta.put("normalize", Boolean.toString(normalize));
    meta.put("decay_slope", Double.toString(slope));
    meta.put("length", Long.toString(length));
    Safetensors.write(file, t, meta);
  }

  /**
   * Restores a state saved by {@link #save} into this one, which must have the same
   * configuration (feature map, heads, dims, normalisation, slope).
   *
   * @throws TensorFileException if the file is malformed or was saved with another configuration
   */
  public void restore(Path file) throws TensorFileException {
    SafetensorsFile f = Safetensors.read(file);
    Map<String, String> m = f.metadata();
    if (!FORMAT.equals(m.get("format"))) {
      throw new TensorFileException(file + ": not a linear attention state (format "
          + m.get("format") + ")");
    }
    expect(file, m, "feature_map", map.kind().label());
    expect(file, m, "q_head", Integer.toString(qHead));
    expect(file, m, "kv_head", Integer.toString(kvHead));
    expect(file, m, "head_dim", Integer.toString(d));
    expect(file, m, "value_dim", Integer.toString(dv));
    expect(file, m, "normalize", Boolean.toString(normalize));
    expect(file, m, "decay_slope", Double.toString(slope));
    Tensor s = f.tensor("state");
    Tensor zz = f.tensor("normalizer");
    if (s.rank() != 2 || s.dim(0) != fd || s.dim(1) != dv || zz.rank() != 1 || zz.dim(0) != fd) {
      throw new TensorFileException(file + ": state " + java.util.Arrays.toString(s.shape())
          + " / normalizer " + java.util.Arrays.toString(zz.shape()) + ", expected [" + fd
          + ", " + dv + "] / [" + fd + "]");
    }
    long len;
    try {
      len = Long.parseLong(m.get("length"));
    } catch (NumberFormatException e) {
      throw new TensorFileException(file + ": bad length '" + m.get("length") + "'", e);
    }
    System.arraycopy(s.toFloatArray(), 0, state, 0, fd * dv);
    System.arraycopy(zz.toFloatArray(), 0, z, 0, fd);
    length = len;
  }

  private static void expect(Path file, Map<String, String> m, String key, String value)
      throws TensorFileException {
    if (!value.equals(m.get(key))) {
      throw new TensorFileException(String.format(Locale.ROOT,
          "%s: saved %s is %s, this state has %s", file, key, m.get(key), value));
    }
  }
}
