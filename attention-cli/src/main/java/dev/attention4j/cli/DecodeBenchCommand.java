package dev.attention4j.cli;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.DType;
import dev.attention4j.core.Kernels;
import dev.attention4j.core.PagedKvCache;
import dev.attention4j.core.Tensor;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.ForkJoinPool;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code bench decode}: times one decode step (one query token per sequence, bottom-right
 * causal) against a KV cache of length L, contiguous or paged, in float32, float16 or bfloat16,
 * or paged in INT8 / FP8 E4M3 with scales ({@code QuantizedKvCache}, dequantized per key tile).
 */
@Command(name = "decode", mixinStandardHelpOptions = true, sortOptions = false,
    description = {
        "Times one decode step: one query token per sequence against a KV cache of --kv-seq",
        "tokens (contiguous, or paged with --page-size), K and V stored as --kv-dtype.",
        "GFLOP/s counts 2 * (D + Dv) flops per (query head, key) pair; GB/s counts the bytes of",
        "K and V read once per step (int8/fp8: codes and scales); max_abs_err is against the",
        "float64 reference on the stored (for int8/fp8: dequantized) values of a cache",
        "of at most " + DecodeBenchCommand.CHECK_MAX_LEN + " tokens of the same layout and"
            + " dtype. Progress notes go to stderr."})
final class DecodeBenchCommand implements Callable<Integer> {

  /** Cache length of the accuracy run is capped at this. */
  static final int CHECK_MAX_LEN = 2048;

  /** Page size of a quantized cache without --page-size. */
  static final int QUANT_PAGE = 256;

  /** Tokens appended to a paged cache per call while filling it. */
  private static final int FILL_CHUNK = 1024;

  private final Console console;

  @Option(names = "--batch", paramLabel = "B", defaultValue = "1",
      description = "sequences decoded together (default 1)")
  int batch;

  @Option(names = "--heads", paramLabel = "H", defaultValue = "8",
      description = "query heads (default 8)")
  int heads;

  @Option(names = "--kv-heads", paramLabel = "H", description = "KV heads (default: --heads)")
  Integer kvHeads;

  @Option(names = "--kv-seq", paramLabel = "L", defaultValue = "2048",
      description = "cache length per sequence (default 2048)")
  int kvSeq;

  @Option(names = "--dim", paramLabel = "D", defaultValue = "128",
      description = "head dim of Q and K (default 128)")
  int dim;

  @Option(names = "--dim-v", paramLabel = "D", description = "head dim of V (default: --dim)")
  Integer dimV;

  @Option(names = "--kv-dtype", paramLabel = "f32|f16|bf16|int8|fp8", defaultValue = "f32",
      description = "storage of K and V (default f32); int8 and fp8 (E4M3) are a quantized"
          + " paged cache (per-token K scales, per-page per-channel V scales; --page-size"
          + " default " + DecodeBenchCommand.QUANT_PAGE + ")")
  String kvDtype;

  @Option(names = "--page-size", paramLabel = "P",
      description = "read K and V from a paged cache of P tokens per page (default: one"
          + " contiguous tensor)")
  Integer pageSize;

  @Mixin
  BenchRunOptions how;

  DecodeBenchCommand(Console console) {
    this.console = console;
  }

  @Override
  public Integer call() {
    DType dtype = kvDtype(kvDtype);
    String quant = dtype == null ? kvDtype.toLowerCase(java.util.Locale.ROOT) : null;
    int hkv = kvHeads == null ? heads : kvHeads;
    OptionValues.atLeast("--batch", batch, 1);
    OptionValues.atLeast("--heads", heads, 1);
    OptionValues.atLeast("--kv-heads", hkv, 1);
    OptionValues.atLeast("--kv-seq", kvSeq, 1);
    OptionValues.atLeast("--dim", dim, 1);
    int dv = OptionValues.atLeast("--dim-v", dimV == null ? dim : dimV, 1);
    if (heads % hkv != 0) {
      throw new UsageException("query heads " + heads + " are not a multiple of KV heads " + hkv
          + " (--heads, --kv-heads)");
    }
    if (pageSize != null) {
      OptionValues.atLeast("--page-size", pageSize, 1);
    }
    boolean reference = how.impl() == OptionValues.Impl.REFERENCE;
    if (pageSize != null && (reference || !SimdKernels.inUse())) {
      throw new UsageException("--page-size needs the SIMD kernel (--impl fast, with"
          + " jdk.incubator.vector)");
    }
    if (quant != null && (reference || !SimdKernels.inUse())) {
      throw new UsageException("--kv-dtype " + quant + " needs the SIMD kernel (--impl fast,"
          + " with jdk.incubator.vector)");
    }
    Integer page = quant != null && pageSize == null ? Integer.valueOf(QUANT_PAGE) : pageSize;
    long elems = (long) hkv * kvSeq * Math.max(dim, dv);
    if (page == null && elems > Tensor.MAX_ARRAY_LENGTH) {
      throw new UsageException("a contiguous cache of " + elems + " elements per sequence is"
          + " larger than one array can hold; use --page-size");
    }
    int threads = how.threads();
    int reps = how.reps();
    double warmup = how.warmupSeconds();
    AttentionOptions.Builder ob = AttentionOptions.builder().causal(true).returnLse(true);
    if (how.scale != null) {
      ob.scale(OptionValues.scale(how.scale));
    }
    AttentionOptions options = ob.build();
    String layout = page == null ? "contiguous" : "paged";

    double[] ms;
    String impl;
    long bytes;
    try (Step step = Step.create(batch, heads, hkv, kvSeq, dim, dv, dtype, quant, page, options,
        threads, reference, how.seed)) {
      impl = step.name;
      bytes = step.quant != null ? step.quant.bytesRead()
          : (long) batch * hkv * kvSeq * (dim + dv) * (dtype == DType.F32 ? 4 : 2);
      console.note("bench decode: " + impl + " on " + threads + " thread"
          + (threads == 1 ? "" : "s") + ", " + layout + " " + (quant != null ? quant : dtype)
          + " cache of " + kvSeq + " tokens, warming up (>= 3 calls, >= " + warmup + " s)");
      ms = Timings.sortedMs(step::run, 3, warmup, reps);
    }
    double median = Timings.median(ms);
    long pairs = (long) batch * heads * kvSeq;
    double gflops = 2.0 * (dim + dv) * pairs / (median / 1e3) / 1e9;
    double gbps = bytes / (median / 1e3) / 1e9;

    // accuracy on a shorter cache of the same layout and dtype
    int checkLen = Math.min(kvSeq, CHECK_MAX_LEN);
    Accuracy acc;
    if (reference) {
      acc = null;
    } else {
      console.note("bench decode: checking against the float64 reference on a cache of "
          + checkLen + " tokens");
      try (Step small = Step.create(1, heads, hkv, checkLen, dim, dv, dtype, quant, page,
          options, threads, false, how.seed + 1)) {
        small.run();
        Tensor[] kv = small.contiguousKv();
        Tensor refO = Tensor.zeros(DType.F64, small.out.shape());
        Tensor refL = Tensor.zeros(DType.F64, small.lse.shape());
        try (KernelRunner ref = KernelRunner.reference(OptionValues.allCores())) {
          ref.forward(small.q, kv[0], kv[1], refO, refL, options);
        }
        acc = Accuracy.of(small.out, small.lse, refO, refL);
      }
    }
    double maxAbs = acc == null ? 0 : acc.out().maxAbs();
    double lseMaxAbs = acc == null ? 0 : acc.lseMaxAbs();
    boolean ok = acc == null || acc.withinTolerance();
    String kvName = kvDtype.toLowerCase(java.util.Locale.ROOT);
    if (how.json) {
      console.out().println(new JsonLine()
          .put("kernel", "decode")
          .put("impl", impl)
          .put("provider", Kernels.provider().name())
          .put("threads", threads)
          .put("batch", batch)
          .put("heads", heads)
          .put("kv_heads", hkv)
          .put("seq", 1)
          .put("kv_seq", kvSeq)
          .put("dim", dim)
          .put("dim_v", dv)
          .put("kv_dtype", kvName)
          .put("layout", layout)
          .put("page_size", page == null ? 0 : page)
          .put("causal", true)
          .put("scale", options.scale(dim))
          .put("reps", reps)
          .put("seed", how.seed)
          .put("median_ms", median)
          .put("min_ms", ms[0])
          .put("gflops", gflops)
          .put("gbps", gbps)
          .put("bytes", bytes)
          .put("pairs", pairs)
          .put("max_abs_err", maxAbs)
          .put("lse_max_abs_err", lseMaxAbs)
          .put("within_tolerance", ok)
          .put("err_shape", new int[] {1, heads, hkv, 1, checkLen, dim, dv}));
      console.out().flush();
      return Main.OK;
    }
    Table t = new Table("kernel", "impl", "threads", "B", "Hq", "Hkv", "L", "D", "Dv", "kv",
        "layout", "median_ms", "min_ms", "GFLOP/s", "GB/s", "pairs", "max_abs_err", "ok");
    t.row("decode", impl, Integer.toString(threads), Integer.toString(batch),
        Integer.toString(heads), Integer.toString(hkv), Integer.toString(kvSeq),
        Integer.toString(dim), Integer.toString(dv), kvName,
        page == null ? layout : layout + "/" + page, Table.fixed(median, 3),
        Table.fixed(ms[0], 3), Table.fixed(gflops, 2), Table.fixed(gbps, 2),
        Long.toString(pairs), Table.sci(maxAbs), ok ? "yes" : "NO");
    t.print(console.out());
    return Main.OK;
  }

  /** The K/V storage of {@code --kv-dtype}; null for int8 and fp8 (the quantized cache). */
  static DType kvDtype(String s) {
    return switch (s.toLowerCase(java.util.Locale.ROOT)) {
      case "f32" -> DType.F32;
      case "f16" -> DType.F16;
      case "bf16" -> DType.BF16;
      case "int8", "fp8" -> null;
      default -> throw new UsageException("--kv-dtype " + s + ": expected f32, f16, bf16, int8"
          + " or fp8");
    };
  }

  /** One decode step's inputs, outputs and kernel call. */
  private static final class Step implements AutoCloseable {
    final Tensor q;
    final Tensor out;
    final Tensor lse;
    final String name;
    private final Tensor k;
    private final Tensor v;
    private final PagedKvCache cache;
    private final int[] seqIds;
    final DecodeQuant quant;
    private final KernelRunner runner;
    private final ForkJoinPool pool;
    private final Runnable call;

    private Step(Tensor q, Tensor k, Tensor v, PagedKvCache cache, int[] seqIds, DecodeQuant quant,
        Tensor out, Tensor lse, AttentionOptions options, int threads, boolean reference) {
      this.quant = quant;
      this.q = q;
      this.k = k;
      this.v = v;
      this.cache = cache;
      this.seqIds = seqIds;
      this.out = out;
      this.lse = lse;
      if (quant != null) {
        this.runner = null;
        this.pool = new ForkJoinPool(threads);
        this.name = DecodeSimd.name();
        this.call = quant.step(pool, q, out, lse, options);
      } else if (cache == null) {
        this.pool = null;
        this.runner = KernelRunner.dense(reference ? OptionValues.Impl.REFERENCE
            : OptionValues.Impl.FAST, threads);
        this.name = runner.name();
        this.call = () -> runner.forward(q, k, v, out, lse, options);
      } else {
        this.runner = null;
        this.pool = new ForkJoinPool(threads);
        this.name = DecodeSimd.name();
        this.call = DecodeSimd.paged(pool, q, cache, seqIds, out, lse, options);
      }
    }

    static Step create(int batch, int hq, int hkv, int len, int d, int dv, DType dtype,
        String quant, Integer pageSize, AttentionOptions options, int threads, boolean reference,
        long seed) {
      SplittableRandom rng = new SplittableRandom(seed);
      Tensor q = RandomTensors.gaussian(rng, batch, hq, 1, d);
      DType outType = reference ? DType.F64 : DType.F32;
      Tensor out = Tensor.zeros(outType, batch, hq, 1, dv);
      Tensor lse = Tensor.zeros(outType, batch, hq, 1);
      if (pageSize == null) {
        Tensor k = Tensor.zeros(dtype, batch, hkv, len, d);
        Tensor v = Tensor.zeros(dtype, batch, hkv, len, dv);
        fillGaussian(rng, k);
        fillGaussian(rng, v);
        return new Step(q, k, v, null, null, null, out, lse, options, threads, reference);
      }
      long pages = (long) batch * ((len + pageSize - 1) / pageSize);
      if (pages > Integer.MAX_VALUE) {
        throw new UsageException("--page-size " + pageSize + " makes too many pages");
      }
      if (quant != null) {
        DecodeQuant dq = DecodeQuant.create(quant, hkv, d, dv, pageSize, (int) pages, batch, len,
            FILL_CHUNK, n -> new Tensor[] {RandomTensors.gaussian(rng, hkv, n, d),
                RandomTensors.gaussian(rng, hkv, n, dv)});
        return new Step(q, null, null, null, null, dq, out, lse, options, threads, reference);
      }
      PagedKvCache cache;
      try {
        cache = new PagedKvCache(hkv, d, dv, pageSize, (int) pages, dtype);
      } catch (IllegalArgumentException e) {
        throw new UsageException(e.getMessage());
      }
      int[] ids = new int[batch];
      for (int b = 0; b < batch; b++) {
        ids[b] = cache.newSequence();
        for (int t = 0; t < len; t += FILL_CHUNK) {
          int n = Math.min(FILL_CHUNK, len - t);
          cache.append(ids[b], RandomTensors.gaussian(rng, hkv, n, d),
              RandomTensors.gaussian(rng, hkv, n, dv));
        }
      }
      return new Step(q, null, null, cache, ids, null, out, lse, options, threads, reference);
    }

    private static void fillGaussian(SplittableRandom rng, Tensor t) {
      if (t.dtype() == DType.F32) {
        float[] a = t.floatData();
        for (int i = 0; i < a.length; i++) {
          a[i] = (float) gauss(rng);
        }
      } else {
        int n = (int) t.size();
        for (int i = 0; i < n; i++) {
          t.setAt(i, gauss(rng));
        }
      }
    }

    private static double gauss(SplittableRandom rng) {
      double u = 1.0 - rng.nextDouble();
      double w = rng.nextDouble();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * w);
    }

    void run() {
      call.run();
    }

    /** K and V as contiguous tensors holding the stored values (gathered when paged). */
    Tensor[] contiguousKv() {
      if (quant != null) {
        return quant.gather().get();
      }
      return cache == null ? new Tensor[] {k, v} : cache.gather(seqIds);
    }

    @Override
    public void close() {
      if (runner != null) {
        runner.close();
      }
      if (pool != null) {
        pool.shutdownNow();
      }
    }
  }
}
