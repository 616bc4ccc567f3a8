package dev.attention4j.cli;

import dev.attention4j.core.DType;
import dev.attention4j.core.Kernels;
import dev.attention4j.core.Tensor;
import dev.attention4j.linear.FeatureMap;
import dev.attention4j.linear.FeatureWeights;
import dev.attention4j.linear.LinearAttention;
import dev.attention4j.linear.LinearOptions;
import dev.attention4j.linear.ReferenceLinearAttention;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.ForkJoinPool;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code bench linear}: times linear attention on random inputs. */
@Command(name = "linear", mixinStandardHelpOptions = true, sortOptions = false,
    description = {
        "Times linear attention on seeded random float32 inputs.",
        "Median and min of --reps calls after a warm-up; GFLOP/s counts the kernel's own",
        "multiply-adds (feature projections, intra-chunk and state products, window) as 2 flops;",
        "pairs = (query, key) pairs covered; max_abs_err is against the float64 reference on a",
        "run with Sq and Sk capped at 256. Hedgehog without --feature-weights uses seeded random",
        "weights with F = D / 2 (feature dim D). Progress notes go to stderr."})
final class LinearBenchCommand implements Callable<Integer> {

  private final Console console;

  @Mixin
  BenchShapeOptions size;

  @Mixin
  LinearKernelOptions linear;

  @Mixin
  BenchRunOptions how;

  LinearBenchCommand(Console console) {
    this.console = console;
  }

  @Override
  public Integer call() {
    BenchRunner.Shape shape = size.shape();
    int threads = how.threads();
    int reps = how.reps();
    double warmup = how.warmupSeconds();
    boolean reference = how.impl() == OptionValues.Impl.REFERENCE;
    FeatureMap.Kind kind = linear.kind();
    FeatureWeights w = linear.weights(kind);
    if (kind.needsWeights() && w == null) {
      w = randomWeights(new SplittableRandom(how.seed + 7), shape.qHeads(), shape.kvHeads(),
          shape.dim(), Math.max(1, shape.dim() / 2));
    }
    FeatureWeights weights = w;
    FeatureMap map = SoftmaxRunCommand.invalidArgument(() -> FeatureMap.of(kind, weights));
    LinearOptions o = linear.options(map, how.scale, shape.qHeads());
    BenchRunner.Inputs in = inputs(shape, how.seed);
    SoftmaxRunCommand.invalidArgument(() -> LinearAttention.check(in.q(), in.k(), in.v(), null,
        o));
    Tensor out = SoftmaxRunCommand.allocate("output", reference ? DType.F64 : DType.F32,
        shape.batch(), shape.qHeads(), shape.qLen(), shape.dimV());
    String impl = reference ? "reference" : "chunked-simd";
    double[] ms;
    long macs;
    try (ForkJoinPool pool = new ForkJoinPool(threads)) {
      console.note("bench linear: " + impl + " on " + threads + " thread"
          + (threads == 1 ? "" : "s") + ", warming up (>= 3 calls, >= " + warmup + " s)");
      long[] counted = new long[1];
      ms = Timings.sortedMs(() -> counted[0] = run(in, out, o, pool, reference), 3, warmup,
          reps);
      macs = counted[0];
    }
    double median = Timings.median(ms);
    long pairs = pairs(shape, o);
    double gflops = reference ? Double.NaN : 2.0 * macs / (median / 1e3) / 1e9;
    BenchRunner.Shape cs = shape.forCheck();
    double maxAbs = 0;
    boolean ok = true;
    if (!reference) {
      console.note("bench linear: checking against the float64 reference on B=" + cs.batch()
          + " Hq=" + cs.qHeads() + " Hkv=" + cs.kvHeads() + " Sq=" + cs.qLen() + " Sk="
          + cs.kvLen());
      FeatureMap small = map;
      if (map.weights() != null && cs.qHeads() != shape.qHeads()) {
        small = FeatureMap.of(kind, firstHeads(map.weights(), cs.qHeads(), cs.kvHeads()));
      }
      LinearOptions so = cs.qHeads() == shape.qHeads() ? o : restrict(o, small, cs.qHeads());
      BenchRunner.Inputs sin = inputs(cs, how.seed + 1);
      Tensor fo = Tensor.zeros(DType.F32, cs.batch(), cs.qHeads(), cs.qLen(), cs.dimV());
      Tensor ro = Tensor.zeros(DType.F64, cs.batch(), cs.qHeads(), cs.qLen(), cs.dimV());
      LinearAttention.forward(sin.q(), sin.k(), sin.v(), fo, so);
      ReferenceLinearAttention.forward(sin.q(), sin.k(), sin.v(), ro, so);
      Accuracy acc = Accuracy.of(fo, null, ro, null);
      maxAbs = acc.out().maxAbs();
      ok = acc.withinTolerance();
    }
    if (how.json) {
      console.out().println(new JsonLine()
          .put("kernel", "linear")
          .put("impl", impl)
          .put("provider", Kernels.provider().name())
          .put("threads", threads)
          .put("batch", shape.batch())
          .put("heads", shape.qHeads())
          .put("kv_heads", shape.kvHeads())
          .put("seq", shape.qLen())
          .put("kv_seq", shape.kvLen())
          .put("dim", shape.dim())
          .put("dim_v", shape.dimV())
          .put("feature_map", kind.label())
          .put("feature_dim", map.featureDim(shape.dim()))
          .put("causal", o.causal())
          .put("normalize", o.normalize())
          .put("decay", o.hasDecay())
          .put("hybrid_window", o.hybridWindow())
          .put("chunk_size", o.chunkSize())
          .put("reps", reps)
          .put("seed", how.seed)
          .put("median_ms", median)
          .put("min_ms", ms[0])
          .put("gflops", gflops)
          .put("flops", 2.0 * macs)
          .put("pairs", pairs)
          .put("max_abs_err", maxAbs)
          .put("within_tolerance", ok)
          .put("err_shape", cs.toArray()));
      console.out().flush();
      return Main.OK;
    }
    Table t = new Table("kernel", "impl", "threads", "B", "Hq", "Hkv", "Sq", "Sk", "D", "Dv",
        "options", "median_ms", "min_ms", "GFLOP/s", "pairs", "max_abs_err", "ok");
    t.row("linear", impl, Integer.toString(threads), Integer.toString(shape.batch()),
        Integer.toString(shape.qHeads()), Integer.toString(shape.kvHeads()),
        Integer.toString(shape.qLen()), Integer.toString(shape.kvLen()),
        Integer.toString(shape.dim()), Integer.toString(shape.dimV()),
        LinearKernelOptions.describe(o), Table.fixed(median, 3), Table.fixed(ms[0], 3),
        Double.isNaN(gflops) ? "-" : Table.fixed(gflops, 2), Long.toString(pairs),
        Table.sci(maxAbs), ok ? "yes" : "NO");
    t.print(console.out());
    return Main.OK;
  }

  private static long run(BenchRunner.Inputs in, Tensor out, LinearOptions o, ForkJoinPool pool,
      boolean reference) {
    if (reference) {
      ReferenceLinearAttention.forward(in.q(), in.k(), in.v(), out, o);
      return 0;
    }
    return LinearAttention.forward(in.q(), in.k(), in.v(), out, o, pool);
  }

  /** (query, key) pairs covered: every pair, or the causal ones (bottom-right). */
  static long pairs(BenchRunner.Shape s, LinearOptions o) {
    long perHead;
    if (!o.causal()) {
      perHead = (long) s.qLen() * s.kvLen();
    } else {
      perHead = 0;
      long off = (long) s.kvLen() - s.qLen();
      for (int t = 0; t < s.qLen(); t++) {
        perHead += Math.max(0, Math.min(s.kvLen(), t + off + 1));
      }
    }
    return perHead * s.batch() * s.qHeads();
  }

  static BenchRunner.Inputs inputs(BenchRunner.Shape s, long seed) {
    SplittableRandom rng = new SplittableRandom(seed);
    Tensor q = RandomTensors.gaussian(rng, s.batch(), s.qHeads(), s.qLen(), s.dim());
    Tensor k = RandomTensors.gaussian(rng, s.batch(), s.kvHeads(), s.kvLen(), s.dim());
    Tensor v = RandomTensors.gaussian(rng, s.batch(), s.kvHeads(), s.kvLen(), s.dimV());
    return new BenchRunner.Inputs(q, k, v);
  }

  /** Seeded weights N(0, 1/D), rounded to float32. */
  static FeatureWeights randomWeights(SplittableRandom rnd, int hq, int hkv, int d, int f) {
    double[][] wq = new double[hq][d * f];
    double[][] wk = new double[hkv][d * f];
    for (double[][] w : new double[][][] {wq, wk}) {
      for (double[] row : w) {
        for (int i = 0; i < row.length; i++) {
          row[i] = (float) (rnd.nextGaussian() / Math.sqrt(d));
        }
      }
    }
    return FeatureWeights.of(wq, wk, d, f);
  }

  private static FeatureWeights firstHeads(FeatureWeights w, int hq, int hkv) {
    double[][] wq = new double[hq][];
    double[][] wk = new double[hkv][];
    for (int h = 0; h < hq; h++) {
      wq[h] = w.query(h);
    }
    for (int g = 0; g < hkv; g++) {
      wk[g] = w.key(g);
    }
    return FeatureWeights.of(wq, wk, w.dim(), w.features());
  }

  /** The options for the first {@code hq} heads of the accuracy run. */
  private static LinearOptions restrict(LinearOptions o, FeatureMap map, int hq) {
    LinearOptions.Builder b = o.toBuilder(map);
    if (o.hasDecay()) {
      double[] s = new double[hq];
      for (int h = 0; h < hq; h++) {
        s[h] = o.decaySlope(h);
      }
      b.decaySlopes(s);
    }
    if (o.isHybrid()) {
      double[] g = new double[hq];
      for (int h = 0; h < hq; h++) {
        g[h] = o.mix(h);
      }
      b.hybrid(o.hybridWindow(), g);
    }
    return b.build();
  }
}
