package dev.attention4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.attention4j.cli.EntryPoints.Cap;
import dev.attention4j.cli.EntryPoints.Entry;
import dev.attention4j.cli.EntryPoints.Out;
import dev.attention4j.cli.EntryPoints.Spec;
import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.DType;
import dev.attention4j.core.PagedKvCache;
import dev.attention4j.core.Tensor;
import dev.attention4j.quant.QuantizedKvCache;
import dev.attention4j.simd.SimdAttention;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ForkJoinPool;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The bad-input matrix over every public attention entry point (SEMANTICS.md): shapes that
 * disagree are rejected with an {@link IllegalArgumentException} naming the numbers; zero-length
 * axes give their defined result (empty, or O = 0 and LSE = -inf when no key exists) without an
 * exception; NaN and Inf in a query row, a visible key or value, or a masked or padded slot reach
 * exactly the rows SEMANTICS.md says and no other.
 */
class BadInputMatrixTest {

  static final int B = 2;
  static final int HQ = 4;
  static final int HKV = 2;
  static final int S = 24;
  static final int D = 16;
  static final int DV = 16;
  static final long SEED = 0x5eed_8L;

  static List<Entry> all() {
    List<Entry> all = new ArrayList<>(EntryPoints.softmax(ForkJoinPool.commonPool()));
    all.addAll(EntryPoints.linear(ForkJoinPool.commonPool()));
    return all;
  }

  static Stream<Entry> entries() {
    return all().stream();
  }

  /** The first spec an entry takes: plain if it can, else causal. */
  static Spec spec(Entry e) {
    return e.takes(Spec.PLAIN) ? Spec.PLAIN : Spec.CAUSAL;
  }

  static Tensor[] inputs(long seed, int sq, int sk) {
    Random rng = new Random(seed);
    return new Tensor[] {EntryPoints.gaussian(rng, B, HQ, sq, D),
        EntryPoints.gaussian(rng, B, HKV, sk, D), EntryPoints.gaussian(rng, B, HKV, sk, DV)};
  }

  // ---- shapes that disagree

  record Bad(String what, String fragment, Supplier<Tensor[]> qkv) {
  }

  static List<Bad> badShapes() {
    Random rng = new Random(SEED);
    Tensor q = EntryPoints.gaussian(rng, B, HQ, S, D);
    Tensor k = EntryPoints.gaussian(rng, B, HKV, S, D);
    Tensor v = EntryPoints.gaussian(rng, B, HKV, S, DV);
    return List.of(
        new Bad("Q of rank 3", "rank 3", () -> new Tensor[] {
            EntryPoints.gaussian(rng, HQ, S, D), k, v}),
        new Bad("K of rank 5", "rank 5", () -> new Tensor[] {q,
            k.unsqueeze(0), v}),
        new Bad("K head dim 12 != Q head dim 16", "12", () -> new Tensor[] {q,
            EntryPoints.gaussian(rng, B, HKV, S, 12), v}),
        new Bad("V length 23 != K length 24", "23", () -> new Tensor[] {q, k,
            EntryPoints.gaussian(rng, B, HKV, S - 1, DV)}),
        new Bad("V heads 1 != K heads 2", "1", () -> new Tensor[] {q, k,
            EntryPoints.gaussian(rng, B, 1, S, DV)}),
        new Bad("3 query heads over 2 KV heads", "not a multiple", () -> new Tensor[] {
            EntryPoints.gaussian(rng, B, 3, S, D), k, v}),
        new Bad("0 KV heads", "0", () -> new Tensor[] {q,
            Tensor.zeros(DType.F32, B, 0, S, D), Tensor.zeros(DType.F32, B, 0, S, DV)}),
        new Bad("batch 3 in K and V", "3", () -> new Tensor[] {q,
            EntryPoints.gaussian(rng, 3, HKV, S, D), EntryPoints.gaussian(rng, 3, HKV, S, DV)}));
  }

  static Stream<Arguments> entriesAndBadShapes() {
    List<Arguments> out = new ArrayList<>();
    for (Entry e : all()) {
      for (Bad b : badShapes()) {
        out.add(Arguments.of(e, b.what(), b));
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("entriesAndBadShapes")
  void shapesThatDisagreeAreRejectedNamingTheNumbers(Entry e, String what, Bad bad) {
    Tensor[] t = bad.qkv().get();
    IllegalArgumentException x = assertThrows(IllegalArgumentException.class,
        () -> e.run(t[0], t[1], t[2], spec(e)), what);
    assertTrue(x.getMessage() != null && x.getMessage().contains(bad.fragment()),
        () -> what + ": message '" + x.getMessage() + "' should contain '" + bad.fragment() + "'");
  }

  // ---- zero-length axes

  @ParameterizedTest(name = "{0}")
  @MethodSource("entries")
  void noQueriesGiveAnEmptyResult(Entry e) {
    int sk = e.has(Cap.SQUARE) ? 0 : S;
    Tensor[] t = inputs(SEED, 0, sk);
    if (e.name().startsWith("Neighborhood")) {
      // a grid axis has length >= 1: an empty sequence has no grid
      IllegalArgumentException x = assertThrows(IllegalArgumentException.class,
          () -> e.run(t[0], t[1], t[2], spec(e)));
      assertTrue(x.getMessage().contains("grid length 0"), x.getMessage());
      return;
    }
    Out o = e.run(t[0], t[1], t[2], spec(e));
    assertEquals(0, o.o().length);
    if (o.lse() != null) {
      assertEquals(0, o.lse().length);
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("entries")
  void noKeysGiveZeroRowsAndMinusInfinity(Entry e) {
    if (e.has(Cap.SQUARE) || e.name().startsWith("Moba")) {
      // Sq <= Sk is required, so Sk = 0 means Sq = 0: covered above
      return;
    }
    Tensor[] t = inputs(SEED, 5, 0);
    Out o = e.run(t[0], t[1], t[2], spec(e));
    assertEquals(B * HQ * 5 * DV, o.o().length);
    for (float x : o.o()) {
      assertEquals(0f, x, "O with no keys");
    }
    if (o.lse() != null) {
      for (float x : o.lse()) {
        assertEquals(Float.NEGATIVE_INFINITY, x, "LSE with no keys");
      }
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("entries")
  void noBatchesGiveAnEmptyResult(Entry e) {
    Random rng = new Random(SEED);
    Tensor q = EntryPoints.gaussian(rng, 0, HQ, S, D);
    Tensor k = EntryPoints.gaussian(rng, 0, HKV, S, D);
    Tensor v = EntryPoints.gaussian(rng, 0, HKV, S, DV);
    Out o = e.run(q, k, v, spec(e));
    assertEquals(0, o.o().length);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("entries")
  void keyLengthsPastTheKeysAreRejected(Entry e) {
    if (!e.has(Cap.KV_LENS)) {
      return;
    }
    Tensor[] t = inputs(SEED, S, S);
    IllegalArgumentException x = assertThrows(IllegalArgumentException.class,
        () -> e.run(t[0], t[1], t[2], new Spec(false, new int[] {S, S + 1})));
    assertTrue(x.getMessage().contains(String.valueOf(S + 1)), x.getMessage());
  }

  // ---- NaN and Inf

  /** Row {@code r} (flattened {@code (b, h, i)}) of O is all NaN. */
  static boolean nanRow(float[] o, int r, int dv) {
    for (int c = 0; c < dv; c++) {
      if (!Float.isNaN(o[r * dv + c])) {
        return false;
      }
    }
    return true;
  }

  static boolean sameRow(float[] a, float[] b, int r, int dv) {
    for (int c = 0; c < dv; c++) {
      if (Float.floatToIntBits(a[r * dv + c]) != Float.floatToIntBits(b[r * dv + c])) {
        return false;
      }
    }
    return true;
  }

  static Stream<Arguments> entriesAndSpecs() {
    List<Arguments> out = new ArrayList<>();
    for (Entry e : all()) {
      for (Spec s : List.of(Spec.PLAIN, Spec.CAUSAL)) {
        if (e.takes(s)) {
          out.add(Arguments.of(e, s.causal() ? "causal" : "plain", s));
        }
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("entriesAndSpecs")
  void nanInAQueryMakesOnlyItsRowNan(Entry e, String label, Spec spec) {
    Tensor[] t = inputs(SEED, S, S);
    Out clean = e.run(t[0], t[1], t[2], spec);
    int b = 1;
    int h = 3;
    int i = 7;
    t[0].set(Float.NaN, b, h, i, 5);
    Out bad = e.run(t[0], t[1], t[2], spec);
    int poisoned = (b * HQ + h) * S + i;
    for (int r = 0; r < B * HQ * S; r++) {
      if (r == poisoned) {
        assertTrue(nanRow(bad.o(), r, DV), "the poisoned query's row is NaN");
        if (bad.lse() != null) {
          assertTrue(Float.isNaN(bad.lse()[r]), "the poisoned query's LSE is NaN");
        }
      } else if (e.name().startsWith("Nabla") && r / 8 == poisoned / 8) {
        // NABLA routes by the mean query of a block of 8 rows: the NaN reaches the block's
        // routing, so the other rows of its block may attend other key blocks (never NaN)
        assertTrue(finiteRow(bad.o(), r, DV), "row " + r + " of the poisoned query block");
      } else if (!e.has(Cap.QUANTIZED)) {
        assertTrue(sameRow(clean.o(), bad.o(), r, DV), "row " + r + " unchanged");
      } else if (sage(e)) {
        // Sage leaves the NaN out of the Q smoothing mean and the Q block scales: the other
        // rows of the poisoned head may change (those statistics moved) but stay finite
        boolean sameHead = r / S == poisoned / S;
        assertTrue(sameRow(clean.o(), bad.o(), r, DV) || sameHead && finiteRow(bad.o(), r, DV),
            "row " + r + " unchanged or, in the poisoned head, finite");
      } else {
        // Q is quantized per block of query rows: only the rows of the poisoned query's head
        // may change, and only to NaN
        boolean sameHead = r / S == poisoned / S;
        assertTrue(sameRow(clean.o(), bad.o(), r, DV) || sameHead && nanRow(bad.o(), r, DV),
            "row " + r + " unchanged or, in the poisoned head, NaN");
      }
    }
  }

  static Stream<Arguments> poisonCases() {
    List<Arguments> out = new ArrayList<>();
    for (Arguments a : entriesAndSpecs().toList()) {
      for (String where : List.of("key NaN", "key +Inf", "value NaN", "value -Inf")) {
        Object[] x = a.get();
        out.add(Arguments.of(x[0], x[1] + ", " + where, x[2], where));
      }
    }
    return out.stream();
  }

  /**
   * A non-finite key or value. Rows of other batches and KV heads, and rows that do not see the
   * key under the dense rules of the call, are unchanged bitwise (the routed and quantized
   * kernels excepted for the latter, see below). Rows that see it: in every exact kernel, NaN
   * sits exactly where the float64 reference puts it (SEMANTICS.md: the whole O row and the LSE
   * of every row that sees the key). A NaN is never lost: in every kernel, a row that sees a NaN
   * contains a NaN.
   */
  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("poisonCases")
  void nonFiniteKeyOrValueReachesExactlyTheRowsThatSeeIt(Entry e, String label, Spec spec,
      String where) {
    Tensor[] t = inputs(SEED, S, S);
    Out clean = e.run(t[0], t[1], t[2], spec);
    int b = 0;
    int g = 1;
    int j = 13;
    boolean nan = where.endsWith("NaN");
    float value = nan ? Float.NaN
        : where.endsWith("-Inf") ? Float.NEGATIVE_INFINITY : Float.POSITIVE_INFINITY;
    (where.startsWith("key") ? t[1] : t[2]).set(value, b, g, j, 3);
    Out bad = e.run(t[0], t[1], t[2], spec);
    boolean softmax = e.has(Cap.LSE);
    boolean exact = softmax && !e.has(Cap.QUANTIZED) && !routed(e);
    Out ref = exact ? EntryPoints.kernel(dev.attention4j.core.ReferenceAttention.INSTANCE, t[0],
        t[1], t[2], spec.options()) : null;
    int group = HQ / HKV;
    for (int bb = 0; bb < B; bb++) {
      for (int h = 0; h < HQ; h++) {
        for (int i = 0; i < S; i++) {
          int r = (bb * HQ + h) * S + i;
          boolean reached = bb == b && h / group == g;
          boolean sees = reached && spec.visible(bb, S, S, i, j);
          if (!reached || !sees && !e.has(Cap.QUANTIZED)) {
            assertTrue(sameRow(clean.o(), bad.o(), r, DV), "row " + r + " unchanged");
            continue;
          }
          if (!sees && sage(e)) {
            // Sage leaves non-finite entries out of the K mean and the K and V scales: a row
            // that does not see the entry may change (those statistics moved) but stays finite
            assertTrue(finiteRow(bad.o(), r, DV), "row " + r + " does not see it and is finite");
            continue;
          }
          if (!sees) {
            // quantized: K and V are quantized per block of tokens (and K smoothed by its
            // mean), so a non-finite entry reaches its whole block; never silently finite
            assertTrue(sameRow(clean.o(), bad.o(), r, DV) || !finiteRow(bad.o(), r, DV),
                "row " + r + " unchanged or non-finite");
            continue;
          }
          if (exact) {
            for (int c = 0; c < DV; c++) {
              int at = r * DV + c;
              assertEquals(kind(ref.o()[at]), kind(bad.o()[at]), "O[" + r + ", " + c + "]: "
                  + bad.o()[at] + ", reference " + ref.o()[at]);
            }
            assertEquals(kind(ref.lse()[r]), kind(bad.lse()[r]), "LSE[" + r + "]");
          } else if (nan && !routed(e)) {
            assertTrue(hasNan(bad.o(), r, DV), "row " + r + " sees a NaN and contains one");
          } else if (nan && i == j) {
            assertTrue(hasNan(bad.o(), r, DV), "row " + r + " sees its own NaN key or value");
          }
        }
      }
    }
  }

  /** The Sage kernels (quantization statistics over the finite entries only). */
  static boolean sage(Entry e) {
    return e.name().startsWith("SageAttention");
  }

  /** The sparse kernels that choose keys per row (their visible set is a subset of dense). */
  static boolean routed(Entry e) {
    return e.name().startsWith("Moba") || e.name().startsWith("Nabla")
        || e.name().startsWith("Neighborhood");
  }

  /** NaN, +inf, -inf or finite. */
  static String kind(float x) {
    return Float.isNaN(x) ? "NaN" : x == Float.POSITIVE_INFINITY ? "+inf"
        : x == Float.NEGATIVE_INFINITY ? "-inf" : "finite";
  }

  static boolean finiteRow(float[] o, int r, int dv) {
    for (int c = 0; c < dv; c++) {
      if (!Float.isFinite(o[r * dv + c])) {
        return false;
      }
    }
    return true;
  }

  static boolean hasNan(float[] o, int r, int dv) {
    for (int c = 0; c < dv; c++) {
      if (Float.isNaN(o[r * dv + c])) {
        return true;
      }
    }
    return false;
  }

  /** Whatever sits in a padded slot ({@code j >= kvLens[b]}) changes nothing at all. */
  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("entriesAndSpecs")
  void paddedSlotsNeverLeak(Entry e, String label, Spec spec) {
    if (!e.has(Cap.KV_LENS)) {
      return;
    }
    Spec padded = new Spec(spec.causal(), new int[] {S - 5, S});
    Tensor[] t = inputs(SEED, S, S);
    Out clean = e.run(t[0], t[1], t[2], padded);
    for (int j = S - 5; j < S; j++) {
      for (int g = 0; g < HKV; g++) {
        t[1].set(j % 2 == 0 ? Float.NaN : Float.POSITIVE_INFINITY, 0, g, j, j % D);
        t[2].set(j % 2 == 0 ? Float.NEGATIVE_INFINITY : Float.NaN, 0, g, j, j % DV);
      }
    }
    Out bad = e.run(t[0], t[1], t[2], padded);
    for (int r = 0; r < B * HQ * S; r++) {
      assertTrue(sameRow(clean.o(), bad.o(), r, DV), "row " + r + " unchanged");
    }
    assertTrue(Arrays.equals(clean.lse(), bad.lse()), "LSE unchanged");
  }

  // ---- out-of-range parameters

  @Test
  void outOfRangeParametersAreRejectedNamingTheValue() {
    expect("-Infinity", () -> AttentionOptions.builder().scale(Double.NEGATIVE_INFINITY));
    expect("NaN", () -> AttentionOptions.builder().scale(Double.NaN));
    expect("Infinity", () -> AttentionOptions.builder().scale(Double.POSITIVE_INFINITY));
    expect("-0.5", () -> AttentionOptions.builder().softcap(-0.5));
    expect("NaN", () -> AttentionOptions.builder().softcap(Double.NaN));
    expect("-2", () -> AttentionOptions.builder().window(-2, 0));
    expect("-3", () -> AttentionOptions.builder().window(4, -3));
    expect("NaN", () -> AttentionOptions.builder().alibiSlopes(1, Double.NaN));
    expect("-1", () -> AttentionOptions.builder().kvLens(3, -1));
    var elu = dev.attention4j.linear.FeatureMap.elu1();
    expect("NaN", () -> dev.attention4j.linear.LinearOptions.builder(elu).causal(true)
        .scale(Double.NaN).hybrid(4, 0.5).build());
    expect("chunk size 0", () -> dev.attention4j.linear.LinearOptions.builder(elu)
        .chunkSize(0).build());
    expect("1.5", () -> dev.attention4j.linear.LinearOptions.builder(elu).causal(true)
        .hybrid(4, 1.5).build());
    expect("hybrid window >= 1", () -> dev.attention4j.linear.LinearOptions.builder(elu)
        .causal(true).hybrid(0, 0.5).build());
    expect("identity", () -> dev.attention4j.linear.LinearOptions.builder(
        dev.attention4j.linear.FeatureMap.identity()).build());
    expect("block size 0", () -> new dev.attention4j.sparse.MobaAttention(0, 2));
    expect("topk 0", () -> new dev.attention4j.sparse.MobaAttention(4, 0));
    expect("threshold 0.0", () -> new dev.attention4j.sparse.NablaAttention(4, 0));
    expect("threshold NaN", () -> new dev.attention4j.sparse.NablaAttention(4, Double.NaN));
    expect("threshold 1.5", () -> new dev.attention4j.sparse.NablaAttention(4, 1.5));
    expect("block size 0", () -> new dev.attention4j.sparse.NablaAttention(0, 0.5));
    int[] one = {1};
    boolean[] no = {false};
    expect("exceeds the grid length 8", () -> dev.attention4j.sparse.Neighborhood.of(
        new int[] {8}, new int[] {9}, one, one, no));
    expect("kernel size 1", () -> dev.attention4j.sparse.Neighborhood.of(new int[] {8},
        new int[] {1}, one, one, no));
    expect("stride 4 > kernel size 3", () -> dev.attention4j.sparse.Neighborhood.of(
        new int[] {8}, new int[] {3}, new int[] {4}, one, no));
    expect("dilation", () -> dev.attention4j.sparse.Neighborhood.of(new int[] {8},
        new int[] {3}, one, new int[] {0}, no));
    expect("grid must have 1 to 3 axes", () -> dev.attention4j.sparse.Neighborhood.of(
        new int[] {2, 2, 2, 2}, 2));
    expect("more than", () -> dev.attention4j.sparse.Neighborhood.of(
        new int[] {1 << 16, 1 << 16}, 2));
    Tensor[] t = inputs(SEED, S, S);
    expect("a sliding window", () -> EntryPoints.kernel(dev.attention4j.quant.SageAttention
        .builder(dev.attention4j.quant.SageVariant.SAGE1).build(), t[0], t[1], t[2],
        AttentionOptions.builder().window(4, 0).build()));
    expect("key lengths", () -> EntryPoints.kernel(dev.attention4j.quant.SageAttention
        .builder(dev.attention4j.quant.SageVariant.SAGE1).build(), t[0], t[1], t[2],
        AttentionOptions.builder().kvLens(S, S).build()));
    expect("MoBA takes no other mask", () -> EntryPoints.kernel(
        new dev.attention4j.sparse.MobaAttention(8, 2), t[0], t[1], t[2],
        AttentionOptions.builder().causal(true).build()));
    expect("Sq", () -> EntryPoints.kernel(new dev.attention4j.sparse.MobaAttention(8, 2),
        t[0], t[1].slice(2, 0, S - 4), t[2].slice(2, 0, S - 4), AttentionOptions.defaults()));
  }

  // ---- caches

  @Test
  void pagedCacheRejectsBadAppendsAndLeavesTheCacheUnchanged() {
    PagedKvCache c = new PagedKvCache(HKV, D, DV, 8, 2, DType.F16);
    int seq = c.newSequence();
    Random rng = new Random(SEED);
    Tensor k = EntryPoints.gaussian(rng, HKV, 16, D);
    Tensor v = EntryPoints.gaussian(rng, HKV, 16, DV);
    expect("expected [2, T, 16]", () -> c.append(seq, EntryPoints.gaussian(rng, HKV, 4, 8), v));
    expect("expected [2, 16, 16]", () -> c.append(seq, k, EntryPoints.gaussian(rng, 3, 16,
        DV)));
    expect("does not exist", () -> c.append(7, k, v));
    c.append(seq, k, v);
    expect("cache is full", () -> c.append(seq, k.slice(1, 0, 1), v.slice(1, 0, 1)));
    assertEquals(16, c.length(seq));
    expect("pageSize 0", () -> new PagedKvCache(HKV, D, DV, 0, 2, DType.F32));
    expect("larger than one array", () -> new PagedKvCache(1 << 10, 1 << 12, 1, 1 << 10, 1,
        DType.F16));
    expect("F64", () -> new PagedKvCache(HKV, D, DV, 8, 2, DType.F64));
    SimdAttention simd = new SimdAttention();
    Tensor q = EntryPoints.gaussian(rng, 1, HQ, 1, D);
    Tensor out = Tensor.zeros(DType.F32, 1, HQ, 1, DV);
    expect("seqIds[0] = 3", () -> simd.forwardPaged(q, c, new int[] {3}, out, null,
        AttentionOptions.builder().build()));
    expect("seqIds has 2 entries", () -> simd.forwardPaged(q, c, new int[] {0, 0}, out, null,
        AttentionOptions.builder().build()));
    expect("kvLens must be null", () -> simd.forwardPaged(q, c, new int[] {0}, out, null,
        AttentionOptions.builder().kvLens(1).build()));
    expect("12", () -> simd.forwardPaged(EntryPoints.gaussian(rng, 1, HQ, 1, 12), c,
        new int[] {0}, out, null, AttentionOptions.builder().build()));
    expect("3", () -> simd.forwardPaged(EntryPoints.gaussian(rng, 1, 3, 1, D), c,
        new int[] {0}, Tensor.zeros(DType.F32, 1, 3, 1, DV), null,
        AttentionOptions.builder().build()));
  }

  @Test
  void quantizedCacheRejectsBadAppends() {
    QuantizedKvCache c = new QuantizedKvCache(HKV, D, DV, 8, 2, QuantizedKvCache.Format.FP8);
    int seq = c.newSequence();
    Random rng = new Random(SEED);
    Tensor k = EntryPoints.gaussian(rng, HKV, 16, D);
    Tensor v = EntryPoints.gaussian(rng, HKV, 16, DV);
    expect("expected [2, T, 16]", () -> c.append(seq, EntryPoints.gaussian(rng, HKV, 4, 8), v));
    expect("does not exist", () -> c.append(-1, k, v));
    c.append(seq, k, v);
    expect("full", () -> c.append(seq, k.slice(1, 0, 1), v.slice(1, 0, 1)));
    assertEquals(16, c.length(seq));
    expect("format", () -> new QuantizedKvCache(HKV, D, DV, 8, 2, null));
  }

  // ---- sizes past int and long

  @Test
  void shapesPastIntAndLongAreRejected() {
    expect("more elements than a long can count", () -> Tensor.zeros(DType.F32,
        Integer.MAX_VALUE, Integer.MAX_VALUE, Integer.MAX_VALUE, 2));
    expect("more than one array can hold", () -> Tensor.zeros(DType.F16, 1 << 16, 1 << 16));
    expect("negative", () -> Tensor.zeros(DType.F32, 2, -3));
    // a broadcast view (zero strides) may be huge; an output that does not fit is rejected
    Tensor one = Tensor.of(new float[] {1f}, 1);
    Tensor q = one.view(new int[] {1, 1 << 12, 1 << 12, 1 << 8}, new long[4], 0);
    Tensor k = one.view(new int[] {1, 1, 4, 1 << 8}, new long[4], 0);
    for (Entry e : EntryPoints.softmax(ForkJoinPool.commonPool())) {
      if (e.has(Cap.SQUARE) || e.name().startsWith("Moba")) {
        continue;
      }
      IllegalArgumentException x = assertThrows(IllegalArgumentException.class,
          () -> e.run(q, k, k, Spec.PLAIN), e.name());
      assertTrue(x.getMessage().contains("elements"), e.name() + ": " + x.getMessage());
    }
    // a view whose extent overflows a long index
    expect("overflows a long index", () -> one.view(new int[] {1 << 30, 1 << 30},
        new long[] {Long.MAX_VALUE / 4, 1}, 0));
  }

  static void expect(String fragment, org.junit.jupiter.api.function.Executable call) {
    try {
      call.execute();
    } catch (IllegalArgumentException x) {
      assertTrue(x.getMessage() != null && x.getMessage().contains(fragment),
          () -> "'" + x.getMessage() + "' should contain '" + fragment + "'");
      return;
    } catch (Throwable t) {
      fail("expected IllegalArgumentException containing '" + fragment + "', got " + t, t);
    }
    fail("expected IllegalArgumentException containing '" + fragment + "'");
  }
}
