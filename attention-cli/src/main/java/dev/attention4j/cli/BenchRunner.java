package dev.attention4j.cli;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionShape;
import dev.attention4j.core.DType;
import dev.attention4j.core.Kernels;
import dev.attention4j.core.Tensor;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.IntFunction;

/**
 * The timing loop shared by the softmax {@code bench KERNEL} commands: seeded random float32
 * inputs, a warm-up (at least 3 calls and at least {@code --warmup} seconds), {@code --reps} timed
 * calls (median and min), the visible pairs counted exactly, and the error against the float64
 * reference on a smaller run of the same configuration.
 */
final class BenchRunner {

  /** Sequence lengths of the accuracy run are capped at this. */
  static final int CHECK_MAX_LEN = 256;

  /** Budget of multiply-adds of the accuracy run, which decides how many heads it keeps. */
  static final long CHECK_BUDGET = 1L << 27;

  private BenchRunner() {
  }

  /** A problem size: Q {@code [B, Hq, Sq, D]}, K {@code [B, Hkv, Sk, D]}, V {@code [.., Dv]}. */
  record Shape(int batch, int qHeads, int kvHeads, int qLen, int kvLen, int dim, int dimV) {

    /** The shape of the accuracy run: one batch, lengths capped, heads cut to the budget. */
    Shape forCheck() {
      return forCheck(false);
    }

    /**
     * The shape of the accuracy run: lengths capped, heads cut to the budget, and one batch, or
     * with {@code keepBatches} (per-batch key lengths) as many of the first batches as the budget
     * allows with one KV head.
     */
    Shape forCheck(boolean keepBatches) {
      int sq = Math.min(qLen, CHECK_MAX_LEN);
      int sk = Math.min(kvLen, CHECK_MAX_LEN);
      int group = qHeads / kvHeads;
      long perKvHead = Math.max(1, (long) group * sq * sk * (dim + dimV));
      int b = keepBatches ? (int) Math.max(1, Math.min(batch, CHECK_BUDGET / perKvHead)) : 1;
      int hkv = (int) Math.max(1, Math.min(kvHeads, CHECK_BUDGET / (perKvHead * b)));
      return new Shape(b, hkv * group, hkv, sq, sk, dim, dimV);
    }

    int[] toArray() {
      return new int[] {batch, qHeads, kvHeads, qLen, kvLen, dim, dimV};
    }
  }

  /**
   * One benchmark result.
   *
   * @param kernel the KERNEL argument
   * @param impl the kernel's own name (for example {@code simd-256} or {@code reference})
   * @param checkShape shape of the accuracy run
   */
  record Result(String kernel, String impl, int threads, Shape shape, AttentionOptions options,
      int reps, long seed, double medianMs, double minMs, long pairs, double gflops,
      double maxAbsErr, double lseMaxAbsErr, boolean withinTolerance, Shape checkShape) {}

  /** Runs the benchmark; notes go to stderr. */
  static Result run(Console console, String kernelName, Shape shape, AttentionOptions options,
      BenchRunOptions how, IntFunction<KernelRunner> kernels) {
    int threads = how.threads();
    int reps = how.reps();
    double warmup = how.warmupSeconds();
    long seed = how.seed;
    Inputs in = Inputs.random(shape, options, seed);
    try (KernelRunner kernel = kernels.apply(threads)) {
      Tensor out = SoftmaxRunCommand.allocate("output", kernel.outputDType(), shape.batch(),
          shape.qHeads(), shape.qLen(), shape.dimV());
      Tensor lse = SoftmaxRunCommand.allocate("LSE", kernel.outputDType(), shape.batch(),
          shape.qHeads(), shape.qLen());
      console.note("bench " + kernelName + ": " + kernel.name() + " on " + threads + " thread"
          + (threads == 1 ? "" : "s") + ", warming up (>= 3 calls, >= " + warmup + " s)");
      double[] ms = Timings.sortedMs(() -> kernel.forward(in.q, in.k, in.v, out, lse, options),
          3, warmup, reps);
      double median = Timings.median(ms);
      long pairs = VisiblePairs.count(shape.batch(), shape.qHeads(), shape.qLen(), shape.kvLen(),
          options);
      double gflops = 2.0 * (shape.dim() + shape.dimV()) * pairs / (median / 1e3) / 1e9;

      Shape cs = shape.forCheck(options.kvLens() != null);
      AttentionOptions checkOptions = forCheck(options, shape, cs);
      double maxAbs = 0;
      double lseMaxAbs = 0;
      boolean ok = true;
      if (!kernel.isReference()) {
        console.note("bench " + kernelName + ": checking against the float64 reference on B="
            + cs.batch() + " Hq=" + cs.qHeads() + " Hkv=" + cs.kvHeads() + " Sq=" + cs.qLen()
            + " Sk=" + cs.kvLen());
        Inputs small = Inputs.random(cs, checkOptions, seed + 1);
        Tensor o = SoftmaxRunCommand.allocate("output", kernel.outputDType(), cs.batch(),
            cs.qHeads(), cs.qLen(), cs.dimV());
        Tensor l = SoftmaxRunCommand.allocate("LSE", kernel.outputDType(), cs.batch(),
            cs.qHeads(), cs.qLen());
        kernel.forward(small.q, small.k, small.v, o, l, checkOptions);
        Tensor refO = Tensor.zeros(DType.F64, o.shape());
        Tensor refL = Tensor.zeros(DType.F64, l.shape());
        try (KernelRunner ref = KernelRunner.reference(OptionValues.allCores())) {
          ref.forward(small.q, small.k, small.v, refO, refL, checkOptions);
        }
        Accuracy acc = Accuracy.of(o, l, refO, refL);
        maxAbs = acc.out().maxAbs();
        lseMaxAbs = acc.lseMaxAbs();
        ok = acc.withinTolerance();
      }
      return new Result(kernelName, kernel.name(), threads, shape, options, reps, seed, median,
          ms[0], pairs, gflops, maxAbs, lseMaxAbs, ok, cs);
    }
  }

  /**
   * The options of the accuracy run {@code cs} of {@code shape}: the ALiBi slopes of the query
   * heads it keeps (the first ones) and the key lengths of the batches it keeps, scaled to its key
   * length (rounded; 0 and full stay 0 and full).
   */
  static AttentionOptions forCheck(AttentionOptions options, Shape shape, Shape cs) {
    AttentionOptions.Builder b = options.toBuilder();
    if (options.hasAlibi()) {
      b.alibiSlopes(Arrays.copyOf(options.alibiSlopes(), cs.qHeads()));
    }
    int[] lens = options.kvLens();
    if (lens != null) {
      int[] kept = new int[cs.batch()];
      for (int i = 0; i < kept.length; i++) {
        kept[i] = (int) Math.round((double) lens[i] * cs.kvLen() / shape.kvLen());
      }
      b.kvLens(kept);
    }
    return b.build();
  }

  /** A table on stdout, or one JSON line with {@code json}. */
  static void print(Console console, Result r, boolean json) {
    Shape s = r.shape();
    AttentionOptions o = r.options();
    if (json) {
      console.out().println(new JsonLine()
          .put("kernel", r.kernel())
          .put("impl", r.impl())
          .put("provider", Kernels.provider().name())
          .put("threads", r.threads())
          .put("batch", s.batch())
          .put("heads", s.qHeads())
          .put("kv_heads", s.kvHeads())
          .put("seq", s.qLen())
          .put("kv_seq", s.kvLen())
          .put("dim", s.dim())
          .put("dim_v", s.dimV())
          .put("causal", o.causal())
          .put("align", OptionValues.alignmentName(o.alignment()))
          .put("window", new int[] {o.windowLeft(), o.windowRight()})
          .put("softcap", o.softcap())
          .put("alibi", o.hasAlibi())
          .put("kv_lens", o.kvLens())
          .put("scale", o.scale(s.dim()))
          .put("reps", r.reps())
          .put("seed", r.seed())
          .put("median_ms", r.medianMs())
          .put("min_ms", r.minMs())
          .put("gflops", r.gflops())
          .put("pairs", r.pairs())
          .put("max_abs_err", r.maxAbsErr())
          .put("lse_max_abs_err", r.lseMaxAbsErr())
          .put("within_tolerance", r.withinTolerance())
          .put("err_shape", r.checkShape().toArray()));
      console.out().flush();
      return;
    }
    Table t = new Table("kernel", "impl", "threads", "B", "Hq", "Hkv", "Sq", "Sk", "D", "Dv",
        "mask", "median_ms", "min_ms", "GFLOP/s", "pairs", "max_abs_err", "ok");
    t.row(r.kernel(), r.impl(), Integer.toString(r.threads()), Integer.toString(s.batch()),
        Integer.toString(s.qHeads()), Integer.toString(s.kvHeads()), Integer.toString(s.qLen()),
        Integer.toString(s.kvLen()), Integer.toString(s.dim()), Integer.toString(s.dimV()),
        DenseMaskOptions.describe(o), Table.fixed(r.medianMs(), 3), Table.fixed(r.minMs(), 3),
        Table.fixed(r.gflops(), 2), Long.toString(r.pairs()), Table.sci(r.maxAbsErr()),
        r.withinTolerance() ? "yes" : "NO");
    t.print(console.out());
  }

  /** Random Q, K, V for a shape, validated against the options. */
  record Inputs(Tensor q, Tensor k, Tensor v) {

    static Inputs random(Shape s, AttentionOptions options, long seed) {
      SplittableRandom rng = new SplittableRandom(seed);
      Tensor q = RandomTensors.gaussian(rng, s.batch(), s.qHeads(), s.qLen(), s.dim());
      Tensor k = RandomTensors.gaussian(rng, s.batch(), s.kvHeads(), s.kvLen(), s.dim());
      Tensor v = RandomTensors.gaussian(rng, s.batch(), s.kvHeads(), s.kvLen(), s.dimV());
      SoftmaxRunCommand.invalidArgument(() -> AttentionShape.of(q, k, v, null, null, options));
      return new Inputs(q, k, v);
    }
  }
}
