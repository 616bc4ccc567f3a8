package dev.attention4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.core.Attention;
import dev.attention4j.core.AttentionKernel;
import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionResult;
import dev.attention4j.core.DType;
import dev.attention4j.core.ErrorMetrics;
import dev.attention4j.core.Kernels;
import dev.attention4j.core.PagedKvCache;
import dev.attention4j.core.ReferenceAttention;
import dev.attention4j.core.Tensor;
import dev.attention4j.core.io.Npy;
import dev.attention4j.core.io.Safetensors;
import dev.attention4j.core.io.SafetensorsFile;
import dev.attention4j.linear.FeatureMap;
import dev.attention4j.linear.FeatureWeights;
import dev.attention4j.linear.HedgehogFitter;
import dev.attention4j.linear.LinearAttention;
import dev.attention4j.linear.LinearAttentionState;
import dev.attention4j.linear.LinearOptions;
import dev.attention4j.quant.QuantFormat;
import dev.attention4j.quant.QuantizedFiles;
import dev.attention4j.quant.QuantizedKvCache;
import dev.attention4j.quant.QuantizedTensor;
import dev.attention4j.quant.SageAttention;
import dev.attention4j.quant.SageVariant;
import dev.attention4j.simd.SimdAttention;
import dev.attention4j.sparse.BlockMask;
import dev.attention4j.sparse.BlockSparseAttention;
import dev.attention4j.sparse.MobaAttention;
import dev.attention4j.sparse.MobaKvState;
import dev.attention4j.sparse.NablaAttention;
import dev.attention4j.sparse.Neighborhood;
import dev.attention4j.sparse.NeighborhoodAttention;
import dev.attention4j.sparse.TokenPermutation;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ForkJoinPool;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Java examples of the documentation pages, compiled and run. Every {@code java} block of
 * the pages in {@link #PAGES} must appear in this file line for line (leading blanks, blank lines
 * and import lines aside): {@link #everyPageExampleIsInThisFile} fails when a page and this file
 * drift apart. The code around each block only provides its inputs and checks its results.
 */
class DocsExamplesTest {

  /** The pages whose Java examples live here, relative to the module directory. */
  static final List<String> PAGES = List.of("getting-started.md", "dense.md", "sparse.md",
      "linear.md", "quantized.md");

  private static final Path DOCS = Path.of("..", "docs");
  private static final Path THIS_FILE =
      Path.of("src", "test", "java", "dev", "attention4j", "cli", "DocsExamplesTest.java");

  @TempDir
  Path dir;

  // ---- getting-started.md

  @Test
  void gettingStartedFirstCallAndThreads() {

    float[] qData = new float[1 * 8 * 256 * 64];    // your data, C order
    float[] kData = new float[1 * 2 * 256 * 64];
    float[] vData = new float[1 * 2 * 256 * 64];
    Tensor q = Tensor.of(qData, 1, 8, 256, 64);     // [B, Hq, Sq, D]
    Tensor k = Tensor.of(kData, 1, 2, 256, 64);     // [B, Hkv, Sk, D]: 4 query heads per KV head
    Tensor v = Tensor.of(vData, 1, 2, 256, 64);     // [B, Hkv, Sk, Dv]
    AttentionOptions opts = AttentionOptions.builder().causal(true).build();
    AttentionResult r = Attention.forward(q, k, v, opts);   // out [1, 8, 256, 64], lse [1, 8, 256]
    System.out.println(Kernels.provider().name());          // simd, or scalar without the module
    assertEquals(List.of(1, 8, 256, 64), asList(r.out().shape()));
    assertEquals(List.of(1, 8, 256), asList(r.lse().shape()));
    assertEquals("simd", Kernels.provider().name());
    try (ForkJoinPool pool = new ForkJoinPool(4)) {
      AttentionKernel kernel = new SimdAttention(pool);      // dev.attention4j.simd
      AttentionResult r4 = kernel.forward(q, k, v, opts);    // bitwise equal to r
    }
  }

  /** The code under test of the oracle example: here, the library's own fast kernel. */
  static final class MyAttention {
    static Tensor forward(Tensor q, Tensor k, Tensor v, AttentionOptions options) {
      return Attention.forward(q, k, v, options).out();
    }
  }

  @Test
  void myAttentionMatchesTheFloat64Reference() {
    Random rng = new Random(7);
    Tensor q = gaussian(rng, 2, 4, 100, 64);    // odd lengths catch tail bugs
    Tensor k = gaussian(rng, 2, 2, 130, 64);
    Tensor v = gaussian(rng, 2, 2, 130, 48);
    AttentionOptions opts = AttentionOptions.builder().causal(true).softcap(30).build();
    Tensor mine = MyAttention.forward(q, k, v, opts);                            // code under test
    AttentionResult ref = ReferenceAttention.INSTANCE.forward(q, k, v, opts);    // float64
    double maxRef = Arrays.stream(ref.out().toDoubleArray()).map(Math::abs).max().orElse(0);
    ErrorMetrics e = ErrorMetrics.compare(mine, ref.out());
    assertTrue(e.maxAbs() <= 1e-4 * Math.max(1, maxRef) + 1e-5, e::toString);
  }

  static Tensor gaussian(Random rng, int... shape) {
    float[] x = new float[(int) Tensor.elementCount(shape)];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) rng.nextGaussian();
    }
    return Tensor.of(x, shape);
  }

  @Test
  void gettingStartedFiles() throws IOException {
    Path examples = Path.of("..", "examples");
    AttentionResult r = Attention.forward(Tensor.zeros(DType.F32, 1, 1, 4, 8),
        Tensor.zeros(DType.F32, 1, 1, 4, 8), Tensor.zeros(DType.F32, 1, 1, 4, 8),
        AttentionOptions.defaults());
    Tensor qFile = Npy.read(examples.resolve("q.npy")).toTensor();   // examples/ of the project
    Npy.write(dir.resolve("o.npy"), r.out(), "<f4");
    Safetensors.write(dir.resolve("t.safetensors"),
        Map.of("q", SafetensorsFile.Entry.of(qFile, "F32")), Map.of("note", "example"));
    SafetensorsFile st = Safetensors.read(dir.resolve("t.safetensors"));
    Tensor q2 = st.tensor("q");
    assertEquals(List.of(1, 4, 64, 32), asList(q2.shape()));
    assertTrue(ErrorMetrics.compare(q2, qFile).maxAbs() == 0);
    assertEquals(List.of(1, 1, 4, 8), asList(Npy.read(dir.resolve("o.npy")).shape()));
  }

  // ---- dense.md

  @Test
  void dense() {
    Random rng = new Random(11);
    Tensor q = gaussian(rng, 1, 8, 300, 64);
    Tensor k = gaussian(rng, 1, 2, 300, 64);
    Tensor v = gaussian(rng, 1, 2, 300, 64);
    Tensor kPrompt = gaussian(rng, 2, 200, 64);
    Tensor vPrompt = gaussian(rng, 2, 200, 64);
    Tensor qNew = gaussian(rng, 1, 8, 1, 64);
    try (ForkJoinPool pool = new ForkJoinPool(2)) {
      SimdAttention kernel = new SimdAttention(pool);
      AttentionOptions opts = AttentionOptions.builder().causal(true).softcap(30).build();
      AttentionResult r = kernel.forward(q, k, v, opts);   // q [1, 8, 300, 64], k [1, 2, 300, 64]

      // decoding: one new token per sequence against a paged cache
      // Hkv, D, Dv, page size, max pages, storage
      PagedKvCache cache = new PagedKvCache(2, 64, 64, 128, 64, DType.F16);
      int seq = cache.newSequence();
      cache.append(seq, kPrompt, vPrompt);                 // [Hkv, T, D], [Hkv, T, Dv]
      Tensor o = Tensor.zeros(DType.F32, 1, 8, 1, 64);
      kernel.forwardPaged(qNew, cache, new int[] {seq}, o, null,   // qNew [1, 8, 1, 64]
          AttentionOptions.defaults());
    }
  }

  // ---- sparse.md

  @Test
  void sparse() {
    int B = 1;
    int Hkv = 2;
    int D = 32;
    int n = 4096;
    int T = 1;
    int H = 64;
    int W = 64;
    Random rng = new Random(12);
    Tensor q = gaussian(rng, B, Hkv, n, D);
    Tensor k = gaussian(rng, B, Hkv, n, D);
    Tensor v = gaussian(rng, B, Hkv, n, D);
    Tensor out = Tensor.zeros(DType.F32, B, Hkv, n, D);
    Tensor lse = Tensor.zeros(DType.F32, B, Hkv, n);
    Tensor qNew = gaussian(rng, B, Hkv, 1, D);
    Tensor outNew = Tensor.zeros(DType.F32, B, Hkv, 1, D);
    Tensor lseNew = Tensor.zeros(DType.F32, B, Hkv, 1);
    // q, k, v: [B, Hkv, n, D] with n = 4096 (a 64 x 64 grid); out, lse: [B, Hkv, n, D], [B, Hkv, n]
    // 2-D neighborhood attention, kernel 13x13
    Neighborhood nb = Neighborhood.of(new int[] {64, 64}, 13, 13);
    NeighborhoodAttention na = new NeighborhoodAttention(nb);
    AttentionResult r = na.forward(q, k, v, AttentionOptions.defaults());
    // dilated, strided, causal in time: per-axis arrays (one value = every axis)
    Neighborhood video = Neighborhood.of(new int[] {4, 32, 32}, new int[] {3, 7, 7},
        new int[] {1}, new int[] {1, 2, 2}, new boolean[] {true, false, false});
    AttentionResult rv = new NeighborhoodAttention(video).forward(q, k, v,
        AttentionOptions.defaults());

    // causal sliding window 512 as a block mask (built in O(listed blocks))
    BlockMask bm = BlockMask.of(AttentionOptions.builder().causal(true).window(512, 0).build(),
        1, 1, n, n, 128, 128);
    new BlockSparseAttention().forward(q, k, v, out, lse, bm, AttentionOptions.defaults());
    // explicit blocks (from_kv_blocks) and composition: same geometry
    BlockMask mine = BlockMask.builder(1, 1, n, n, 128, 128).add(0, 0, 30, 1).build();
    BlockMask both = bm.or(mine);

    // MoBA prefill and decoding
    MobaAttention moba = new MobaAttention(512, 3);
    moba.forward(q, k, v, out, lse, AttentionOptions.defaults());
    MobaKvState state = new MobaKvState(B, Hkv, D, 512);
    state.append(k);                                  // the keys as they enter the cache
    moba.decode(qNew, k.slice(2, 0, state.length()), v.slice(2, 0, state.length()),
        state, outNew, lseNew, AttentionOptions.defaults());

    // NABLA on a video latent (T, H, W): tokens into 8x8 patches, attention, back
    TokenPermutation p = TokenPermutation.videoPatches(T, H, W);
    NablaAttention nabla = new NablaAttention(64, 0.7);             // block size, threshold
    AttentionResult y = nabla.forward(p.permute(q), p.permute(k), p.permute(v),
        AttentionOptions.defaults());
    Tensor o = p.unpermute(y.out());
    assertEquals(List.of(B, Hkv, n, D), asList(o.shape()));

    // the token order of the fused plan (na: the 13x13 kernel of the Java section below)
    TokenPermutation perm = na.permutation();
    Tensor qp = perm.permute(q);                         // once, kept for the whole model
    Tensor kp = perm.permute(k);
    Tensor vp = perm.permute(v);
    Tensor op = Tensor.zeros(DType.F32, q.shape());
    na.forwardPermuted(qp, kp, vp, op, null, AttentionOptions.defaults());
    Tensor back = perm.unpermute(op);                 // equal, bit for bit, to na.forward(q, k, v, ...)
    assertArrayEquals(r.out().floatData(), back.floatData());
    assertTrue(both.counts()[0] >= bm.counts()[0]);
    assertTrue(Float.isFinite(outNew.getFloat(0, 0, 0, 0)));
    assertTrue(Float.isFinite(rv.out().getFloat(0, 1, n - 1, D - 1)));
    assertTrue(Float.isFinite(r.out().getFloat(0, 0, 0, 0)));
  }

  // ---- linear.md

  @Test
  void linear() throws IOException {
    int b = 1;
    int hq = 4;
    int hkv = 2;
    int sq = 128;
    int d = 16;
    int dv = 16;
    Random rng = new Random(13);
    Tensor q = gaussian(rng, b, hq, sq, d);
    Tensor k = gaussian(rng, b, hkv, sq, d);
    Tensor v = gaussian(rng, b, hkv, sq, dv);
    double[] slopes = {0.5, 0.25, 0.125, 0.0625};
    int h = 3;
    int n = 100;
    float[] kPrefix = floats(rng, n * d);
    float[] vPrefix = floats(rng, n * dv);
    float[] qNew = floats(rng, d);
    float[] kNew = floats(rng, d);
    float[] vNew = floats(rng, dv);
    float[] oNew = new float[dv];
    // q [b, hq, sq, d], k [b, hkv, sq, d], v [b, hkv, sq, dv]: captured or real inputs
    HedgehogFitter.Result fit = HedgehogFitter.fit(q, k,
        new HedgehogFitter.Config(16, 20, 0, true, 0.05),   // F, epochs, seed, causal, rate
        System.err::println);
    fit.weights().write(dir.resolve("w.safetensors"), Map.of("loss", "" + fit.loss()));

    FeatureMap map = FeatureMap.hedgehog(FeatureWeights.read(dir.resolve("w.safetensors")));
    LinearOptions o = LinearOptions.builder(map).causal(true).build();   // normalised, chunk 64
    Tensor out = Tensor.zeros(DType.F32, b, hq, sq, dv);
    LinearAttention.forward(q, k, v, out, o);                            // or (.., o, pool)

    LinearOptions lightning = LinearOptions.builder(FeatureMap.identity())
        .causal(true).normalize(false).decaySlopes(slopes).build();      // Lightning attention
    LinearOptions hybrid = LinearOptions.builder(map).causal(true).hybrid(64, 0.5).build();

    LinearAttentionState st = LinearAttentionState.create(o, h, h / (hq / hkv), d, dv);
    st.append(kPrefix, vPrefix, n);     // float[n * d], float[n * dv]
    st.step(qNew, kNew, vNew, oNew);    // one decode step: float[d], float[d], float[dv], float[dv]
    Tensor out2 = Tensor.zeros(DType.F32, b, hq, sq, dv);
    LinearAttention.forward(q, k, v, out2, lightning);
    LinearAttention.forward(q, k, v, out2, hybrid);
    assertEquals(n + 1, st.length());
    assertTrue(Float.isFinite(oNew[dv - 1]));
  }

  // ---- quantized.md

  @Test
  void quantized() throws IOException {
    Random rng = new Random(14);
    Tensor q = gaussian(rng, 1, 4, 512, 128);
    Tensor k = gaussian(rng, 1, 2, 512, 128);
    Tensor v = gaussian(rng, 1, 2, 512, 128);
    Tensor kPrompt = gaussian(rng, 2, 300, 128);
    Tensor vPrompt = gaussian(rng, 2, 300, 128);
    Tensor qNew = gaussian(rng, 1, 4, 1, 128);
    // q [1, 4, 512, 128], k and v [1, 2, 512, 128]
    AttentionOptions causal = AttentionOptions.builder().causal(true).build();
    SageAttention sage = SageAttention.builder(SageVariant.SAGE2_INT8).build();
    AttentionResult r = sage.forward(q, k, v, causal);
    AttentionResult emulated = SageAttention.builder(SageVariant.SAGE2_INT8)
        .impl(SageAttention.Impl.REFERENCE).build()              // same quantization, float64 sums
        .forward(q, k, v, causal);
    AttentionResult exact = Attention.reference(q, k, v, causal);   // unquantized float64
    System.out.println(ErrorMetrics.compare(r.out(), exact.out()));   // cos 0.9994, rel_l1 0.035

    // bit-exact formats: K in NVFP4 along the head dim, saved for a GPU kernel's test
    QuantizedTensor k4 = QuantizedTensor.quantize(k, QuantFormat.NVFP4,
        QuantizedTensor.along(k.shape(), 3, 16));
    Tensor kBack = k4.dequantize();
    QuantizedFiles.write(dir.resolve("k-nvfp4.safetensors"), Map.of("k", k4), Map.of());

    // an INT8 paged KV cache, read one key tile at a time by the dense engine
    QuantizedKvCache cache = new QuantizedKvCache(2, 128, 128, 256, 16,   // Hkv, D, Dv, page, pages
        QuantizedKvCache.Format.INT8);
    int seq = cache.newSequence();
    cache.append(seq, kPrompt, vPrompt);                             // [Hkv, T, D], [Hkv, T, Dv]
    Tensor o = Tensor.zeros(DType.F32, 1, 4, 1, 128);
    new SimdAttention().forwardSource(qNew, cache.source(seq), o, null,
        AttentionOptions.defaults());
    ErrorMetrics fast = ErrorMetrics.compare(r.out(), exact.out());
    assertTrue(fast.cosine() >= 0.999 && fast.relativeL1() <= 0.05, fast::toString);
    assertTrue(ErrorMetrics.compare(r.out(), emulated.out()).maxAbs() < 1e-3);
    assertTrue(ErrorMetrics.compare(kBack, k).cosine() > 0.98);
    assertTrue(Files.size(dir.resolve("k-nvfp4.safetensors")) > 0);
    assertTrue(Float.isFinite(o.getFloat(0, 3, 0, 127)));
  }

  // ---- the pages and this file agree

  @Test
  void everyPageExampleIsInThisFile() throws IOException {
    List<String> self = normalized(Files.readString(THIS_FILE));
    for (String page : PAGES) {
      List<List<String>> blocks = javaBlocks(Files.readString(DOCS.resolve(page)));
      assertFalse(blocks.isEmpty(), page + " has no java example");
      for (int i = 0; i < blocks.size(); i++) {
        List<String> block = blocks.get(i);
        assertTrue(Collections.indexOfSubList(self, block) >= 0,
            page + ": java block " + i + " is not in " + THIS_FILE + " line for line:\n"
                + String.join("\n", block));
      }
    }
  }

  /** The {@code java} fenced blocks of a page, normalized, without import lines. */
  static List<List<String>> javaBlocks(String markdown) {
    List<List<String>> blocks = new ArrayList<>();
    Matcher m = Pattern.compile("(?ms)^```java\\n(.*?)^```").matcher(markdown);
    while (m.find()) {
      List<String> lines = normalized(m.group(1));
      lines.removeIf(l -> l.startsWith("import "));
      blocks.add(lines);
    }
    return blocks;
  }

  /** Lines without leading and trailing blanks, blank lines dropped. */
  static List<String> normalized(String text) {
    List<String> out = new ArrayList<>();
    for (String l : text.split("\\R")) {
      String t = l.strip();
      if (!t.isEmpty()) {
        out.add(t);
      }
    }
    return out;
  }

  static List<Integer> asList(int[] a) {
    return Arrays.stream(a).boxed().toList();
  }

  static float[] floats(Random rng, int n) {
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = (float) rng.nextGaussian();
    }
    return x;
  }
}
