package dev.attention4j.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.core.Alignment;
import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionResult;
import dev.attention4j.core.ErrorMetrics;
import dev.attention4j.core.ReferenceAttention;
import dev.attention4j.core.Tensor;
import dev.attention4j.simd.SimdAttention;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class SageAttentionTest {

  static final long SEED = 20250601L;

  static AttentionOptions opts(boolean causal, Alignment align) {
    return AttentionOptions.builder().causal(causal).alignment(align).returnLse(true).build();
  }

  static double maxAbs(Tensor t) {
    double m = 0;
    for (double x : t.toDoubleArray()) {
      m = Math.max(m, Math.abs(x));
    }
    return m;
  }

  @ParameterizedTest
  @EnumSource(SageVariant.class)
  void identityQuantizersReproduceTheDenseKernel(SageVariant variant) {
    System.out.println("SageAttentionTest seed " + SEED);
    // Sq != Sk so that the two alignments differ; GQA 4/2; odd lengths
    SageData data = new SageData(SEED, 2, 4, 2, 77, 301, 64, 1.0);
    for (boolean causal : new boolean[] {false, true}) {
      for (Alignment align : Alignment.values()) {
        AttentionOptions o = opts(causal, align);
        AttentionResult dense = new SimdAttention().forward(data.q, data.k, data.v, o);
        AttentionResult oracle = ReferenceAttention.INSTANCE.forward(data.q, data.k, data.v, o);
        for (SageAttention.Impl impl : SageAttention.Impl.values()) {
          // the fast kernel against the dense kernel, the float64 pipeline against the oracle
          AttentionResult want = impl == SageAttention.Impl.FAST ? dense : oracle;
          for (boolean smoothV : new boolean[] {false, true}) {
            SageAttention sage = SageAttention.builder(variant).impl(impl)
                .identityQuantizers(true).smoothV(smoothV).build();
            AttentionResult r = sage.forward(data.q, data.k, data.v, o);
            // V smoothing rounds V - vbar and O + vbar in float32, and Q smoothing sums the
            // logits as Q~ K~ + qbar K~ (another float32 rounding than Q K): a few more ulps,
            // but no less accurate against the oracle (checked below)
            boolean extra = smoothV || (variant.smoothsQ() && impl == SageAttention.Impl.FAST);
            double tol = (extra ? 4e-6 : 1e-6) * maxAbs(want.out());
            if (extra && impl == SageAttention.Impl.FAST) {
              double mine = ErrorMetrics.compare(r.out(), oracle.out()).maxAbs();
              double theirs = ErrorMetrics.compare(dense.out(), oracle.out()).maxAbs();
              assertTrue(mine <= 2 * theirs + 1e-7, variant + " vs oracle " + mine + " / dense "
                  + theirs);
            }
            ErrorMetrics e = ErrorMetrics.compare(r.out(), want.out());
            String what = variant + " " + impl + " causal=" + causal + " " + align + " smoothV="
                + smoothV;
            assertTrue(e.maxAbs() <= tol, what + ": " + e + " > " + tol);
            // the LSE includes the K-smoothing correction
            ErrorMetrics el = ErrorMetrics.compare(r.lse(), want.lse());
            assertTrue(el.maxAbs() <= 1e-5, what + " LSE " + el);
          }
        }
      }
    }
  }

  @Test
  void kSmoothingShiftsTheLseExactlyInFloat64() {
    // with identity quantizers the float64 pipeline equals the float64 oracle
    SageData data = new SageData(SEED + 1, 1, 2, 1, 40, 200, 32, 8.0);
    Tensor q = Tensor.copyOf(data.q, dev.attention4j.core.DType.F64);
    AttentionOptions o = opts(true, Alignment.BOTTOM_RIGHT);
    AttentionResult want = ReferenceAttention.INSTANCE.forward(data.q, data.k, data.v, o);
    AttentionResult got = SageAttention.builder(SageVariant.SAGE2_INT8)
        .impl(SageAttention.Impl.REFERENCE).identityQuantizers(true).build()
        .forward(q, data.k, data.v, o);
    // float32 smoothing of K with |bias| ~ 8 costs a few ulps of the logits
    assertTrue(ErrorMetrics.compare(got.out(), want.out()).maxAbs() < 2e-6);
    assertTrue(ErrorMetrics.compare(got.lse(), want.lse()).maxAbs() < 2e-5);
  }

  @ParameterizedTest
  @EnumSource(SageVariant.class)
  void fastAndReferenceDifferOnlyInAccumulation(SageVariant variant) {
    // the engine (with the Sage tile hook) against the scalar float64 pipeline; several query
    // blocks of 128, key tiles of 128 and a partial last tile; both alignments
    System.out.println("SageAttentionTest seed " + (SEED + 2));
    SageData data = new SageData(SEED + 2, 1, 4, 2, 300, 333, 64, 8.0);
    SageAttention fastKernel = SageAttention.builder(variant).build();
    assertTrue(fastKernel.usesEngine(), variant + " runs on the engine");
    for (boolean causal : new boolean[] {false, true}) {
      for (Alignment align : Alignment.values()) {
        AttentionOptions o = opts(causal, align);
        AttentionResult fast = fastKernel.forward(data.q, data.k, data.v, o);
        AttentionResult ref = SageAttention.builder(variant).impl(SageAttention.Impl.REFERENCE)
            .build().forward(data.q, data.k, data.v, o);
        ErrorMetrics e = ErrorMetrics.compare(fast.out(), ref.out());
        System.out.println("  " + variant.id() + " causal=" + causal + " " + align
            + " fast vs reference: " + e);
        // float32 accumulation: 1e-4 * max|O|, except where a last-bit difference of a logit
        // moved a quantized P across a rounding boundary (one FP8/FP4 step of one weight: rare,
        // and at most 1/8 of that key's weight): at most 0.2% of the elements, rel L1 <= 1e-4
        double tol = 1e-4 * Math.max(1, maxAbs(ref.out()));
        float[] x = fast.out().floatData();
        double[] y = ref.out().toDoubleArray();
        int over = 0;
        for (int i = 0; i < x.length; i++) {
          over += Math.abs(x[i] - y[i]) > tol ? 1 : 0;
        }
        System.out.println("    elements beyond 1e-4: " + over + " of " + x.length);
        if (variant == SageVariant.SAGE1) {
          assertEquals(0, over, variant + " " + e);
        }
        assertTrue(over <= x.length / 500, variant + " " + over + " elements: " + e);
        assertTrue(e.relativeL1() <= 1e-4, variant + " " + e);
        assertTrue(e.maxAbs() <= 0.125 * maxAbs(data.v) + tol, variant + " " + e);
        // two implementations, not one: they differ in the float32 accumulation
        assertTrue(e.maxAbs() > 0, variant + " fast and reference are bitwise equal");
        assertTrue(ErrorMetrics.compare(fast.lse(), ref.lse()).maxAbs() < 1e-4);
      }
    }
  }

  @ParameterizedTest
  @EnumSource(SageVariant.class)
  void fastKernelIsBitwiseTheSameForAnyThreadCount(SageVariant variant) {
    System.out.println("SageAttentionTest seed " + (SEED + 6));
    SageData data = new SageData(SEED + 6, 2, 4, 2, 200, 200, 64, 8.0);
    AttentionOptions o = opts(true, Alignment.BOTTOM_RIGHT);
    java.util.concurrent.ForkJoinPool one = new java.util.concurrent.ForkJoinPool(1);
    java.util.concurrent.ForkJoinPool three = new java.util.concurrent.ForkJoinPool(3);
    try {
      AttentionResult a = SageAttention.builder(variant).pool(one).build()
          .forward(data.q, data.k, data.v, o);
      AttentionResult b = SageAttention.builder(variant).pool(three).build()
          .forward(data.q, data.k, data.v, o);
      AttentionResult c = SageAttention.builder(variant).build()
          .forward(data.q, data.k, data.v, o);
      assertTrue(java.util.Arrays.equals(a.out().floatData(), b.out().floatData()), "1 vs 3");
      assertTrue(java.util.Arrays.equals(a.out().floatData(), c.out().floatData()), "1 vs common");
      assertTrue(java.util.Arrays.equals(a.lse().floatData(), b.lse().floatData()), "LSE");
    } finally {
      one.shutdown();
      three.shutdown();
    }
  }

  @Test
  void finerGroupsQuantizeWithNoLargerError() {
    SplittableRandom rnd = new SplittableRandom(SEED + 3);
    int rows = 256;
    int d = 64;
    float[] x = new float[rows * d];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) (rnd.nextGaussian() * (1 + (i / d) % 5));
    }
    double thread = err(x, rows, d, SagePrep.Grouping.THREAD_Q);
    double block128 = err(x, rows, d, SagePrep.Grouping.BLOCK_128);
    double threadK = err(x, rows, d, SagePrep.Grouping.THREAD_K);
    double block64 = err(x, rows, d, SagePrep.Grouping.BLOCK_64);
    assertTrue(thread <= block128, thread + " vs " + block128);
    assertTrue(threadK <= block64, threadK + " vs " + block64);
    assertTrue(block64 <= block128, block64 + " vs " + block128);
  }

  private static double err(float[] x, int rows, int d, SagePrep.Grouping g) {
    float[] out = new float[x.length];
    SagePrep.intRows(x, out, 0, rows, d, IntQuant.INT8_MAX, g);
    double m = 0;
    for (int i = 0; i < x.length; i++) {
      m = Math.max(m, Math.abs(out[i] - x[i]));
    }
    return m;
  }

  @Test
  void pScalingCancels() {
    // sage2 with identity quantizers scales P by 448 before the (skipped) quantization
    SageData data = new SageData(SEED + 4, 1, 2, 2, 64, 300, 32, 0.0);
    AttentionOptions o = opts(false, Alignment.BOTTOM_RIGHT);
    AttentionResult a = SageAttention.builder(SageVariant.SAGE1)
        .impl(SageAttention.Impl.REFERENCE).identityQuantizers(true).build()
        .forward(data.q, data.k, data.v, o);
    AttentionResult b = SageAttention.builder(SageVariant.SAGE3_NVFP4)
        .impl(SageAttention.Impl.REFERENCE).identityQuantizers(true).build()
        .forward(data.q, data.k, data.v, o);
    assertTrue(ErrorMetrics.compare(a.out(), b.out()).maxAbs() < 1e-6);
    assertTrue(ErrorMetrics.compare(a.lse(), b.lse()).maxAbs() < 1e-6);
  }

  @Test
  void fp22AccumulationIsCloseButNotIdentical() {
    SageData data = new SageData(SEED + 5, 1, 2, 1, 64, 512, 64, 8.0);
    AttentionOptions o = opts(false, Alignment.BOTTOM_RIGHT);
    AttentionResult a = SageAttention.builder(SageVariant.SAGE2_INT8)
        .impl(SageAttention.Impl.REFERENCE).build().forward(data.q, data.k, data.v, o);
    AttentionResult b = SageAttention.builder(SageVariant.SAGE2_INT8)
        .accumulation(SageAttention.Accumulation.FP22).build().forward(data.q, data.k, data.v, o);
    double e = ErrorMetrics.compare(a.out(), b.out()).maxAbs();
    assertTrue(e > 0 && e < 1e-3, "fp22 vs fp32: " + e);
  }

  @Test
  void rejectsWhatItDoesNotImplement() {
    SageData data = new SageData(SEED, 1, 2, 1, 8, 8, 16, 0);
    SageAttention sage = SageAttention.builder(SageVariant.SAGE1).build();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> sage.forward(data.q, data.k, data.v,
            AttentionOptions.builder().softcap(30).build()));
    assertTrue(e.getMessage().contains("softcap"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> sage.forward(data.q, data.k, data.v,
        AttentionOptions.builder().window(4, 0).build()));
    assertThrows(IllegalArgumentException.class, () -> SageVariant.byId("sage4"));
    assertEquals(SageVariant.SAGE2_INT4, SageVariant.byId("sage2-int4"));
  }

  @Test
  void emptyCausalRowsGiveZeroAndMinusInfinity() {
    // top-left with Sq > Sk: rows past the keys still see key 0..; use kv shorter than queries
    SageData data = new SageData(SEED, 1, 2, 1, 20, 10, 16, 0);
    AttentionOptions o = opts(true, Alignment.BOTTOM_RIGHT); // off = -10: rows 0..9 see nothing
    for (SageAttention.Impl impl : SageAttention.Impl.values()) {
      for (SageVariant v : SageVariant.values()) {
        AttentionResult r = SageAttention.builder(v).impl(impl).build()
            .forward(data.q, data.k, data.v, o);
        for (int i = 0; i < 10; i++) {
          assertEquals(Double.NEGATIVE_INFINITY, r.lse().getDouble(0, 0, i), v + " " + impl);
          assertEquals(0.0, r.out().getDouble(0, 1, i, 3));
        }
        assertTrue(Double.isFinite(r.lse().getDouble(0, 0, 15)));
      }
    }
  }
  @ParameterizedTest
  @EnumSource(SageVariant.class)
  void keysNoRowCanSeeDoNotReachTheResult(SageVariant variant) {
    // top-left causal with Sq = 40 < Sk = 200: keys 40.. are masked for every row, so NaN,
    // infinities or huge values there change nothing, bitwise (they used to enter the K mean,
    // the K block scales and the V scales, and made every row NaN)
    SageData data = new SageData(SEED + 7, 1, 2, 1, 40, 200, 32, 8.0);
    SageData dirty = new SageData(SEED + 7, 1, 2, 1, 40, 200, 32, 8.0);
    float[] k = dirty.k.floatData();
    float[] v = dirty.v.floatData();
    for (int j = 40; j < 200; j++) {
      for (int c = 0; c < 32; c++) {
        k[j * 32 + c] = j % 3 == 0 ? Float.NaN : j % 3 == 1 ? 1e30f : Float.NEGATIVE_INFINITY;
        v[j * 32 + c] = j % 2 == 0 ? Float.POSITIVE_INFINITY : -3e29f;
      }
    }
    AttentionOptions o = opts(true, Alignment.TOP_LEFT);
    for (SageAttention.Impl impl : SageAttention.Impl.values()) {
      SageAttention sage = SageAttention.builder(variant).impl(impl).build();
      AttentionResult clean = sage.forward(data.q, data.k, data.v, o);
      AttentionResult r = sage.forward(dirty.q, dirty.k, dirty.v, o);
      String what = variant + " " + impl;
      assertTrue(java.util.Arrays.equals(clean.out().floatData(), r.out().floatData()), what);
      assertTrue(java.util.Arrays.equals(clean.lse().floatData(), r.lse().floatData()), what);
      assertTrue(maxAbs(clean.out()) > 0 && Double.isFinite(maxAbs(clean.out())), what);
    }
  }
  @ParameterizedTest
  @EnumSource(SageVariant.class)
  void nonFiniteInputsReachOnlyTheRowsThatSeeThem(SageVariant variant) {
    // SEMANTICS.md: NaN in a query makes its own row NaN, and NaN or Inf in a visible key or
    // value the rows that see it; nothing else. The quantization statistics (smoothing means,
    // block and channel scales) leave non-finite entries out, and those entries are carried
    // through to the dequantized operands.
    int s = 200;
    int d = 32;
    AttentionOptions o = opts(true, Alignment.BOTTOM_RIGHT);
    for (int fault = 0; fault < 4; fault++) {
      SageData data = new SageData(SEED + 8, 1, 2, 1, s, s, d, 8.0);
      switch (fault) {
        case 0 -> data.q.floatData()[(s + 7) * d + 3] = Float.NaN; // head 1, query 7
        case 1 -> data.k.floatData()[150 * d + 3] = Float.NaN;
        case 2 -> data.v.floatData()[150 * d + 3] = Float.POSITIVE_INFINITY;
        default -> data.k.floatData()[150 * d + 3] = Float.NEGATIVE_INFINITY;
      }
      for (SageAttention.Impl impl : SageAttention.Impl.values()) {
        AttentionResult r = SageAttention.builder(variant).impl(impl).build()
            .forward(data.q, data.k, data.v, o);
        for (int h = 0; h < 2; h++) {
          for (int i = 0; i < s; i++) {
            boolean sees = fault == 0 ? h == 1 && i == 7 : i >= 150;
            boolean finite = Double.isFinite(r.lse().getDouble(0, h, i));
            for (int e = 0; e < d; e++) {
              finite &= Double.isFinite(r.out().getDouble(0, h, i, e));
            }
            String what = variant + " " + impl + " fault " + fault + " head " + h + " row " + i;
            if (!sees) {
              assertTrue(finite, what + " does not see the fault but is not finite");
            } else if (fault < 2) {
              assertTrue(Double.isNaN(r.out().getDouble(0, h, i, 0)), what + " should be NaN");
            }
          }
        }
      }
    }
  }
}
