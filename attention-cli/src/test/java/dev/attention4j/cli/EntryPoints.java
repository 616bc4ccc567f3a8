package dev.attention4j.cli;

import dev.attention4j.core.AttentionKernel;
import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionShape;
import dev.attention4j.core.DType;
import dev.attention4j.core.Attention;
import dev.attention4j.core.Mask;
import dev.attention4j.core.PagedKvCache;
import dev.attention4j.core.ReferenceAttention;
import dev.attention4j.core.ScalarAttention;
import dev.attention4j.core.Tensor;
import dev.attention4j.linear.FeatureMap;
import dev.attention4j.linear.LinearAttention;
import dev.attention4j.linear.LinearAttentionState;
import dev.attention4j.linear.LinearOptions;
import dev.attention4j.quant.QuantizedKvCache;
import dev.attention4j.quant.SageAttention;
import dev.attention4j.quant.SageVariant;
import dev.attention4j.simd.KvSource;
import dev.attention4j.simd.SimdAttention;
import dev.attention4j.sparse.BlockMask;
import dev.attention4j.sparse.BlockSparseAttention;
import dev.attention4j.sparse.MobaAttention;
import dev.attention4j.sparse.NablaAttention;
import dev.attention4j.sparse.Neighborhood;
import dev.attention4j.sparse.NeighborhoodAttention;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ForkJoinPool;

/**
 * Every public attention entry point of the library behind one signature, for the tables of the
 * bad-input, numerics and concurrency tests: each runs {@code (q, k, v)} under a small
 * {@link Spec} (causal or not, key lengths or not) into new outputs.
 */
final class EntryPoints {

  private EntryPoints() {
  }

  /** What an entry point accepts. */
  enum Cap {
    /** Takes causal options (a causal block mask, a causal grid, or the options' mask). */
    CAUSAL,
    /** Takes a non-causal call. */
    NON_CAUSAL,
    /** Takes key lengths (padding). */
    KV_LENS,
    /** Needs {@code Sq == Sk}. */
    SQUARE,
    /** Returns an LSE. */
    LSE,
    /** Quantizes K or V in blocks: a non-finite key or value spreads over its quantization block. */
    QUANTIZED
  }

  /** The per-call settings every entry point understands. */
  record Spec(boolean causal, int[] kvLens) {
    static final Spec PLAIN = new Spec(false, null);
    static final Spec CAUSAL = new Spec(true, null);

    AttentionOptions options() {
      AttentionOptions.Builder b = AttentionOptions.builder().causal(causal).returnLse(true);
      if (kvLens != null) {
        b.kvLens(kvLens);
      }
      return b.build();
    }

    /** Whether query {@code i} of batch {@code b} sees key {@code j} (dense rules). */
    boolean visible(int b, int sq, int sk, int i, int j) {
      int len = kvLens == null ? sk : kvLens[b];
      if (j >= len) {
        return false;
      }
      return !causal || j <= i + len - sq;
    }
  }

  /** Outputs as float: O {@code [B, Hq, Sq, Dv]} and LSE {@code [B, Hq, Sq]} (null: none). */
  record Out(float[] o, float[] lse) {
  }

  @FunctionalInterface
  interface Runner {
    Out run(Tensor q, Tensor k, Tensor v, Spec spec);
  }

  record Entry(String name, Set<Cap> caps, Runner runner) {
    Out run(Tensor q, Tensor k, Tensor v, Spec spec) {
      return runner.run(q, k, v, spec);
    }

    boolean has(Cap c) {
      return caps.contains(c);
    }

    boolean takes(Spec s) {
      return (s.causal() ? has(Cap.CAUSAL) : has(Cap.NON_CAUSAL))
          && (s.kvLens() == null || has(Cap.KV_LENS));
    }

    @Override
    public String toString() {
      return name;
    }
  }

  static Out kernel(AttentionKernel kernel, Tensor q, Tensor k, Tensor v, AttentionOptions o) {
    AttentionShape s = AttentionShape.of(q, k, v, null, null, o);
    Tensor out = Tensor.zeros(DType.F32, s.batch(), s.qHeads(), s.qLen(), s.valueDim());
    Tensor lse = Tensor.zeros(DType.F32, s.batch(), s.qHeads(), s.qLen());
    kernel.forward(q, k, v, out, lse, o);
    return new Out(out.toFloatArray(), lse.toFloatArray());
  }

  private static Out outs(Tensor out, Tensor lse) {
    return new Out(out.toFloatArray(), lse == null ? null : lse.toFloatArray());
  }

  private static Tensor[] newOuts(Tensor q, int dv) {
    Tensor out = Tensor.zeros(DType.F32, q.dim(0), q.dim(1), q.dim(2), dv);
    Tensor lse = Tensor.zeros(DType.F32, q.dim(0), q.dim(1), q.dim(2));
    return new Tensor[] {out, lse};
  }

  /** A paged cache with one sequence per batch entry holding its first {@code len_b} tokens. */
  static PagedKvCache paged(Tensor k, Tensor v, int[] lens, DType dtype, int pageSize) {
    int b = k.dim(0);
    int sk = k.dim(2);
    int pages = 1 + b * ((sk + pageSize - 1) / pageSize);
    PagedKvCache c = new PagedKvCache(k.dim(1), k.dim(3), v.dim(3), pageSize, pages, dtype);
    for (int i = 0; i < b; i++) {
      int seq = c.newSequence();
      int len = lens == null ? sk : lens[i];
      c.append(seq, first(k, i, len), first(v, i, len));
    }
    return c;
  }

  static QuantizedKvCache quantized(Tensor k, Tensor v, int[] lens, QuantizedKvCache.Format f,
      int pageSize) {
    int b = k.dim(0);
    int sk = k.dim(2);
    int pages = 1 + b * ((sk + pageSize - 1) / pageSize);
    QuantizedKvCache c = new QuantizedKvCache(k.dim(1), k.dim(3), v.dim(3), pageSize, pages, f);
    for (int i = 0; i < b; i++) {
      int seq = c.newSequence();
      int len = lens == null ? sk : lens[i];
      c.append(seq, first(k, i, len), first(v, i, len));
    }
    return c;
  }

  /** Batch {@code b} of a {@code [B, H, S, W]} tensor, first {@code len} tokens, as {@code [H, len, W]}. */
  static Tensor first(Tensor t, int b, int len) {
    Tensor s = t.slice(0, b, b + 1).slice(2, 0, len);
    long[] st = s.strides();
    return s.view(new int[] {s.dim(1), s.dim(2), s.dim(3)}, new long[] {st[1], st[2], st[3]},
        s.offset());
  }

  /** K and V read from tensors one tile at a time: the plainest {@link KvSource}. */
  record TensorSource(Tensor k, Tensor v, int[] lens) implements KvSource {
    public int kvHeads() {
      return k.dim(1);
    }

    public int headDim() {
      return k.dim(3);
    }

    public int valueDim() {
      return v.dim(3);
    }

    public int batch() {
      return k.dim(0);
    }

    public int length(int b) {
      return lens == null ? k.dim(2) : lens[b];
    }

    public void keys(int b, int g, int j0, int n, float[] dst) {
      rows(k, b, g, j0, n, dst);
    }

    public void values(int b, int g, int j0, int n, float[] dst) {
      rows(v, b, g, j0, n, dst);
    }

    private static void rows(Tensor t, int b, int g, int j0, int n, float[] dst) {
      int w = t.dim(3);
      for (int r = 0; r < n; r++) {
        for (int e = 0; e < w; e++) {
          dst[r * w + e] = t.getFloat(b, g, j0 + r, e);
        }
      }
    }
  }

  /** Every softmax entry point, on {@code pool} where the entry takes one. */
  static List<Entry> softmax(ForkJoinPool pool) {
    SimdAttention simd = new SimdAttention(pool);
    Set<Cap> dense = EnumSet.of(Cap.CAUSAL, Cap.NON_CAUSAL, Cap.KV_LENS, Cap.LSE);
    List<Entry> all = new ArrayList<>();
    all.add(new Entry("Attention.forward", dense, (q, k, v, s) -> {
      var r = Attention.forward(q, k, v, s.options());
      return outs(r.out(), r.lse());
    }));
    all.add(new Entry("Attention.reference", dense, (q, k, v, s) -> {
      var r = Attention.reference(q, k, v, s.options());
      return outs(r.out(), r.lse());
    }));
    all.add(new Entry("ReferenceAttention", dense,
        (q, k, v, s) -> kernel(ReferenceAttention.INSTANCE, q, k, v, s.options())));
    all.add(new Entry("ScalarAttention", dense,
        (q, k, v, s) -> kernel(ScalarAttention.INSTANCE, q, k, v, s.options())));
    all.add(new Entry("SimdAttention.forward", dense,
        (q, k, v, s) -> kernel(simd, q, k, v, s.options())));
    all.add(new Entry("SimdAttention.forwardSplitKv", dense, (q, k, v, s) -> {
      Tensor[] o = newOuts(q, v.dim(3));
      simd.forwardSplitKv(q, k, v, o[0], o[1], s.options(), 8);
      return outs(o[0], o[1]);
    }));
    all.add(new Entry("SimdAttention.forwardPaged", dense, (q, k, v, s) -> {
      precheck(q, k, v, s);
      PagedKvCache c = paged(k, v, s.kvLens(), DType.F32, 8);
      Tensor[] o = newOuts(q, v.dim(3));
      int[] ids = new int[q.dim(0)];
      for (int b = 0; b < ids.length; b++) {
        ids[b] = b;
      }
      simd.forwardPaged(q, c, ids, o[0], o[1], new Spec(s.causal(), null).options());
      return outs(o[0], o[1]);
    }));
    all.add(new Entry("SimdAttention.forwardSource", dense, (q, k, v, s) -> {
      precheck(q, k, v, s);
      Tensor[] o = newOuts(q, v.dim(3));
      simd.forwardSource(q, new TensorSource(k, v, s.kvLens()), o[0], o[1],
          new Spec(s.causal(), null).options());
      return outs(o[0], o[1]);
    }));
    all.add(new Entry("QuantizedKvCache.source", EnumSet.of(Cap.CAUSAL, Cap.NON_CAUSAL,
        Cap.KV_LENS, Cap.LSE, Cap.QUANTIZED), (q, k, v, s) -> {
          precheck(q, k, v, s);
          QuantizedKvCache c = quantized(k, v, s.kvLens(), QuantizedKvCache.Format.INT8, 8);
          int[] ids = new int[q.dim(0)];
          for (int b = 0; b < ids.length; b++) {
            ids[b] = b;
          }
          Tensor[] o = newOuts(q, v.dim(3));
          simd.forwardSource(q, c.source(ids), o[0], o[1], new Spec(s.causal(), null).options());
          return outs(o[0], o[1]);
        }));
    all.add(new Entry("BlockSparseAttention", dense, (q, k, v, s) -> {
      AttentionShape sh = AttentionShape.of(q, k, v, null, null, s.options());
      AttentionOptions plain = new Spec(false, s.kvLens()).options();
      BlockMask m = BlockMask.of(s.causal() ? Mask.causal() : new Mask.Band(-1, -1),
          1, 1, sh.qLen(), sh.kvLen(), 16, 16);
      var r = new BlockSparseAttention(simd).forward(q, k, v, m, plain);
      return outs(r.out(), r.lse());
    }));
    all.add(new Entry("NeighborhoodAttention", EnumSet.of(Cap.CAUSAL, Cap.NON_CAUSAL,
        Cap.SQUARE, Cap.LSE), (q, k, v, s) -> {
          int n = q.dim(2);
          Neighborhood nb = Neighborhood.of(new int[] {n}, new int[] {Math.min(5, n)},
              new int[] {1}, new int[] {1}, new boolean[] {s.causal()});
          return kernel(new NeighborhoodAttention(nb, simd), q, k, v,
              new Spec(false, null).options());
        }));
    all.add(new Entry("MobaAttention", EnumSet.of(Cap.CAUSAL, Cap.LSE),
        (q, k, v, s) -> kernel(new MobaAttention(8, 2, simd), q, k, v,
            new Spec(false, null).options())));
    all.add(new Entry("NablaAttention", EnumSet.of(Cap.NON_CAUSAL, Cap.SQUARE, Cap.LSE),
        (q, k, v, s) -> kernel(new NablaAttention(8, 0.9, null, null, simd), q, k, v,
            s.options())));
    for (SageVariant variant : SageVariant.values()) {
      all.add(new Entry("SageAttention " + variant.id(), EnumSet.of(Cap.CAUSAL, Cap.NON_CAUSAL,
          Cap.LSE, Cap.QUANTIZED), (q, k, v, s) -> kernel(SageAttention.builder(variant)
              .pool(pool).build(), q, k, v, s.options())));
    }
    all.add(new Entry("SageAttention sage2-int8 reference", EnumSet.of(Cap.CAUSAL,
        Cap.NON_CAUSAL, Cap.LSE, Cap.QUANTIZED), (q, k, v, s) -> kernel(
            SageAttention.builder(SageVariant.SAGE2_INT8).impl(SageAttention.Impl.REFERENCE)
                .pool(pool).build(), q, k, v, s.options())));
    return all;
  }

  /**
   * The shape checks of a tensor call, for the entries that first copy K and V into a cache or
   * source (whose own checks then see consistent K and V by construction).
   */
  private static void precheck(Tensor q, Tensor k, Tensor v, Spec s) {
    AttentionShape.of(q, k, v, null, null, s.options());
  }

  /** The linear-attention entry points (no LSE; causal bottom-right, or non-causal). */
  static List<Entry> linear(ForkJoinPool pool) {
    List<Entry> all = new ArrayList<>();
    Set<Cap> caps = EnumSet.of(Cap.CAUSAL, Cap.NON_CAUSAL);
    all.add(new Entry("LinearAttention elu1", caps, (q, k, v, s) -> linear(q, k, v,
        LinearOptions.builder(FeatureMap.elu1()).causal(s.causal()).build(), pool)));
    all.add(new Entry("LinearAttention relu unnormalised", caps, (q, k, v, s) -> linear(q, k,
        v, LinearOptions.builder(FeatureMap.relu()).causal(s.causal()).normalize(false)
            .build(), pool)));
    all.add(new Entry("LinearAttention hybrid", EnumSet.of(Cap.CAUSAL), (q, k, v, s) -> linear(
        q, k, v, LinearOptions.builder(FeatureMap.elu1()).causal(true).hybrid(4, 0.5).build(),
        pool)));
    all.add(new Entry("LinearAttentionState", EnumSet.of(Cap.CAUSAL, Cap.SQUARE),
        (q, k, v, s) -> recurrent(q, k, v)));
    return all;
  }

  static Out linear(Tensor q, Tensor k, Tensor v, LinearOptions o, ForkJoinPool pool) {
    Tensor out = Tensor.zeros(DType.F32, q.dim(0), q.dim(1), q.dim(2), v.dim(3));
    LinearAttention.forward(q, k, v, out, o, pool);
    return new Out(out.toFloatArray(), null);
  }

  /** Token by token with the recurrent state (causal, Sq == Sk). */
  static Out recurrent(Tensor q, Tensor k, Tensor v) {
    LinearOptions o = LinearOptions.builder(FeatureMap.elu1()).causal(true).build();
    AttentionShape s = LinearAttention.check(q, k, v, null, o);
    if (s.qLen() != s.kvLen()) {
      throw new IllegalArgumentException("step by step needs Sq == Sk, got Sq " + s.qLen()
          + ", Sk " + s.kvLen());
    }
    int d = s.headDim();
    int dv = s.valueDim();
    Tensor out = Tensor.zeros(DType.F32, s.batch(), s.qHeads(), s.qLen(), dv);
    float[] qr = new float[d];
    float[] kr = new float[d];
    float[] vr = new float[dv];
    float[] or = new float[dv];
    for (int b = 0; b < s.batch(); b++) {
      for (int h = 0; h < s.qHeads(); h++) {
        int g = s.kvHead(h);
        LinearAttentionState st = LinearAttentionState.create(o, h, g, d, dv);
        for (int t = 0; t < s.qLen(); t++) {
          for (int e = 0; e < d; e++) {
            qr[e] = q.getFloat(b, h, t, e);
            kr[e] = k.getFloat(b, g, t, e);
          }
          for (int e = 0; e < dv; e++) {
            vr[e] = v.getFloat(b, g, t, e);
          }
          st.step(qr, kr, vr, or);
          for (int e = 0; e < dv; e++) {
            out.set(or[e], b, h, t, e);
          }
        }
      }
    }
    return new Out(out.toFloatArray(), null);
  }

  static Tensor gaussian(Random rng, int... shape) {
    float[] x = new float[(int) Tensor.elementCount(shape)];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) rng.nextGaussian();
    }
    return Tensor.of(x, shape);
  }
}
