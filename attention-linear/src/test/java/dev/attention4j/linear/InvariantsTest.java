package dev.attention4j.linear;

import static dev.attention4j.linear.Fixtures.assertWithinTolerance;
import static dev.attention4j.linear.Fixtures.fast;
import static dev.attention4j.linear.Fixtures.gaussian;
import static dev.attention4j.linear.Fixtures.reference;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.DType;
import dev.attention4j.core.ReferenceAttention;
import dev.attention4j.core.Tensor;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** kernel-notes §6.5 invariants 2-5, and the vectorized feature maps against their float64 twin. */
class InvariantsTest {

  static Stream<Long> seeds() {
    return Stream.of(21L, 22L, 23L);
  }

  @ParameterizedTest(name = "seed={0}")
  @MethodSource("seeds")
  void hedgehogFeaturesPositiveHalvesSumToOne(long seed) {
    System.out.println("hedgehogFeaturesPositiveHalvesSumToOne seed " + seed);
    SplittableRandom rnd = new SplittableRandom(seed);
    int d = 19;
    int f = 23;
    FeatureMap map = FeatureMap.hedgehog(Fixtures.weights(rnd, 1, 1, d, f));
    double[] x = new double[d];
    double[] phi = new double[2 * f];
    for (int trial = 0; trial < 50; trial++) {
      for (int e = 0; e < d; e++) {
        x[e] = 4 * rnd.nextGaussian();
      }
      for (boolean query : new boolean[] {true, false}) {
        map.apply(query, 0, x, 0, d, phi, 0);
        double s1 = 0;
        double s2 = 0;
        for (int j = 0; j < f; j++) {
          assertTrue(phi[j] > 0 && phi[f + j] > 0, "feature not positive");
          s1 += phi[j];
          s2 += phi[f + j];
        }
        // each half sums to 1 up to the 1e-12 clamps
        assertEquals(1, s1, 1e-10);
        assertEquals(1, s2, 1e-10);
      }
    }
  }

  @ParameterizedTest(name = "seed={0}")
  @MethodSource("seeds")
  void vectorizedFeaturesMatchFloat64(long seed) {
    System.out.println("vectorizedFeaturesMatchFloat64 seed " + seed);
    SplittableRandom rnd = new SplittableRandom(seed);
    for (int d : new int[] {1, 7, 16, 33, 64}) {
      for (int f : new int[] {1, 5, 16, 40}) {
        for (String kind : LinearAttentionTest.MAPS) {
          FeatureMap map = Fixtures.map(kind, rnd, 1, 1, d, f);
          int rows = 9;
          int fd = map.featureDim(d);
          float[] x = new float[rows * d];
          double[] xd = new double[rows * d];
          for (int i = 0; i < x.length; i++) {
            x[i] = (float) (3 * rnd.nextGaussian());
            xd[i] = x[i];
          }
          float[] out = new float[rows * fd];
          Features.apply(map, true, 0, x, rows, d, out, new float[rows * Math.max(1, f)]);
          double[] ref = new double[fd];
          for (int r = 0; r < rows; r++) {
            map.apply(true, 0, xd, r * d, d, ref, 0);
            for (int j = 0; j < fd; j++) {
              double tol = 2e-6 * Math.max(1, Math.abs(ref[j])) + 1e-12;
              assertEquals(ref[j], out[r * fd + j], tol, kind + " d=" + d + " f=" + f + " row "
                  + r + " feature " + j);
            }
          }
        }
      }
    }
  }

  @ParameterizedTest(name = "seed={0}")
  @MethodSource("seeds")
  void impliedAttentionRowsSumToOne(long seed) {
    System.out.println("impliedAttentionRowsSumToOne seed " + seed);
    SplittableRandom rnd = new SplittableRandom(seed);
    Tensor q = gaussian(rnd, 1, 1, 2, 40, 16);
    Tensor k = gaussian(rnd, 1, 1, 2, 40, 16);
    Tensor ones = Tensor.zeros(DType.F32, 1, 2, 40, 3);
    ones.fill(1);
    for (boolean causal : new boolean[] {true, false}) {
      FeatureMap map = FeatureMap.hedgehog(Fixtures.weights(rnd, 2, 2, 16, 8));
      LinearOptions o = LinearOptions.builder(map).causal(causal).chunkSize(16).build();
      // with V = 1 each output is the row sum of the implied attention matrix
      for (Tensor out : new Tensor[] {reference(q, k, ones, o), fast(q, k, ones, o)}) {
        for (double x : out.toDoubleArray()) {
          assertEquals(1, x, 1e-6);
        }
      }
    }
  }

  @ParameterizedTest(name = "seed={0}")
  @MethodSource("seeds")
  void nonCausalIsAssociativityFormAndKeyOrderFree(long seed) {
    System.out.println("nonCausalIsAssociativityFormAndKeyOrderFree seed " + seed);
    SplittableRandom rnd = new SplittableRandom(seed);
    int sq = 23;
    int sk = 31;
    int d = 10;
    int dv = 7;
    Tensor q = gaussian(rnd, 1, 1, 1, sq, d);
    Tensor k = gaussian(rnd, 1, 1, 1, sk, d);
    Tensor v = gaussian(rnd, 1, 1, 1, sk, dv);
    FeatureMap map = FeatureMap.elu1();
    LinearOptions o = LinearOptions.builder(map).chunkSize(8).build();
    // phi(Q) (phi(K)^T V) / (phi(Q) (phi(K)^T 1) + eps), independently in float64
    double[] kv = new double[d * dv];
    double[] z = new double[d];
    double[] phi = new double[d];
    double[] x = new double[d];
    for (int s = 0; s < sk; s++) {
      for (int e = 0; e < d; e++) {
        x[e] = k.getDouble(0, 0, s, e);
      }
      map.apply(false, 0, x, 0, d, phi, 0);
      for (int e = 0; e < d; e++) {
        z[e] += phi[e];
        for (int j = 0; j < dv; j++) {
          kv[e * dv + j] += phi[e] * v.getDouble(0, 0, s, j);
        }
      }
    }
    Tensor expect = Tensor.zeros(DType.F64, 1, 1, sq, dv);
    for (int t = 0; t < sq; t++) {
      for (int e = 0; e < d; e++) {
        x[e] = q.getDouble(0, 0, t, e);
      }
      map.apply(true, 0, x, 0, d, phi, 0);
      double den = 0;
      for (int e = 0; e < d; e++) {
        den += phi[e] * z[e];
      }
      for (int j = 0; j < dv; j++) {
        double n = 0;
        for (int e = 0; e < d; e++) {
          n += phi[e] * kv[e * dv + j];
        }
        expect.set(n / (den + 1e-12), 0, 0, t, j);
      }
    }
    Tensor ref = reference(q, k, v, o);
    double[] r = ref.toDoubleArray();
    double[] ex = expect.toDoubleArray();
    for (int i = 0; i < r.length; i++) {
      assertEquals(ex[i], r[i], 1e-12 * Math.max(1, Math.abs(ex[i])), "reference vs associativity");
    }
    assertWithinTolerance(expect, fast(q, k, v, o), "fast vs associativity");
    // reversed key order
    Tensor kr = Tensor.zeros(DType.F32, 1, 1, sk, d);
    Tensor vr = Tensor.zeros(DType.F32, 1, 1, sk, dv);
    for (int s = 0; s < sk; s++) {
      kr.slice(2, s, s + 1).copyFrom(k.slice(2, sk - 1 - s, sk - s));
      vr.slice(2, s, s + 1).copyFrom(v.slice(2, sk - 1 - s, sk - s));
    }
    assertWithinTolerance(expect, fast(q, kr, vr, o), "reversed keys");
  }

  /**
   * Invariant 5: with {@code phi(q_t) . phi(k_s) = exp(q_t . k_s / sqrt(D))} exactly, normalised
   * linear attention is softmax attention. Keys are one-hot ({@code relu(e_s) = e_s}) and each
   * query holds its row of {@code exp(scale * q~_t . k~_s)} (positive, so relu keeps it).
   */
  @ParameterizedTest(name = "seed={0}")
  @MethodSource("seeds")
  void exactExpFeaturesGiveSoftmax(long seed) {
    System.out.println("exactExpFeaturesGiveSoftmax seed " + seed);
    SplittableRandom rnd = new SplittableRandom(seed);
    int s = 24;
    int d = 8;
    int dv = 5;
    Tensor qt = gaussian(rnd, 1, 1, 1, s, d);
    Tensor kt = gaussian(rnd, 1, 1, 1, s, d);
    Tensor v = Tensor.copyOf(gaussian(rnd, 1, 1, 1, s, dv), DType.F64);
    double scale = 1 / Math.sqrt(d);
    Tensor q = Tensor.zeros(DType.F64, 1, 1, s, s);
    Tensor k = Tensor.zeros(DType.F64, 1, 1, s, s);
    for (int t = 0; t < s; t++) {
      k.set(1, 0, 0, t, t);
      for (int j = 0; j < s; j++) {
        double dot = 0;
        for (int e = 0; e < d; e++) {
          dot += qt.getDouble(0, 0, t, e) * kt.getDouble(0, 0, j, e);
        }
        q.set(Math.exp(scale * dot), 0, 0, t, j);
      }
    }
    LinearOptions o = LinearOptions.builder(FeatureMap.relu()).causal(true).build();
    Tensor lin = Tensor.zeros(DType.F64, 1, 1, s, dv);
    ReferenceLinearAttention.forward(q, k, v, lin, o);
    Tensor soft = Tensor.zeros(DType.F64, 1, 1, s, dv);
    ReferenceAttention.INSTANCE.forward(Tensor.copyOf(qt, DType.F64),
        Tensor.copyOf(kt, DType.F64), v, soft, null,
        AttentionOptions.builder().causal(true).build());
    double[] a = lin.toDoubleArray();
    double[] b = soft.toDoubleArray();
    for (int i = 0; i < a.length; i++) {
      assertEquals(b[i], a[i], 1e-9, "linear with exact exp features vs softmax");
    }
  }
}
