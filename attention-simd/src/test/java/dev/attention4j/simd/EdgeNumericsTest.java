package dev.attention4j.simd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.core.Alignment;
import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionResult;
import dev.attention4j.core.DType;
import dev.attention4j.core.LseMerge;
import dev.attention4j.core.PagedKvCache;
import dev.attention4j.core.Tensor;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Numerics at the edges, each against the float64 reference within the SEMANTICS.md tolerance
 * ({@link Support#assertClose}) and with no NaN or infinity where the reference has none: logits
 * near the float maximum, all-equal logits, one visible key, subnormal inputs, softcap over
 * logits whose float32 dot product overflows, decoding over 2^20 keys (contiguous and paged),
 * and the LSE merge of thousands of partials.
 */
class EdgeNumericsTest {

  static final long SEED = 0xED6EL;
  static final SimdAttention KERNEL = new SimdAttention();

  static Tensor filled(float value, int... shape) {
    Tensor t = Tensor.zeros(DType.F32, shape);
    t.fill(value);
    return t;
  }

  static void assertNoNonFinite(AttentionResult r, String what) {
    for (float x : r.out().toFloatArray()) {
      assertTrue(Float.isFinite(x), what + ": O has " + x);
    }
    for (float x : r.lse().toFloatArray()) {
      assertTrue(Float.isFinite(x), what + ": LSE has " + x);
    }
  }

  @Test
  void logitsNearTheFloatMaximum() {
    System.out.println("EdgeNumericsTest seed " + SEED);
    SplittableRandom rnd = new SplittableRandom(SEED);
    // q.k up to ~2e38 (float max 3.4e38), products and partial sums stay below the maximum;
    // the largest logits differ by ~1e37, so each row is one-hot on its largest key
    int d = 4;
    Tensor q = Support.gaussian(rnd, DType.F32, 1, 1, 2, 40, d);
    Tensor k = Support.gaussian(rnd, DType.F32, 1, 1, 2, 70, d);
    Tensor v = Support.gaussian(rnd, DType.F32, 1, 1, 2, 70, 32);
    float[] qd = q.floatData();
    for (int i = 0; i < qd.length; i++) {
      qd[i] = Math.signum(qd[i]) * 4e18f;
    }
    float[] kd = k.floatData();
    for (int i = 0; i < kd.length; i++) {
      kd[i] = (float) (kd[i] * 1e19);
    }
    for (AttentionOptions o : new AttentionOptions[] {
        AttentionOptions.builder().scale(1).build(),
        AttentionOptions.builder().scale(1).causal(true).build(),
        AttentionOptions.builder().scale(0.5).window(10, 10).build()}) {
      assertNoNonFinite(Support.check(KERNEL, q, k, v, o, "near float max " + o), "max");
    }
    // and all logits hugely negative: the row max, not 0, is subtracted before exp
    Tensor qn = filled(-4e18f, 1, 2, 8, d);
    Tensor kn = filled(1.1e19f, 1, 2, 70, d);
    AttentionOptions one = AttentionOptions.builder().scale(1).build();
    AttentionResult r = Support.check(KERNEL, qn, kn, v, one, "all logits -1.8e38");
    assertNoNonFinite(r, "all logits -1.8e38");
  }

  @Test
  void allEqualLogitsAverageTheValues() {
    SplittableRandom rnd = new SplittableRandom(SEED + 1);
    Tensor q = Tensor.zeros(DType.F32, 2, 4, 33, 64);
    Tensor k = Support.gaussian(rnd, DType.F32, 1, 2, 2, 300, 64);
    Tensor v = Support.gaussian(rnd, DType.F32, 1, 2, 2, 300, 48);
    AttentionResult r = Support.check(KERNEL, q, k, v, AttentionOptions.defaults(), "q = 0");
    // LSE = log(Sk) exactly up to float rounding; O = mean of V
    for (float l : r.lse().toFloatArray()) {
      assertEquals(Math.log(300), l, 1e-4 * Math.log(300));
    }
    Tensor same = filled(0.25f, 2, 2, 300, 64);
    Support.check(KERNEL, Support.gaussian(rnd, DType.F32, 1, 2, 4, 33, 64), same, v,
        AttentionOptions.builder().causal(true).build(), "all keys equal, causal");
  }

  @Test
  void oneVisibleKeyGivesItsValue() {
    SplittableRandom rnd = new SplittableRandom(SEED + 2);
    Tensor q = Support.gaussian(rnd, DType.F32, 3, 1, 2, 50, 64);
    Tensor k = Support.gaussian(rnd, DType.F32, 3, 1, 2, 50, 64);
    Tensor v = Support.gaussian(rnd, DType.F32, 1, 1, 2, 50, 64);
    // top-left causal: row 0 sees key 0 only; window (0, 0): every row sees its own key only
    for (AttentionOptions o : new AttentionOptions[] {
        AttentionOptions.builder().causal(true).alignment(Alignment.TOP_LEFT).build(),
        AttentionOptions.builder().window(0, 0).build()}) {
      AttentionResult r = Support.check(KERNEL, q, k, v, o, "one key " + o);
      for (int h = 0; h < 2; h++) {
        for (int e = 0; e < 64; e++) {
          assertEquals(v.getFloat(0, h, 0, e), r.out().getFloat(0, h, 0, e), "O = v_0 exactly");
        }
      }
    }
    // key lengths of 1 on a decode step
    Tensor q1 = Support.gaussian(rnd, DType.F32, 3, 1, 2, 1, 64);
    Support.check(KERNEL, q1, k, v, AttentionOptions.builder().kvLens(1).build(), "kvLens 1");
  }

  @Test
  void subnormalInputs() {
    SplittableRandom rnd = new SplittableRandom(SEED + 3);
    Tensor q = Support.gaussian(rnd, DType.F32, 1e-39, 1, 2, 40, 64);
    Tensor k = Support.gaussian(rnd, DType.F32, 1e-39, 1, 2, 90, 64);
    Tensor v = Support.gaussian(rnd, DType.F32, 1e-39, 1, 2, 90, 64);
    assertTrue(Math.abs(v.floatData()[0]) < Float.MIN_NORMAL, "subnormal values");
    AttentionResult r = Support.check(KERNEL, q, k, v, AttentionOptions.defaults(), "subnormal");
    assertNoNonFinite(r, "subnormal");
    // subnormal Q and K with normal V: uniform weights, O = mean of V, relative check
    Tensor vn = Support.gaussian(rnd, DType.F32, 1, 1, 2, 90, 64);
    Support.check(KERNEL, q, k, vn, AttentionOptions.builder().causal(true).build(),
        "subnormal q, k");
    // float16 subnormals
    Tensor qh = Tensor.copyOf(Support.gaussian(rnd, DType.F32, 1e-6, 1, 2, 40, 64), DType.F16);
    Tensor kh = Tensor.copyOf(Support.gaussian(rnd, DType.F32, 1e-6, 1, 2, 90, 64), DType.F16);
    Support.check(KERNEL, qh, kh, Tensor.copyOf(vn, DType.F16), AttentionOptions.defaults(),
        "float16 subnormals");
  }

  /**
   * Softcap over logits up to ~1e37, the float32 dot product still in range: every logit is
   * mapped to (-c, c). (Products beyond the float range, |q_e k_e| > 3.4e38, overflow the float32
   * accumulation to +inf and -inf, whose sum is NaN: such inputs are outside what a float32
   * kernel can represent, softcap or not; the float64 reference still gives a finite result.)
   */
  @Test
  void softcapOverHugeLogits() {
    SplittableRandom rnd = new SplittableRandom(SEED + 4);
    Tensor q = Support.gaussian(rnd, DType.F32, 1e18, 1, 2, 30, 16);
    Tensor k = Support.gaussian(rnd, DType.F32, 1e18, 1, 2, 60, 16);
    Tensor v = Support.gaussian(rnd, DType.F32, 1, 1, 2, 60, 16);
    for (AttentionOptions o : new AttentionOptions[] {
        AttentionOptions.builder().softcap(30).build(),
        AttentionOptions.builder().softcap(30).causal(true).build(),
        AttentionOptions.builder().softcap(1e-3).build(),
        AttentionOptions.builder().softcap(1e30).build()}) {
      assertNoNonFinite(Support.check(KERNEL, q, k, v, o, "softcap " + o), "softcap");
    }
  }

  static void decodeOverManyKeys(int n, int hq, int hkv, int d) {
    SplittableRandom rnd = new SplittableRandom(SEED + 5);
    Tensor q = Support.gaussian(rnd, DType.F32, 1, 1, hq, 1, d);
    Tensor k = Support.gaussian(rnd, DType.F32, 1, 1, hkv, n, d);
    Tensor v = Support.gaussian(rnd, DType.F32, 1, 1, hkv, n, d);
    // a few keys with large logits far apart, so the LSE is dominated by distant chunks
    for (int j : new int[] {3, n / 3, n - 2}) {
      for (int e = 0; e < d; e++) {
        k.set(q.getFloat(0, 0, 0, e) * 2, 0, 0, j, e);
      }
    }
    AttentionOptions o = AttentionOptions.defaults();
    AttentionResult ref = Support.reference(q, k, v, o);
    AttentionResult fast = Support.run(KERNEL, q, k, v, o);
    Support.assertClose(ref, fast, "decode over " + n + " keys");
    assertNoNonFinite(fast, "decode");
    Tensor out = Tensor.zeros(DType.F32, 1, hq, 1, d);
    Tensor lse = Tensor.zeros(DType.F32, 1, hq, 1);
    KERNEL.forwardSplitKv(q, k, v, out, lse, o, 1 << 10);
    Support.assertClose(ref, new AttentionResult(out, lse), "split-KV 1024 over " + n);
    // the same keys in a float16 paged cache
    PagedKvCache cache = new PagedKvCache(hkv, d, d, 4096, n / 4096 + 1, DType.F16);
    cache.append(cache.newSequence(), k.slice(0, 0, 1).reshape(hkv, n, d),
        v.slice(0, 0, 1).reshape(hkv, n, d));
    Tensor[] g = cache.gather(0);
    AttentionResult ref16 = Support.reference(q, g[0], g[1], o);
    KERNEL.forwardPaged(q, cache, new int[] {0}, out, lse, o);
    Support.assertClose(ref16, new AttentionResult(out, lse), "paged f16 over " + n);
  }

  @Test
  void decodeOverTwoToTheTwentyKeys() {
    decodeOverManyKeys(1 << 20, 2, 1, 8);
  }

  @Test
  @Tag("long")
  void decodeOverTwoToTheTwentyKeysWide() {
    decodeOverManyKeys(1 << 20, 4, 1, 64);
  }

  /**
   * One row's keys in 4096 partials (some empty, some far apart in LSE), merged one by one with
   * the float32 {@link LseMerge#mergeRow}: within tolerance of the whole row, no NaN.
   */
  @Test
  void lseMergeOfManyPartials() {
    SplittableRandom rnd = new SplittableRandom(SEED + 6);
    int parts = 4096;
    int per = 16;
    int n = parts * per;
    int d = 32;
    Tensor q = Support.gaussian(rnd, DType.F32, 1, 1, 1, 1, d);
    Tensor k = Support.gaussian(rnd, DType.F32, 1, 1, 1, n, d);
    Tensor v = Support.gaussian(rnd, DType.F32, 1, 1, 1, n, d);
    // partial 100's keys get logits ~ +60, partial 3000's ~ -60: merges of very unequal LSEs
    for (int j = 100 * per; j < 101 * per; j++) {
      for (int e = 0; e < d; e++) {
        k.set(q.getFloat(0, 0, 0, e) * 60 * Math.sqrt(d) / dot(q, q, d), 0, 0, j, e);
      }
    }
    AttentionOptions o = AttentionOptions.defaults();
    AttentionResult whole = Support.reference(q, k, v, o);
    float[] acc = new float[d];
    float accLse = Float.NEGATIVE_INFINITY;
    float[] part = new float[d];
    for (int p = 0; p < parts; p++) {
      float lse;
      if (p % 7 == 3) {
        // an empty partial: (0, -inf)
        java.util.Arrays.fill(part, 0f);
        lse = Float.NEGATIVE_INFINITY;
      } else {
        AttentionResult r = Support.run(KERNEL, q, k.slice(2, p * per, (p + 1) * per),
            v.slice(2, p * per, (p + 1) * per), o);
        part = r.out().toFloatArray();
        lse = r.lse().getFloat(0, 0, 0);
      }
      accLse = LseMerge.mergeRow(acc, 0, accLse, part, 0, lse, acc, 0, d);
    }
    // the reference over the keys of the non-empty partials only
    Tensor kept = Tensor.zeros(DType.F32, 1, 1, n, d);
    kept.copyFrom(k);
    AttentionOptions mask = AttentionOptions.builder()
        .maskMod((b, h, i, j) -> (j / per) % 7 != 3).build();
    AttentionResult ref = Support.reference(q, kept, v, mask);
    Support.assertClose(ref, new AttentionResult(Tensor.of(acc, 1, 1, 1, d),
        Tensor.of(new float[] {accLse}, 1, 1, 1)), parts + " merged partials");
    assertTrue(Float.isFinite(accLse) && whole.lse().getDouble(0, 0, 0) >= accLse - 1e-3);
  }

  static double dot(Tensor a, Tensor b, int d) {
    double s = 0;
    for (int e = 0; e < d; e++) {
      s += a.getFloat(0, 0, 0, e) * b.getFloat(0, 0, 0, e);
    }
    return s;
  }
}
