package dev.attention4j.cli;

import dev.attention4j.core.AttentionKernel;
import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.DType;
import dev.attention4j.core.ErrorMetrics;
import dev.attention4j.core.MaskMod;
import dev.attention4j.core.ReferenceAttention;
import dev.attention4j.core.Tensor;
import dev.attention4j.sparse.BlockMask;
import dev.attention4j.sparse.BlockSparseAttention;
import dev.attention4j.sparse.MobaAttention;
import dev.attention4j.sparse.NablaAttention;
import dev.attention4j.sparse.Neighborhood;
import dev.attention4j.sparse.NeighborhoodAttention;
import dev.attention4j.simd.SimdAttention;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ForkJoinPool;

/**
 * The sparse family in {@code demo}: 2-D neighborhood attention (32x32 grid, kernel 7x7), a causal
 * sliding window as a {@link BlockMask}, MoBA (block 128, top-3) and NABLA (block 64, thr 0.7),
 * each on B=1, Hq=4, Hkv=2, S=1024, D=64, checked against the float64 reference under the same
 * mask (routing included) on sampled rows of two heads, and timed next to the dense kernel on the
 * same inputs (full attention, or causal for the causal kernels).
 */
final class SparseDemo implements FamilyDemo {

  private static final int HQ = 4;
  private static final int HKV = 2;
  private static final int S = 1024;
  private static final int D = 64;
  private static final int ROWS = 64;
  private static final long SEED = 43;
  private static final long WARMUP_NANOS = 200_000_000L;

  @Override
  public List<Row> run(int threads) throws Exception {
    List<Row> rows = new ArrayList<>();
    if (!SimdKernels.inUse()) {
      return rows;
    }
    SplittableRandom rng = new SplittableRandom(SEED);
    Tensor q = RandomTensors.gaussian(rng, 1, HQ, S, D);
    Tensor k = RandomTensors.gaussian(rng, 1, HKV, S, D);
    Tensor v = RandomTensors.gaussian(rng, 1, HKV, S, D);
    AttentionOptions plain = AttentionOptions.builder().returnLse(true).build();
    AttentionOptions causal = plain.toBuilder().causal(true).build();
    try (ForkJoinPool pool = new ForkJoinPool(threads)) {
      SimdAttention simd = new SimdAttention(pool);
      double full = FamilyDemo.medianMs(() -> simd.forward(q, k, v, out(), null, plain), 5,
          WARMUP_NANOS);
      double causalMs = FamilyDemo.medianMs(() -> simd.forward(q, k, v, out(), null, causal), 5,
          WARMUP_NANOS);

      NeighborhoodAttention na = new NeighborhoodAttention(Neighborhood.of(new int[] {32, 32},
          7, 7), simd);
      rows.add(check("2-D 32x32 kernel 7x7", "neighborhood", na, na.mask(), q, k, v, plain,
          full));

      BlockMask window = BlockMask.of(causal.toBuilder().window(128, 0).build(), 1, 1, S, S, 64,
          64);
      BlockSparseAttention bs = new BlockSparseAttention(simd);
      AttentionKernel windowKernel = new AttentionKernel() {
        @Override
        public String name() {
          return "block-sparse-simd-" + simd.vectorBits();
        }

        @Override
        public void forward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
            AttentionOptions options) {
          bs.forward(q, k, v, out, lse, window, options);
        }
      };
      rows.add(check("causal window 128 (BlockMask)", "block-sparse", windowKernel,
          window::allows, q, k, v, plain, causalMs));

      MobaAttention moba = new MobaAttention(128, 3, simd);
      rows.add(check("MoBA block 128 top-3", "moba", moba, moba.route(q, k, plain), q, k, v,
          plain, causalMs));

      NablaAttention nabla = new NablaAttention(64, 0.7, null, null, simd);
      BlockMask kept = nabla.blockMask(q, k, plain);
      rows.add(check("NABLA block 64 thr 0.7", "nabla", nabla, kept::allows, q, k, v, plain,
          full));
    }
    return rows;
  }

  private static Tensor out() {
    return Tensor.zeros(DType.F32, 1, HQ, S, D);
  }

  /** Times the kernel and checks sampled rows (first, middle, last) against the reference. */
  private static Row check(String name, String family, AttentionKernel kernel, MaskMod mask,
      Tensor q, Tensor k, Tensor v, AttentionOptions options, double denseMs) {
    Tensor o = out();
    Tensor l = Tensor.zeros(DType.F32, 1, HQ, S);
    double ms = FamilyDemo.medianMs(() -> kernel.forward(q, k, v, o, l, options), 5,
        WARMUP_NANOS);
    double maxAbs = 0;
    double worstCos = 1;
    double worstL1 = 0;
    boolean ok = true;
    for (int h : new int[] {0, HQ - 1}) {
      int g = h / (HQ / HKV);
      for (int i0 : new int[] {0, S / 2, S - ROWS}) {
        MaskMod shifted = (b, hh, i, j) -> mask.allows(0, h, i + i0, j);
        var ref = ReferenceAttention.INSTANCE.forward(q.slice(1, h, h + 1).slice(2, i0, i0 + ROWS),
            k.slice(1, g, g + 1), v.slice(1, g, g + 1),
            options.toBuilder().maskMod(shifted).returnLse(true).build());
        Accuracy acc = Accuracy.of(o.slice(1, h, h + 1).slice(2, i0, i0 + ROWS),
            l.slice(1, h, h + 1).slice(2, i0, i0 + ROWS), ref.out(), ref.lse());
        ErrorMetrics m = acc.out();
        maxAbs = Math.max(maxAbs, m.maxAbs());
        worstCos = Math.min(worstCos, m.cosine());
        worstL1 = Math.max(worstL1, m.relativeL1());
        ok &= acc.withinTolerance();
      }
    }
    return new Row(name, family, kernel.name(), ms, denseMs, maxAbs, worstCos, worstL1, ok);
  }
}
