package dev.attention4j.cli;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.DType;
import dev.attention4j.core.ErrorMetrics;
import dev.attention4j.core.ReferenceAttention;
import dev.attention4j.core.Tensor;
import dev.attention4j.quant.SageAttention;
import dev.attention4j.quant.SageVariant;
import java.util.concurrent.Callable;
import java.util.concurrent.ForkJoinPool;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * {@code bench sage}: times a Sage variant on random inputs and reports its error against the
 * float64 <em>unquantized</em> oracle on a smaller run (cosine, relative L1, max-abs), checked
 * against the accuracy table of SEMANTICS.md.
 */
@Command(name = "sage", mixinStandardHelpOptions = true, sortOptions = false,
    description = {
        "Times quantized SageAttention on seeded random float32 inputs.",
        "Median and min of --reps calls after a warm-up; GFLOP/s counts 2 * (D + Dv) flops per",
        "visible (query, key) pair; the error is against the float64 unquantized reference on a",
        "run with Sq and Sk capped at 256, judged by the SEMANTICS.md accuracy table."})
final class SageBenchCommand implements Callable<Integer> {

  private final Console console;

  @Mixin
  BenchShapeOptions size;

  @Mixin
  SageOptions sage;

  @Mixin
  BenchRunOptions how;

  SageBenchCommand(Console console) {
    this.console = console;
  }

  /** {min cosine, max relative L1} of SEMANTICS.md. */
  static double[] thresholds(SageVariant v) {
    return switch (v) {
      case SAGE1 -> new double[] {0.9995, 0.03};
      case SAGE2_INT8 -> new double[] {0.999, 0.05};
      case SAGE2_INT4, SAGE3_NVFP4 -> new double[] {0.95, 0.35};
    };
  }

  @Override
  public Integer call() {
    BenchRunner.Shape shape = size.shape();
    SageVariant variant = sage.variant();
    AttentionOptions.Builder b = AttentionOptions.builder().returnLse(true);
    if (how.scale != null) {
      b.scale(OptionValues.scale(how.scale));
    }
    SoftmaxRunCommand.invalidArgument(() -> sage.applyTo(b));
    AttentionOptions options = SoftmaxRunCommand.invalidArgument(b::build);
    int threads = how.threads();
    int reps = how.reps();
    ForkJoinPool pool = new ForkJoinPool(threads);
    try {
      SageAttention kernel = sage.kernel(how.impl(), pool);
      BenchRunner.Inputs in = BenchRunner.Inputs.random(shape, options, how.seed);
      DType dt = kernel.impl() == SageAttention.Impl.REFERENCE ? DType.F64 : DType.F32;
      Tensor out = SoftmaxRunCommand.allocate("output", dt, shape.batch(), shape.qHeads(),
          shape.qLen(), shape.dimV());
      Tensor lse = SoftmaxRunCommand.allocate("LSE", dt, shape.batch(), shape.qHeads(),
          shape.qLen());
      console.note("bench sage: " + kernel.name() + (kernel.usesEngine() ? " (dense engine)"
          : " (scalar pipeline)") + " on " + threads + " thread" + (threads == 1 ? "" : "s")
          + ", warming up (>= 3 calls, >= " + how.warmupSeconds() + " s)");
      Runnable call = () -> pool.submit(() -> kernel.forward(in.q(), in.k(), in.v(), out, lse,
          options)).join();
      double[] ms = Timings.sortedMs(call, 3, how.warmupSeconds(), reps);
      double median = Timings.median(ms);
      long pairs = VisiblePairs.count(shape.batch(), shape.qHeads(), shape.qLen(), shape.kvLen(),
          options);
      double gflops = 2.0 * (shape.dim() + shape.dimV()) * pairs / (median / 1e3) / 1e9;
      // accuracy against the unquantized float64 oracle
      BenchRunner.Shape cs = shape.forCheck();
      console.note("bench sage: checking against the float64 unquantized reference on B="
          + cs.batch() + " Hq=" + cs.qHeads() + " Hkv=" + cs.kvHeads() + " Sq=" + cs.qLen()
          + " Sk=" + cs.kvLen());
      BenchRunner.Inputs small = BenchRunner.Inputs.random(cs, options, how.seed + 1);
      Tensor o = Tensor.zeros(dt, cs.batch(), cs.qHeads(), cs.qLen(), cs.dimV());
      pool.submit(() -> kernel.forward(small.q(), small.k(), small.v(), o, null, options))
          .join();
      Tensor ref = ReferenceAttention.INSTANCE.forward(small.q(), small.k(), small.v(), options)
          .out();
      ErrorMetrics e = ErrorMetrics.compare(o, ref);
      double[] th = thresholds(variant);
      boolean ok = e.cosine() >= th[0] && e.relativeL1() <= th[1];
      print(variant, kernel, threads, shape, options, reps, median, ms[0], pairs, gflops, e, ok,
          cs);
    } finally {
      pool.shutdownNow();
    }
    return Main.OK;
  }

  private void print(SageVariant variant, SageAttention kernel, int threads,
      BenchRunner.Shape s, AttentionOptions o, int reps, double median, double min, long pairs,
      double gflops, ErrorMetrics e, boolean ok, BenchRunner.Shape cs) {
    if (how.json) {
      console.out().println(new JsonLine()
          .put("kernel", "sage")
          .put("variant", variant.id())
          .put("impl", kernel.name())
          .put("engine", kernel.usesEngine())
          .put("threads", threads)
          .put("batch", s.batch())
          .put("heads", s.qHeads())
          .put("kv_heads", s.kvHeads())
          .put("seq", s.qLen())
          .put("kv_seq", s.kvLen())
          .put("dim", s.dim())
          .put("dim_v", s.dimV())
          .put("causal", o.causal())
          .put("align", OptionValues.alignmentName(o.alignment()))
          .put("scale", o.scale(s.dim()))
          .put("reps", reps)
          .put("seed", how.seed)
          .put("median_ms", median)
          .put("min_ms", min)
          .put("gflops", gflops)
          .put("pairs", pairs)
          .put("max_abs_err", e.maxAbs())
          .put("cosine", e.cosine())
          .put("rel_l1", e.relativeL1())
          .put("rmse", e.rmse())
          .put("within_tolerance", ok)
          .put("err_shape", cs.toArray()));
      console.out().flush();
      return;
    }
    Table t = new Table("kernel", "variant", "impl", "threads", "B", "Hq", "Hkv", "Sq", "Sk", "D",
        "mask", "median_ms", "min_ms", "GFLOP/s", "pairs", "cosine", "rel_l1", "rmse",
        "max_abs_err", "ok");
    t.row("sage", variant.id(), kernel.usesEngine() ? "engine" : "scalar",
        Integer.toString(threads), Integer.toString(s.batch()), Integer.toString(s.qHeads()),
        Integer.toString(s.kvHeads()), Integer.toString(s.qLen()), Integer.toString(s.kvLen()),
        Integer.toString(s.dim()), DenseMaskOptions.describe(o), Table.fixed(median, 3),
        Table.fixed(min, 3), Table.fixed(gflops, 2), Long.toString(pairs),
        Table.fixed(e.cosine(), 5), Table.fixed(e.relativeL1(), 4), Table.sci(e.rmse()),
        Table.sci(e.maxAbs()),
        ok ? "yes" : "NO");
    t.print(console.out());
  }
}
