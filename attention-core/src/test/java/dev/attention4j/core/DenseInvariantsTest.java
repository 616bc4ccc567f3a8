package dev.attention4j.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.SplittableRandom;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The dense invariants of kernel-notes §1.6, checked on the float64 reference. */
class DenseInvariantsTest {

  static final double TOL = 1e-11;
  static final ReferenceAttention REF = ReferenceAttention.INSTANCE;

  static Stream<Arguments> seeds() {
    return IntStream.range(0, 12).mapToObj(c -> Arguments.of(0xD15EA5EL + c));
  }

  record Problem(Tensor q, Tensor k, Tensor v, int hq, int hkv, int sq, int sk, int d, int dv) {
  }

  static Problem problem(long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    int hkv = 1 + rnd.nextInt(2);
    int hq = hkv * (1 + rnd.nextInt(3));
    int sk = 1 + rnd.nextInt(70);
    int sq = 1 + rnd.nextInt(sk);
    int d = 1 + rnd.nextInt(40);
    int dv = 1 + rnd.nextInt(40);
    System.out.printf("seed %d: Hq=%d Hkv=%d Sq=%d Sk=%d D=%d Dv=%d%n", seed, hq, hkv, sq, sk, d,
        dv);
    return new Problem(TestTensors.gaussian(rnd, DType.F64, 1, 2, hq, sq, d),
        TestTensors.gaussian(rnd, DType.F64, 1, 2, hkv, sk, d),
        TestTensors.gaussian(rnd, DType.F64, 1, 2, hkv, sk, dv), hq, hkv, sq, sk, d, dv);
  }

  static void assertClose(Tensor expected, Tensor actual, double tol, String what) {
    double[] e = expected.toDoubleArray();
    double[] a = actual.toDoubleArray();
    assertEquals(e.length, a.length, what + ": sizes");
    double scale = 1;
    for (double x : e) {
      if (Double.isFinite(x)) {
        scale = Math.max(scale, Math.abs(x));
      }
    }
    for (int i = 0; i < e.length; i++) {
      if (e[i] == a[i]) {
        continue;
      }
      if (!(Math.abs(e[i] - a[i]) <= tol * scale)) {
        fail(what + ": element " + i + " expected " + e[i] + " got " + a[i]);
      }
    }
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void fullWindowEqualsDense(long seed) {
    Problem p = problem(seed);
    AttentionResult dense = REF.forward(p.q, p.k, p.v, AttentionOptions.defaults());
    for (int[] w : new int[][] {{-1, -1}, {p.sk, p.sk}, {p.sk + 5, -1}}) {
      AttentionResult win = REF.forward(p.q, p.k, p.v,
          AttentionOptions.builder().window(w[0], w[1]).build());
      assertClose(dense.out(), win.out(), 0, "window " + w[0] + "," + w[1]);
      assertClose(dense.lse(), win.lse(), 0, "window LSE");
    }
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void leftUnboundedRightZeroWindowEqualsCausal(long seed) {
    Problem p = problem(seed);
    for (Alignment al : Alignment.values()) {
      AttentionResult causal = REF.forward(p.q, p.k, p.v,
          AttentionOptions.builder().causal(true).alignment(al).build());
      AttentionResult win = REF.forward(p.q, p.k, p.v,
          AttentionOptions.builder().window(-1, 0).alignment(al).build());
      assertClose(causal.out(), win.out(), 0, "window (-1,0) " + al);
      assertClose(causal.lse(), win.lse(), 0, "window (-1,0) LSE " + al);
    }
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void gqaEqualsRepeatedHeads(long seed) {
    Problem p = problem(seed);
    int group = p.hq / p.hkv;
    Tensor kr = Tensor.zeros(DType.F64, 2, p.hq, p.sk, p.d);
    Tensor vr = Tensor.zeros(DType.F64, 2, p.hq, p.sk, p.dv);
    for (int h = 0; h < p.hq; h++) {
      kr.slice(1, h, h + 1).copyFrom(p.k.slice(1, h / group, h / group + 1));
      vr.slice(1, h, h + 1).copyFrom(p.v.slice(1, h / group, h / group + 1));
    }
    AttentionOptions o = AttentionOptions.builder().causal(true).softcap(5).build();
    AttentionResult gqa = REF.forward(p.q, p.k, p.v, o);
    AttentionResult mha = REF.forward(p.q, kr, vr, o);
    assertClose(mha.out(), gqa.out(), 0, "GQA O");
    assertClose(mha.lse(), gqa.lse(), 0, "GQA LSE");
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void constantShiftMovesOnlyLse(long seed) {
    Problem p = problem(seed);
    double shift = 3.25;
    AttentionOptions base = AttentionOptions.builder().causal(true).build();
    AttentionOptions shifted = base.toBuilder().scoreMod((s, b, h, i, j) -> s + shift).build();
    AttentionResult a = REF.forward(p.q, p.k, p.v, base);
    AttentionResult c = REF.forward(p.q, p.k, p.v, shifted);
    assertClose(a.out(), c.out(), TOL, "O under a constant shift");
    double[] la = a.lse().toDoubleArray();
    double[] lc = c.lse().toDoubleArray();
    for (int i = 0; i < la.length; i++) {
      if (la[i] == Double.NEGATIVE_INFINITY) {
        assertEquals(la[i], lc[i]);
      } else {
        assertEquals(la[i] + shift, lc[i], TOL * Math.max(1, Math.abs(lc[i])), "LSE + shift");
      }
    }
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void alignmentsAgreeWhenSquare(long seed) {
    Problem p = problem(seed);
    Tensor q = p.q.slice(2, 0, Math.min(p.sq, p.sk));
    Tensor k = p.k.slice(2, 0, q.dim(2));
    Tensor v = p.v.slice(2, 0, q.dim(2));
    AttentionOptions.Builder b = AttentionOptions.builder().causal(true).window(3, -1)
        .alibiSlopes(IntStream.range(0, p.hq).mapToDouble(h -> 0.1 * (h + 1)).toArray());
    AttentionResult br = REF.forward(q, k, v, b.alignment(Alignment.BOTTOM_RIGHT).build());
    AttentionResult tl = REF.forward(q, k, v, b.alignment(Alignment.TOP_LEFT).build());
    assertClose(br.out(), tl.out(), 0, "alignments, O");
    assertClose(br.lse(), tl.lse(), 0, "alignments, LSE");
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void bottomRightIsTheTailOfALongerCausalRun(long seed) {
    Problem p = problem(seed);
    // a full-length query set whose last Sq rows are p.q
    SplittableRandom rnd = new SplittableRandom(seed ^ 77);
    Tensor full = TestTensors.gaussian(rnd, DType.F64, 1, 2, p.hq, p.sk, p.d);
    full.slice(2, p.sk - p.sq, p.sk).copyFrom(p.q);
    AttentionOptions causal = AttentionOptions.builder().causal(true).build();
    AttentionResult whole = REF.forward(full, p.k, p.v, causal);
    AttentionResult tail = REF.forward(p.q, p.k, p.v, causal);
    assertClose(whole.out().slice(2, p.sk - p.sq, p.sk), tail.out(), TOL, "tail O");
    assertClose(whole.lse().slice(2, p.sk - p.sq, p.sk), tail.lse(), TOL, "tail LSE");
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void splitAndMergeEqualsWhole(long seed) {
    Problem p = problem(seed);
    int cut = new SplittableRandom(seed).nextInt(p.sk + 1);
    AttentionOptions base = AttentionOptions.builder().causal(true).softcap(7).build();
    AttentionResult whole = REF.forward(p.q, p.k, p.v, base);
    AttentionResult lo = REF.forward(p.q, p.k, p.v,
        base.toBuilder().maskMod((b, h, i, j) -> j < cut).build());
    AttentionResult hi = REF.forward(p.q, p.k, p.v,
        base.toBuilder().maskMod((b, h, i, j) -> j >= cut).build());
    Tensor o = Tensor.zeros(DType.F64, whole.out().shape());
    Tensor l = Tensor.zeros(DType.F64, whole.lse().shape());
    LseMerge.merge(lo.out(), lo.lse(), hi.out(), hi.lse(), o, l);
    assertClose(whole.out(), o, TOL, "merged O (cut " + cut + ")");
    assertClose(whole.lse(), l, TOL, "merged LSE (cut " + cut + ")");
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void permutingKeysWithValuesChangesNothing(long seed) {
    Problem p = problem(seed);
    int[] perm = IntStream.range(0, p.sk).toArray();
    SplittableRandom rnd = new SplittableRandom(seed);
    for (int i = perm.length - 1; i > 0; i--) {
      int j = rnd.nextInt(i + 1);
      int t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
    Tensor kp = Tensor.zeros(DType.F64, p.k.shape());
    Tensor vp = Tensor.zeros(DType.F64, p.v.shape());
    for (int j = 0; j < p.sk; j++) {
      kp.slice(2, j, j + 1).copyFrom(p.k.slice(2, perm[j], perm[j] + 1));
      vp.slice(2, j, j + 1).copyFrom(p.v.slice(2, perm[j], perm[j] + 1));
    }
    AttentionResult a = REF.forward(p.q, p.k, p.v, AttentionOptions.defaults());
    AttentionResult b = REF.forward(p.q, kp, vp, AttentionOptions.defaults());
    assertClose(a.out(), b.out(), TOL, "permuted keys O");
    assertClose(a.lse(), b.lse(), TOL, "permuted keys LSE");
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void hugeSoftcapRecoversPlainLogits(long seed) {
    Problem p = problem(seed);
    AttentionResult a = REF.forward(p.q, p.k, p.v, AttentionOptions.defaults());
    AttentionResult b = REF.forward(p.q, p.k, p.v,
        AttentionOptions.builder().softcap(1e9).build());
    assertClose(a.out(), b.out(), 1e-12, "softcap 1e9");
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void stridedViewEqualsContiguous(long seed) {
    Problem p = problem(seed);
    // the same values stored as [B, S, H, D] and viewed as [B, H, S, D]
    Tensor qBshd = Tensor.zeros(DType.F64, 2, p.sq, p.hq, p.d).permute(0, 2, 1, 3);
    qBshd.copyFrom(p.q);
    Tensor kBshd = Tensor.zeros(DType.F32, 2, p.sk, p.hkv, p.d).permute(0, 2, 1, 3);
    kBshd.copyFrom(p.k);
    Tensor kF32 = Tensor.copyOf(p.k, DType.F32);
    AttentionOptions o = AttentionOptions.builder().causal(true).build();
    AttentionResult a = REF.forward(p.q, kF32, p.v, o);
    AttentionResult b = REF.forward(qBshd, kBshd, p.v, o);
    assertClose(a.out(), b.out(), 0, "strided O");
  }

  @Test
  void halfPrecisionStorageIsReadExactly() {
    SplittableRandom rnd = new SplittableRandom(11);
    Tensor k16 = TestTensors.gaussian(rnd, DType.F16, 1, 1, 2, 33, 16);
    Tensor vbf = TestTensors.gaussian(rnd, DType.BF16, 1, 1, 2, 33, 8);
    Tensor q = TestTensors.gaussian(rnd, DType.F64, 1, 1, 4, 9, 16);
    AttentionResult a = REF.forward(q, k16, vbf, AttentionOptions.defaults());
    AttentionResult b = REF.forward(q, Tensor.copyOf(k16, DType.F64),
        Tensor.copyOf(vbf, DType.F64), AttentionOptions.defaults());
    assertArrayEquals(b.out().toDoubleArray(), a.out().toDoubleArray(), 0);
  }

  @Test
  void emptyRowsAreExactlyZeroWithMinusInfinityLse() {
    SplittableRandom rnd = new SplittableRandom(5);
    Tensor q = TestTensors.gaussian(rnd, DType.F64, 1, 2, 2, 9, 4);
    Tensor k = TestTensors.gaussian(rnd, DType.F64, 1, 2, 1, 4, 4);
    Tensor v = TestTensors.gaussian(rnd, DType.F64, 1, 2, 1, 4, 3);
    // bottom-right causal with Sq > Sk: the first Sq - Sk = 5 rows see nothing; batch 1 has no keys
    AttentionResult r = REF.forward(q, k, v,
        AttentionOptions.builder().causal(true).kvLens(4, 0).build());
    for (int h = 0; h < 2; h++) {
      for (int i = 0; i < 9; i++) {
        boolean empty0 = i < 5;
        assertEquals(empty0, r.lse().getDouble(0, h, i) == Double.NEGATIVE_INFINITY, "row " + i);
        assertEquals(Double.NEGATIVE_INFINITY, r.lse().getDouble(1, h, i));
        for (int c = 0; c < 3; c++) {
          assertEquals(0.0, r.out().getDouble(1, h, i, c));
          if (empty0) {
            assertEquals(0.0, r.out().getDouble(0, h, i, c));
          } else {
            assertTrue(Double.isFinite(r.out().getDouble(0, h, i, c)));
          }
        }
      }
    }
  }

  @Test
  void maskedAndPaddedSlotsNeverLeak() {
    SplittableRandom rnd = new SplittableRandom(9);
    Tensor q = TestTensors.gaussian(rnd, DType.F64, 1, 1, 1, 6, 4);
    Tensor k = TestTensors.gaussian(rnd, DType.F64, 1, 1, 1, 10, 4);
    Tensor v = TestTensors.gaussian(rnd, DType.F64, 1, 1, 1, 10, 4);
    AttentionOptions o = AttentionOptions.builder().causal(true).alignment(Alignment.TOP_LEFT)
        .kvLens(8).build();
    AttentionResult clean = REF.forward(q, k, v, o);
    // row 5 (top-left) sees keys 0..5; keys 6, 7 are masked, 8, 9 are padding
    for (int j = 6; j < 10; j++) {
      k.set(Double.NaN, 0, 0, j, 1);
      v.set(Double.POSITIVE_INFINITY, 0, 0, j, 2);
    }
    AttentionResult dirty = REF.forward(q, k, v, o);
    assertArrayEquals(clean.out().toDoubleArray(), dirty.out().toDoubleArray(), 0);
    assertArrayEquals(clean.lse().toDoubleArray(), dirty.lse().toDoubleArray(), 0);
    // a NaN in a visible key reaches exactly the rows that see it
    k.set(Double.NaN, 0, 0, 3, 0);
    AttentionResult seen = REF.forward(q, k, v, o);
    for (int i = 0; i < 6; i++) {
      assertEquals(i >= 3, Double.isNaN(seen.out().getDouble(0, 0, i, 0)), "row " + i);
    }
  }
}
