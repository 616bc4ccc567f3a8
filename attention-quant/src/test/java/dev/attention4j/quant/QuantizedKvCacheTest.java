package dev.attention4j.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionResult;
import dev.attention4j.core.DType;
import dev.attention4j.core.ErrorMetrics;
import dev.attention4j.core.ReferenceAttention;
import dev.attention4j.core.Tensor;
import dev.attention4j.simd.SimdAttention;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.ForkJoinPool;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The quantized paged KV cache and the decode path that reads it through the dense engine. */
class QuantizedKvCacheTest {

  static final long SEED = 20250603L;
  static final int HKV = 2;
  static final int HQ = 8;
  static final int D = 64;
  static final int DV = 48;

  static Tensor gaussian(SplittableRandom rnd, double sigma, int... shape) {
    Tensor t = Tensor.zeros(DType.F32, shape);
    float[] x = t.floatData();
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) (rnd.nextGaussian() * sigma);
    }
    return t;
  }

  /** Float data of one sequence, [Hkv, L, W]. */
  static Tensor[] data(SplittableRandom rnd, int len) {
    return new Tensor[] {gaussian(rnd, 1, HKV, len, D), gaussian(rnd, 1, HKV, len, DV)};
  }

  static AttentionOptions decodeOptions() {
    return AttentionOptions.builder().causal(true).returnLse(true).build();
  }

  /** The engine over the dequantized contents gathered into contiguous tensors. */
  static AttentionResult contiguous(QuantizedKvCache c, Tensor q, int[] seqs,
      AttentionOptions o) {
    Tensor[] kv = c.gather(seqs);
    int[] lens = new int[seqs.length];
    for (int b = 0; b < seqs.length; b++) {
      lens[b] = c.length(seqs[b]);
    }
    return new SimdAttention().forward(q, kv[0], kv[1], o.toBuilder().kvLens(lens).build());
  }

  static AttentionResult quantized(QuantizedKvCache c, Tensor q, int[] seqs, AttentionOptions o,
      ForkJoinPool pool) {
    Tensor out = Tensor.zeros(DType.F32, q.dim(0), q.dim(1), q.dim(2), c.valueDim());
    Tensor lse = Tensor.zeros(DType.F32, q.dim(0), q.dim(1), q.dim(2));
    SimdAttention k = pool == null ? new SimdAttention() : new SimdAttention(pool);
    k.forwardSource(q, c.source(seqs), out, lse, o);
    return new AttentionResult(out, lse);
  }

  static double maxAbs(Tensor t) {
    double m = 0;
    for (double x : t.toDoubleArray()) {
      m = Math.max(m, Math.abs(x));
    }
    return m;
  }

  @ParameterizedTest
  @EnumSource(QuantizedKvCache.Format.class)
  void decodeEqualsTheFloatKernelOnTheDequantizedCache(QuantizedKvCache.Format f) {
    System.out.println("QuantizedKvCacheTest seed " + SEED);
    SplittableRandom rnd = new SplittableRandom(SEED + f.ordinal());
    for (int page : new int[] {16, 64, 100}) {
      QuantizedKvCache c = new QuantizedKvCache(HKV, D, DV, page, 200, f);
      int[] lens = {1, 300, 777};
      int[] seqs = new int[lens.length];
      for (int b = 0; b < lens.length; b++) {
        seqs[b] = c.newSequence();
        Tensor[] kv = data(rnd, lens[b]);
        c.append(seqs[b], kv[0], kv[1]);
      }
      for (int sq : new int[] {1, 5}) {
        Tensor q = gaussian(rnd, 1, lens.length, HQ, sq, D);
        AttentionOptions o = decodeOptions();
        AttentionResult got = quantized(c, q, seqs, o, null);
        AttentionResult want = contiguous(c, q, seqs, o);
        ErrorMetrics e = ErrorMetrics.compare(got.out(), want.out());
        assertTrue(e.maxAbs() <= 1e-6 * maxAbs(want.out()), f + " page " + page + ": " + e);
        assertTrue(ErrorMetrics.compare(got.lse(), want.lse()).maxAbs() <= 1e-5);
        // and the float64 reference on the dequantized values (SEMANTICS tolerance)
        Tensor[] kv = c.gather(seqs);
        AttentionResult ref = ReferenceAttention.INSTANCE.forward(q, kv[0], kv[1],
            o.toBuilder().kvLens(lens).build());
        double err = ErrorMetrics.compare(got.out(), ref.out()).maxAbs();
        assertTrue(err <= 1e-4 * Math.max(1, maxAbs(ref.out())) + 1e-5, f + " vs ref " + err);
      }
    }
  }

  @ParameterizedTest
  @EnumSource(QuantizedKvCache.Format.class)
  void interleavedAppendsGiveTheSameCodesAsOneChunk(QuantizedKvCache.Format f) {
    System.out.println("QuantizedKvCacheTest seed " + (SEED + 10));
    SplittableRandom rnd = new SplittableRandom(SEED + 10 + f.ordinal());
    int page = 32;
    int[] lens = {150, 77, 203};
    Tensor[][] kv = new Tensor[lens.length][];
    for (int b = 0; b < lens.length; b++) {
      kv[b] = data(rnd, lens[b]);
      // growing magnitudes, so that V channel scales grow while pages fill
      float[] v = kv[b][1].floatData();
      for (int i = 0; i < v.length; i++) {
        v[i] *= 1 + (i / DV % lens[b]) * 0.05f;
      }
    }
    QuantizedKvCache bulk = new QuantizedKvCache(HKV, D, DV, page, 100, f);
    QuantizedKvCache steps = new QuantizedKvCache(HKV, D, DV, page, 100, f);
    int[] sb = new int[lens.length];
    int[] ss = new int[lens.length];
    for (int b = 0; b < lens.length; b++) {
      sb[b] = bulk.newSequence();
      bulk.append(sb[b], kv[b][0], kv[b][1]);
      ss[b] = steps.newSequence();
    }
    // token by token and in odd chunks, the sequences interleaved
    int[] at = new int[lens.length];
    for (boolean more = true; more; ) {
      more = false;
      for (int b = 0; b < lens.length; b++) {
        int n = Math.min(lens[b] - at[b], 1 + rnd.nextInt(7));
        if (n > 0) {
          steps.append(ss[b], kv[b][0].slice(1, at[b], at[b] + n),
              kv[b][1].slice(1, at[b], at[b] + n));
          at[b] += n;
          more = true;
        }
      }
    }
    Tensor[] x = bulk.gather(sb);
    Tensor[] y = steps.gather(ss);
    assertArrayEquals(x[0].floatData(), y[0].floatData(), "K");
    assertArrayEquals(x[1].floatData(), y[1].floatData(), "V");
    Tensor q = gaussian(rnd, 1, lens.length, HQ, 1, D);
    AttentionResult a = quantized(bulk, q, sb, decodeOptions(), null);
    AttentionResult c = quantized(steps, q, ss, decodeOptions(), null);
    assertArrayEquals(a.out().floatData(), c.out().floatData());
  }

  /**
   * FP8 NaN codes in the cache make the rows that see them NaN, as on the dequantized cache; the
   * decode kernel scans each run of codes and patches NaN in only where the run holds one.
   */
  @org.junit.jupiter.api.Test
  void fp8NaNCodesGiveNaNRowsLikeTheDequantizedCache() {
    SplittableRandom rnd = new SplittableRandom(SEED + 40);
    int page = 64;
    QuantizedKvCache c = new QuantizedKvCache(HKV, D, DV, page, 16, QuantizedKvCache.Format.FP8);
    int[] lens = {300, 200};
    int[] seqs = new int[lens.length];
    for (int b = 0; b < lens.length; b++) {
      seqs[b] = c.newSequence();
      Tensor[] kv = data(rnd, lens[b]);
      c.append(seqs[b], kv[0], kv[1]);
    }
    // in the first sequence (pages 0-4), a NaN code in the key of token 70 (head 0) and in the
    // value of token 290 (head 1); the second sequence (pages 5-8) has none
    c.page(70 / page).k[(0 * page + 70 % page) * D + 5] = (byte) 0x7F;
    c.page(290 / page).v[(1 * page + 290 % page) * DV + 3] = (byte) 0xFF;
    Tensor[] g = c.gather(seqs);
    assertTrue(Double.isNaN(g[0].getDouble(0, 0, 70, 5)), "key code placed");
    assertTrue(Double.isNaN(g[1].getDouble(0, 1, 290, 3)), "value code placed");
    // one query token per sequence, no mask: every row sees every key of its sequence
    AttentionOptions o = AttentionOptions.builder().returnLse(true).build();
    Tensor q = gaussian(rnd, 1, lens.length, HQ, 1, D);
    AttentionResult got = quantized(c, q, seqs, o, null);
    AttentionResult want = contiguous(c, q, seqs, o);
    double bound = 1e-6 * Arrays.stream(want.out().toDoubleArray()).filter(Double::isFinite)
        .map(Math::abs).max().orElse(1);
    for (int b = 0; b < lens.length; b++) {
      for (int h = 0; h < HQ; h++) {
        boolean nan = b == 0;
        assertEquals(nan, Double.isNaN(got.lse().getDouble(b, h, 0)), "lse " + b + "," + h);
        for (int e = 0; e < DV; e++) {
          double x = got.out().getDouble(b, h, 0, e);
          double y = want.out().getDouble(b, h, 0, e);
          assertEquals(nan, Double.isNaN(x), "batch " + b + " head " + h);
          assertEquals(nan, Double.isNaN(y), "float kernel, batch " + b + " head " + h);
          assertTrue(nan || Math.abs(x - y) <= bound, x + " vs " + y);
        }
      }
    }
  }

  @ParameterizedTest
  @EnumSource(QuantizedKvCache.Format.class)
  void garbageInUnfilledSlotsNeverLeaks(QuantizedKvCache.Format f) {
    System.out.println("QuantizedKvCacheTest seed " + (SEED + 20));
    SplittableRandom rnd = new SplittableRandom(SEED + 20 + f.ordinal());
    int page = 64;
    QuantizedKvCache c = new QuantizedKvCache(HKV, D, DV, page, 8, f);
    int a = c.newSequence();
    Tensor[] big = data(rnd, 8 * page);
    c.append(a, big[0], big[1]);
    c.free(a);
    // poison every slot of every page: NaN codes and scales
    for (int p = 0; p < c.allocatedPages(); p++) {
      QuantizedKvCache.Page pg = c.page(p);
      Arrays.fill(pg.k, (byte) 0x7F);
      Arrays.fill(pg.v, (byte) 0x7F);
      Arrays.fill(pg.kScale, Float.NaN);
      Arrays.fill(pg.vScale, Float.NaN);
      Arrays.fill(pg.vAmax, Float.NaN);
    }
    int s1 = c.newSequence();
    int s2 = c.newSequence();
    Tensor[] x1 = data(rnd, 70);
    Tensor[] x2 = data(rnd, 5);
    for (int t = 0; t < 70; t++) {
      c.append(s1, x1[0].slice(1, t, t + 1), x1[1].slice(1, t, t + 1));
      if (t < 5) {
        c.append(s2, x2[0].slice(1, t, t + 1), x2[1].slice(1, t, t + 1));
      }
    }
    int[] seqs = {s1, s2};
    Tensor q = gaussian(rnd, 1, 2, HQ, 3, D);
    for (AttentionOptions o : new AttentionOptions[] {decodeOptions(),
        AttentionOptions.builder().returnLse(true).build()}) {
      AttentionResult got = quantized(c, q, seqs, o, null);
      for (double v : got.out().toDoubleArray()) {
        assertTrue(Double.isFinite(v), "garbage leaked");
      }
      Tensor[] kv = c.gather(seqs);
      for (double v : kv[0].toDoubleArray()) {
        assertTrue(Double.isFinite(v));
      }
      AttentionResult want = contiguous(c, q, seqs, o);
      assertTrue(ErrorMetrics.compare(got.out(), want.out()).maxAbs()
          <= 1e-6 * maxAbs(want.out()));
    }
  }

  @ParameterizedTest
  @EnumSource(QuantizedKvCache.Format.class)
  void bitwiseTheSameForAnyThreadCountAndAccurate(QuantizedKvCache.Format f) {
    System.out.println("QuantizedKvCacheTest seed " + (SEED + 30));
    SplittableRandom rnd = new SplittableRandom(SEED + 30 + f.ordinal());
    int len = 5000; // long enough for the automatic split-KV
    QuantizedKvCache c = new QuantizedKvCache(HKV, D, DV, 128, 100, f);
    int s = c.newSequence();
    Tensor[] kv = data(rnd, len);
    c.append(s, kv[0], kv[1]);
    Tensor q = gaussian(rnd, 1, 1, HQ, 1, D);
    int[] seqs = {s};
    AttentionOptions o = decodeOptions();
    ForkJoinPool one = new ForkJoinPool(1);
    ForkJoinPool three = new ForkJoinPool(3);
    try {
      AttentionResult a = quantized(c, q, seqs, o, one);
      AttentionResult b = quantized(c, q, seqs, o, three);
      AttentionResult d = quantized(c, q, seqs, o, null);
      assertArrayEquals(a.out().floatData(), b.out().floatData());
      assertArrayEquals(a.out().floatData(), d.out().floatData());
      assertArrayEquals(a.lse().floatData(), b.lse().floatData());
      // accuracy against float64 attention on the unquantized data
      Tensor k4 = Tensor.zeros(DType.F32, 1, HKV, len, D);
      Tensor v4 = Tensor.zeros(DType.F32, 1, HKV, len, DV);
      k4.copyFrom(kv[0].unsqueeze(0));
      v4.copyFrom(kv[1].unsqueeze(0));
      AttentionResult ref = ReferenceAttention.INSTANCE.forward(q, k4, v4, o);
      ErrorMetrics e = ErrorMetrics.compare(a.out(), ref.out());
      System.out.println("  " + f + " decode over " + len + " keys vs float64 on the unquantized"
          + " data: " + e);
      assertTrue(e.cosine() >= (f == QuantizedKvCache.Format.INT8 ? 0.999 : 0.995), f + " " + e);
      assertEquals(len, c.length(s));
    } finally {
      one.shutdown();
      three.shutdown();
    }
  }
}
