package dev.attention4j.linear;

import dev.attention4j.simd.TileMatmul;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The float32 feature maps on a tile of rows, vectorized: {@code out[r * fd + j] =
 * phi(x[r * d ..])[j]} for {@code rows} row-major vectors. The Hedgehog projection is one
 * {@link TileMatmul#multiply}; the softmaxes use the dense engine's polynomial exp (arguments are
 * {@code u - max u <= 0} and {@code min u - u <= 0}).
 */
final class Features {

  private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
  private static final float CLAMP = (float) FeatureMap.CLAMP;

  private Features() {
  }

  /**
   * Applies {@code map} to {@code rows} vectors of length {@code d} in {@code x}; writes
   * {@code rows x featureDim} into {@code out}. {@code u} is scratch of at least
   * {@code rows * F} floats (Hedgehog only). A row with a NaN or Inf entry gives NaN features
   * ({@link FeatureMap#apply}).
   */
  static void apply(FeatureMap map, boolean query, int head, float[] x, int rows, int d,
      float[] out, float[] u) {
    switch (map.kind()) {
      case IDENTITY -> System.arraycopy(x, 0, out, 0, rows * d);
      case ELU1 -> elu1(x, rows * d, out);
      case RELU -> relu(x, rows * d, out);
      case HEDGEHOG, HEDGEHOG_EXP -> {
        int f = map.weights().features();
        float[] w = map.weights().headFloat(query, head);
        // u = x W: [rows x d] [d x f]
        TileMatmul.multiply(rows, f, d, x, 0, d, 1, w, 0, f, u, 0, f, false);
        boolean normalise = map.kind() == FeatureMap.Kind.HEDGEHOG;
        for (int r = 0; r < rows; r++) {
          hedgehogRow(u, r * f, f, out, r * 2 * f, normalise);
        }
      }
    }
    int fd = map.featureDim(d);
    for (int r = 0; r < rows; r++) {
      if (!Vec.allFinite(x, r * d, d)) {
        java.util.Arrays.fill(out, r * fd, (r + 1) * fd, Float.NaN);
      }
    }
  }

  /** Feature dim of {@code map} for head dim {@code d}, and the scratch {@code u} it needs per row. */
  static int scratchPerRow(FeatureMap map) {
    return map.weights() == null ? 0 : map.weights().features();
  }

  private static void elu1(float[] x, int n, float[] out) {
    FloatVector zero = FloatVector.zero(S);
    int i = 0;
    int bound = S.loopBound(n);
    // vector loop: x > 0 ? x + 1 : e^x (exp of min(x, 0), which is <= 0)
    for (; i < bound; i += S.length()) {
      FloatVector v = FloatVector.fromArray(S, x, i);
      VectorMask<Float> pos = v.compare(VectorOperators.GT, zero);
      TileMatmul.exp(v.blend(zero, pos)).blend(v.add(1f), pos).intoArray(out, i);
    }
    // scalar tail
    for (; i < n; i++) {
      float v = x[i];
      out[i] = v > 0 ? v + 1 : (float) Math.exp(v);
    }
  }

  private static void relu(float[] x, int n, float[] out) {
    FloatVector zero = FloatVector.zero(S);
    int i = 0;
    int bound = S.loopBound(n);
    // vector loop: blend instead of max (TOOLCHAIN.md pitfall 4); NaN stays NaN
    for (; i < bound; i += S.length()) {
      FloatVector v = FloatVector.fromArray(S, x, i);
      v.blend(zero, v.compare(VectorOperators.LT, zero)).intoArray(out, i);
    }
    for (; i < n; i++) {
      float v = x[i];
      out[i] = v < 0 ? 0f : v;
    }
  }

  /**
   * One Hedgehog row: {@code out[o0 .. o0 + f) = softmax(u)} and {@code out[o0 + f ..) =
   * softmax(-u)} (or the unnormalised exps), clamped below at 1e-12.
   */
  private static void hedgehogRow(float[] u, int u0, int f, float[] out, int o0,
      boolean normalise) {
    float max = Float.NEGATIVE_INFINITY;
    float min = Float.POSITIVE_INFINITY;
    boolean nan = false;
    for (int j = 0; j < f; j++) {
      float x = u[u0 + j];
      max = x > max ? x : max;
      min = x < min ? x : min;
      nan |= x != x;
    }
    if (nan || Float.isInfinite(max) || Float.isInfinite(min)) {
      // a non-finite input poisons its own row only (as in the reference)
      java.util.Arrays.fill(out, o0, o0 + 2 * f, Float.NaN);
      return;
    }
    FloatVector mx = FloatVector.broadcast(S, max);
    FloatVector mn = FloatVector.broadcast(S, min);
    FloatVector s1 = FloatVector.zero(S);
    FloatVector s2 = FloatVector.zero(S);
    int j = 0;
    int bound = S.loopBound(f);
    // exps, two sums
    for (; j < bound; j += S.length()) {
      FloatVector x = FloatVector.fromArray(S, u, u0 + j);
      FloatVector p = TileMatmul.exp(x.sub(mx));
      FloatVector n = TileMatmul.exp(mn.sub(x));
      p.intoArray(out, o0 + j);
      n.intoArray(out, o0 + f + j);
      s1 = s1.add(p);
      s2 = s2.add(n);
    }
    float t1 = Vec.reduce(s1);
    float t2 = Vec.reduce(s2);
    // scalar tail
    for (; j < f; j++) {
      float p = (float) Math.exp(u[u0 + j] - max);
      float n = (float) Math.exp(min - u[u0 + j]);
      out[o0 + j] = p;
      out[o0 + f + j] = n;
      t1 += p;
      t2 += n;
    }
    float r1 = normalise ? 1f / t1 : 1f;
    float r2 = normalise ? 1f / t2 : 1f;
    for (j = 0; j < f; j++) {
      float p = out[o0 + j] * r1;
      float n = out[o0 + f + j] * r2;
      out[o0 + j] = p < CLAMP ? CLAMP : p;
      out[o0 + f + j] = n < CLAMP ? CLAMP : n;
    }
  }
}
