package dev.attention4j.cli;

import dev.attention4j.core.Alignment;
import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.DType;
import dev.attention4j.core.Kernels;
import dev.attention4j.core.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.function.IntFunction;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code demo}: every kernel family of this build on a built-in workload (B = 1, Hq = 8, Hkv = 2,
 * S = 512, D = 64; causal and not, a sliding window, a softcap, and a decode-like call with key
 * lengths and ALiBi), each checked against the float64 reference and timed. Exits 1 when a kernel
 * misses the SEMANTICS.md tolerance.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, sortOptions = false,
    description = {
        "Runs every kernel family of this build against the float64 reference.",
        "Built-in workload B=1, Hq=8, Hkv=2, S=512, D=64: full, causal, sliding window, softcap,",
        "and a decode-like call with key lengths and ALiBi. Prints a table of accuracy (max_abs,",
        "cosine, relative L1, LSE) and speed. Exit status 1 if a kernel misses the tolerance."})
final class DemoCommand implements Callable<Integer> {

  private static final int B = 1;
  private static final int HQ = 8;
  private static final int HKV = 2;
  private static final int S = 512;
  private static final int D = 64;
  private static final long SEED = 42;
  /** Untimed warm-up per kernel and case: at least 2 calls and at least this long. */
  private static final long WARMUP_NANOS = 250_000_000L;
  /**
   * Warm-up of each kernel's first case, long enough for the JIT to compile the tile loops (with
   * 250 ms the first case ran at a fifth of its speed).
   */
  private static final long FIRST_WARMUP_NANOS = 2_000_000_000L;

  /** Demos of the other kernel families: one line per family. */
  static final List<FamilyDemo> FAMILIES = List.of(
      new LinearDemo(),
      new QuantDemo(),
      new SparseDemo()
  );

  private final Console console;

  @Option(names = "--threads", paramLabel = "N", description = "threads (default: all cores)")
  Integer threads;

  @Option(names = "--json", description = "one JSON object per result line instead of a table")
  boolean json;

  DemoCommand(Console console) {
    this.console = console;
  }

  /** One workload: lengths and options. */
  record Case(String name, int qLen, int kvLen, AttentionOptions options) {}

  /** One kernel to demonstrate: a display name and how to build it on some threads. */
  record Contender(String family, IntFunction<KernelRunner> factory) {}

  static List<Case> cases() {
    double[] slopes = new double[HQ];
    for (int h = 0; h < HQ; h++) {
      slopes[h] = Math.pow(2, -8.0 * (h + 1) / HQ);
    }
    return List.of(
        new Case("full", S, S, options().build()),
        new Case("causal", S, S, options().causal(true).build()),
        new Case("causal window 128", S, S, options().causal(true).window(128, 0).build()),
        new Case("softcap 5", S, S, options().softcap(5).build()),
        new Case("decode kv-lens alibi", 16, S, options().causal(true)
            .alignment(Alignment.BOTTOM_RIGHT).kvLens(400).alibiSlopes(slopes).build()));
  }

  private static AttentionOptions.Builder options() {
    return AttentionOptions.builder().returnLse(true);
  }

  List<Contender> contenders() {
    List<Contender> list = new ArrayList<>();
    list.add(new Contender("dense", KernelRunner::fastDense));
    if (!Kernels.provider().dense().name().equals(Kernels.scalar().dense().name())) {
      list.add(new Contender("dense", t -> KernelRunner.fast(Kernels.scalar().dense(), t)));
    }
    return list;
  }

  @Override
  public Integer call() {
    int n = OptionValues.threads(threads, OptionValues.allCores());
    String provider = Kernels.provider().name();
    if (!json) {
      console.out().println("attention4j demo: provider " + provider + " (dense kernel "
          + Kernels.dense().name() + "), " + n + " thread" + (n == 1 ? "" : "s")
          + "; workload B=" + B + " Hq=" + HQ + " Hkv=" + HKV + " S=" + S + " D=" + D
          + ", seeded Gaussian inputs (seed " + SEED + ")");
    }
    Table table = new Table("case", "kernel", "impl", "Sq", "Sk", "ms", "GFLOP/s", "max_abs",
        "1-cos", "rel_l1", "lse_max_abs", "ok");
    int failures = 0;
    int checks = 0;
    SplittableRandom rng = new SplittableRandom(SEED);
    List<Case> cases = cases();
    for (Case c : cases) {
      Tensor q = RandomTensors.gaussian(rng, B, HQ, c.qLen(), D);
      Tensor k = RandomTensors.gaussian(rng, B, HKV, c.kvLen(), D);
      Tensor v = RandomTensors.gaussian(rng, B, HKV, c.kvLen(), D);
      long pairs = VisiblePairs.count(B, HQ, c.qLen(), c.kvLen(), c.options());
      Tensor refO = Tensor.zeros(DType.F64, B, HQ, c.qLen(), D);
      Tensor refL = Tensor.zeros(DType.F64, B, HQ, c.qLen());
      double refMs;
      try (KernelRunner ref = KernelRunner.reference(n)) {
        long t0 = System.nanoTime();
        ref.forward(q, k, v, refO, refL, c.options());
        refMs = (System.nanoTime() - t0) / 1e6;
        emit(table, provider, c, "reference", ref.name(), refMs, pairs, null);
      }
      for (Contender con : contenders()) {
        try (KernelRunner kernel = con.factory().apply(n)) {
          Tensor o = Tensor.zeros(kernel.outputDType(), B, HQ, c.qLen(), D);
          Tensor l = Tensor.zeros(kernel.outputDType(), B, HQ, c.qLen());
          long budget = c == cases.get(0) ? FIRST_WARMUP_NANOS : WARMUP_NANOS;
          double ms = FamilyDemo.medianMs(() -> kernel.forward(q, k, v, o, l, c.options()), 5,
              budget);
          Accuracy acc = Accuracy.of(o, l, refO, refL);
          checks++;
          if (!acc.withinTolerance()) {
            failures++;
          }
          emit(table, provider, c, con.family(), kernel.name(), ms, pairs, acc);
        }
      }
    }
    if (!json) {
      table.print(console.out());
    }
    Table families = new Table("case", "kernel", "impl", "ms", "dense_ms", "speedup", "max_abs",
        "1-cos", "rel_l1", "ok");
    for (FamilyDemo demo : FAMILIES) {
      List<FamilyDemo.Row> rows;
      try {
        rows = demo.run(n);
      } catch (Exception e) {
        throw new IllegalStateException("demo of " + demo.getClass().getSimpleName() + " failed: "
            + e.getMessage(), e);
      }
      for (FamilyDemo.Row r : rows) {
        checks++;
        if (!r.ok()) {
          failures++;
        }
        emitFamily(families, provider, r);
      }
    }
    if (!json && !FAMILIES.isEmpty()) {
      console.out().println();
      families.print(console.out());
    }
    console.out().flush();
    if (failures > 0) {
      console.error(failures + " of " + checks + " kernel runs exceed the SEMANTICS.md tolerance"
          + " against the float64 reference (see the 'ok' column)");
      return Main.INTERNAL;
    }
    return Main.OK;
  }

  private void emit(Table table, String provider, Case c, String family, String impl, double ms,
      long pairs, Accuracy acc) {
    double gflops = 2.0 * (D + D) * pairs / (ms / 1e3) / 1e9;
    if (json) {
      JsonLine j = new JsonLine()
          .put("case", c.name())
          .put("kernel", family)
          .put("impl", impl)
          .put("provider", provider)
          .put("batch", B)
          .put("heads", HQ)
          .put("kv_heads", HKV)
          .put("seq", c.qLen())
          .put("kv_seq", c.kvLen())
          .put("dim", D)
          .put("dim_v", D)
          .put("ms", ms)
          .put("gflops", gflops)
          .put("pairs", pairs);
      if (acc != null) {
        j.put("max_abs_err", acc.out().maxAbs())
            .put("cosine", acc.out().cosine())
            .put("rel_l1", acc.out().relativeL1())
            .put("lse_max_abs_err", acc.lseMaxAbs())
            .put("within_tolerance", acc.withinTolerance());
      }
      console.out().println(j);
      return;
    }
    table.row(c.name(), family, impl, Integer.toString(c.qLen()), Integer.toString(c.kvLen()),
        Table.fixed(ms, 2), Table.fixed(gflops, 2),
        acc == null ? "-" : Table.sci(acc.out().maxAbs()),
        acc == null ? "-" : Table.sci(1 - acc.out().cosine()),
        acc == null ? "-" : Table.sci(acc.out().relativeL1()),
        acc == null ? "-" : Table.sci(acc.lseMaxAbs()),
        acc == null ? "oracle" : acc.withinTolerance() ? "yes" : "NO");
  }

  private void emitFamily(Table table, String provider, FamilyDemo.Row r) {
    double speedup = r.denseMs() / r.ms();
    if (json) {
      console.out().println(new JsonLine()
          .put("case", r.caseName())
          .put("kernel", r.kernel())
          .put("impl", r.impl())
          .put("provider", provider)
          .put("ms", r.ms())
          .put("dense_ms", r.denseMs())
          .put("speedup", speedup)
          .put("max_abs_err", r.maxAbs())
          .put("cosine", r.cosine())
          .put("rel_l1", r.relativeL1())
          .put("within_tolerance", r.ok()));
      return;
    }
    table.row(r.caseName(), r.kernel(), r.impl(), Table.fixed(r.ms(), 2),
        Double.isNaN(r.denseMs()) ? "-" : Table.fixed(r.denseMs(), 2),
        Double.isNaN(speedup) ? "-" : Table.fixed(speedup, 2) + "x", Table.sci(r.maxAbs()),
        Table.sci(1 - r.cosine()), Table.sci(r.relativeL1()), r.ok() ? "yes" : "NO");
  }
}
