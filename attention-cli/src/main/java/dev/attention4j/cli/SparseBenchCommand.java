package dev.attention4j.cli;

import dev.attention4j.cli.OptionValues.Impl;
import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionResult;
import dev.attention4j.core.DType;
import dev.attention4j.core.MaskMod;
import dev.attention4j.core.ReferenceAttention;
import dev.attention4j.core.Tensor;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;

/**
 * {@code bench neighborhood|moba|nabla}: the timing loop of {@link BenchRunner} (seeded inputs,
 * warm-up, median and min of {@code --reps}) for a {@link SparseSpec}. The rate counts the visible
 * pairs of the kernel's own mask ({@code 2 (D + Dv)} flops each); the error is against the float64
 * reference under the same mask (routing included) on sampled query rows (the first, middle and
 * last 32 rows of up to two heads of batch 0) of the timed run itself, so large grids stay cheap.
 */
abstract class SparseBenchCommand implements Callable<Integer> {

  /** Query rows per sample of the accuracy check. */
  static final int SAMPLE_ROWS = 32;

  final Console console;

  @Mixin
  BenchShapeOptions size;

  @Mixin
  BenchRunOptions how;

  SparseBenchCommand(Console console) {
    this.console = console;
  }

  abstract String kernelName();

  abstract SparseSpec spec();

  /** The shape, for kernels that derive lengths from their own options. */
  BenchRunner.Shape shape() {
    return size.shape();
  }

  @Override
  public Integer call() {
    BenchRunner.Shape shape = shape();
    AttentionOptions.Builder b = AttentionOptions.builder().returnLse(true);
    if (how.scale != null) {
      b.scale(OptionValues.scale(how.scale));
    }
    AttentionOptions options = SoftmaxRunCommand.invalidArgument(b::build);
    int threads = how.threads();
    int reps = how.reps();
    double warmup = how.warmupSeconds();
    Impl impl = how.impl();
    SparseSpec spec = spec();
    BenchRunner.Inputs in = BenchRunner.Inputs.random(shape, options, how.seed);
    SoftmaxRunCommand.invalidArgument(() -> spec.validate(dev.attention4j.core.AttentionShape.of(
        in.q(), in.k(), in.v(), null, null, options)));
    boolean reference = impl == Impl.REFERENCE;
    DType dt = reference ? DType.F64 : DType.F32;
    Tensor out = SoftmaxRunCommand.allocate("output", dt, shape.batch(), shape.qHeads(),
        shape.qLen(), shape.dimV());
    Tensor lse = SoftmaxRunCommand.allocate("LSE", dt, shape.batch(), shape.qHeads(),
        shape.qLen());
    double[] ms;
    String implName;
    try (KernelRunner kernel = KernelRunner.fast(reference ? spec.reference() : spec.fast(),
        threads)) {
      implName = kernel.name();
      console.note("bench " + kernelName() + ": " + implName + " on " + threads + " thread"
          + (threads == 1 ? "" : "s") + ", warming up (>= 3 calls, >= " + warmup + " s)");
      ms = Timings.sortedMs(() -> kernel.forward(in.q(), in.k(), in.v(), out, lse, options), 3,
          warmup, reps);
    }
    double median = Timings.median(ms);
    long pairs = spec.pairs(in.q(), in.k(), options);
    double gflops = 2.0 * (shape.dim() + shape.dimV()) * pairs / (median / 1e3) / 1e9;
    double maxAbs = 0;
    double lseMax = 0;
    boolean ok = true;
    if (!reference) {
      console.note("bench " + kernelName() + ": checking sampled rows against the float64"
          + " reference");
      MaskMod mask = spec.mask(in.q(), in.k(), options);
      int sq = shape.qLen();
      int[] starts = {0, Math.max(0, sq / 2 - SAMPLE_ROWS / 2), Math.max(0, sq - SAMPLE_ROWS)};
      for (int h = 0; h < Math.min(2, shape.qHeads()); h++) {
        for (int i0 : starts) {
          int i1 = Math.min(sq, i0 + SAMPLE_ROWS);
          Accuracy acc = sample(in, out, lse, mask, options, shape, h, i0, i1);
          maxAbs = Math.max(maxAbs, acc.out().maxAbs());
          lseMax = Math.max(lseMax, acc.lseMaxAbs());
          ok &= acc.withinTolerance();
        }
      }
    }
    print(shape, spec, implName, threads, reps, median, ms[0], pairs, gflops, maxAbs, lseMax, ok);
    return Main.OK;
  }

  /** Rows {@code [i0, i1)} of head {@code h}, batch 0, against the float64 reference. */
  private static Accuracy sample(BenchRunner.Inputs in, Tensor out, Tensor lse, MaskMod mask,
      AttentionOptions options, BenchRunner.Shape shape, int h, int i0, int i1) {
    int g = h / (shape.qHeads() / shape.kvHeads());
    Tensor q = in.q().slice(0, 0, 1).slice(1, h, h + 1).slice(2, i0, i1);
    Tensor k = in.k().slice(0, 0, 1).slice(1, g, g + 1);
    Tensor v = in.v().slice(0, 0, 1).slice(1, g, g + 1);
    MaskMod shifted = (b, hh, i, j) -> mask.allows(0, h, i + i0, j);
    AttentionResult ref = ReferenceAttention.INSTANCE.forward(q, k, v,
        options.toBuilder().maskMod(shifted).returnLse(true).build());
    return Accuracy.of(out.slice(0, 0, 1).slice(1, h, h + 1).slice(2, i0, i1),
        lse.slice(0, 0, 1).slice(1, h, h + 1).slice(2, i0, i1), ref.out(), ref.lse());
  }

  private void print(BenchRunner.Shape s, SparseSpec spec, String impl, int threads, int reps,
      double median, double min, long pairs, double gflops, double maxAbs, double lseMax,
      boolean ok) {
    String[] params = spec.describe();
    if (how.json) {
      JsonLine j = new JsonLine()
          .put("kernel", kernelName())
          .put("impl", impl)
          .put("threads", threads)
          .put("batch", s.batch())
          .put("heads", s.qHeads())
          .put("kv_heads", s.kvHeads())
          .put("seq", s.qLen())
          .put("kv_seq", s.kvLen())
          .put("dim", s.dim())
          .put("dim_v", s.dimV())
          .put("causal", spec.causal());
      for (int p = 0; p < params.length; p += 2) {
        j.put(params[p], params[p + 1]);
      }
      j.put("reps", reps)
          .put("seed", how.seed)
          .put("median_ms", median)
          .put("min_ms", min)
          .put("gflops", gflops)
          .put("pairs", pairs)
          .put("density", pairs / ((double) s.batch() * s.qHeads() * s.qLen() * s.kvLen()))
          .put("max_abs_err", maxAbs)
          .put("lse_max_abs_err", lseMax)
          .put("within_tolerance", ok);
      console.out().println(j);
      console.out().flush();
      return;
    }
    StringBuilder desc = new StringBuilder();
    for (int p = 0; p < params.length; p += 2) {
      desc.append(p == 0 ? "" : " ").append(params[p].replace('_', '-')).append('=')
          .append(params[p + 1]);
    }
    Table t = new Table("kernel", "impl", "threads", "B", "Hq", "Hkv", "Sq", "Sk", "D", "Dv",
        "params", "median_ms", "min_ms", "GFLOP/s", "pairs", "max_abs_err", "ok");
    t.row(kernelName(), impl, Integer.toString(threads), Integer.toString(s.batch()),
        Integer.toString(s.qHeads()), Integer.toString(s.kvHeads()), Integer.toString(s.qLen()),
        Integer.toString(s.kvLen()), Integer.toString(s.dim()), Integer.toString(s.dimV()),
        desc.toString(), Table.fixed(median, 3), Table.fixed(min, 3), Table.fixed(gflops, 2),
        Long.toString(pairs), Table.sci(maxAbs), ok ? "yes" : "NO");
    t.print(console.out());
    console.out().flush();
  }
}
