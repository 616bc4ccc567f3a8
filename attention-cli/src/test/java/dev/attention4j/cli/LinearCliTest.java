package dev.attention4j.cli;

import static dev.attention4j.cli.CliFixtures.parseJson;
import static dev.attention4j.cli.CliFixtures.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.cli.CliFixtures.Problem;
import dev.attention4j.core.DType;
import dev.attention4j.core.Tensor;
import dev.attention4j.core.io.Npy;
import dev.attention4j.core.io.Safetensors;
import dev.attention4j.core.io.SafetensorsFile;
import dev.attention4j.linear.FeatureMap;
import dev.attention4j.linear.FeatureWeights;
import dev.attention4j.linear.LinearOptions;
import dev.attention4j.linear.ReferenceLinearAttention;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** {@code run linear}, {@code bench linear} and {@code fit-hedgehog}. */
class LinearCliTest {

  private static final byte[] SENTINEL = "existing output".getBytes(StandardCharsets.UTF_8);

  @TempDir
  Path dir;

  private Problem problem;

  @BeforeEach
  void inputs() throws IOException {
    // Q [1, 4, 40, 8], K [1, 2, 40, 8], V [1, 2, 40, 6]
    problem = Problem.random(5, 1, 4, 2, 40, 40, 8, 6);
    problem.write(dir, "<f4");
    Npy.write(dir.resolve("slopes.npy"), Tensor.of(new double[] {0.1, 0.2, 0.3, 0.4}, 4),
        "<f8");
    Npy.write(dir.resolve("slopes3.npy"), Tensor.of(new double[] {0.1, 0.2, 0.3}, 3), "<f8");
    Files.write(dir.resolve("o.npy"), SENTINEL);
    double[][] wq = new double[4][8 * 5];
    double[][] wk = new double[2][8 * 5];
    java.util.Random r = new java.util.Random(3);
    for (double[][] w : new double[][][] {wq, wk}) {
      for (double[] row : w) {
        for (int i = 0; i < row.length; i++) {
          row[i] = (float) (r.nextGaussian() / 3);
        }
      }
    }
    FeatureWeights fw = FeatureWeights.of(wq, wk, 8, 5);
    fw.write(dir.resolve("w.safetensors"), Map.of());
    Npy.write(dir.resolve("wq.npy"), tensor(wq, 8, 5), "<f4");
    Npy.write(dir.resolve("wk.npy"), tensor(wk, 8, 5), "<f4");
    Npy.write(dir.resolve("wk-bad.npy"), tensor(new double[][] {wk[0], wk[1], wk[0]}, 8, 5),
        "<f4");
  }

  private static Tensor tensor(double[][] w, int d, int f) {
    double[] flat = new double[w.length * d * f];
    for (int h = 0; h < w.length; h++) {
      System.arraycopy(w[h], 0, flat, h * d * f, d * f);
    }
    return Tensor.of(flat, w.length, d, f);
  }

  private List<String> base(String... extra) {
    List<String> a = new ArrayList<>(List.of("run", "linear", "--q", p("q.npy"), "--k",
        p("k.npy"), "--v", p("v.npy"), "--out", p("o.npy")));
    a.addAll(List.of(extra));
    return a;
  }

  private String p(String name) {
    return dir.resolve(name).toString();
  }

  static Stream<Arguments> valid() {
    return Stream.of(
        Arguments.of(List.of("--feature-map", "elu1", "--causal")),
        Arguments.of(List.of("--feature-map", "relu")),
        Arguments.of(List.of("--feature-map", "identity", "--no-normalize", "--causal",
            "--decay", "SLOPES")),
        Arguments.of(List.of("--feature-map", "hedgehog", "--feature-weights", "W.ST",
            "--causal", "--chunk-size", "7")),
        Arguments.of(List.of("--feature-map", "hedgehog-exp", "--feature-weights", "WQ,WK",
            "--causal", "--hybrid-window", "6", "--mix", "0.3,0.5,0.7,0.9")));
  }

  @ParameterizedTest
  @MethodSource("valid")
  void runMatchesReference(List<String> options) throws Exception {
    List<String> opts = new ArrayList<>();
    for (String s : options) {
      opts.add(switch (s) {
        case "SLOPES" -> p("slopes.npy");
        case "W.ST" -> p("w.safetensors");
        case "WQ,WK" -> p("wq.npy") + "," + p("wk.npy");
        default -> s;
      });
    }
    CliFixtures.Run r = run(base(opts.toArray(String[]::new)));
    assertEquals(0, r.code(), r.err());
    assertEquals("", r.out());
    CliFixtures.Run ref = run(base(opts.toArray(String[]::new)).stream()
        .map(s -> s.endsWith("o.npy") ? p("ref.npy") : s).toList().toArray(new String[0]));
    // reference through the CLI too
    List<String> refArgs = new ArrayList<>(base(opts.toArray(String[]::new)));
    refArgs.set(refArgs.indexOf(p("o.npy")), p("ref.npy"));
    refArgs.addAll(List.of("--impl", "reference", "--out-dtype", "f8"));
    CliFixtures.Run rr = run(refArgs);
    assertEquals(0, rr.code(), rr.err());
    assertEquals(0, ref.code(), ref.err());
    double[] got = CliFixtures.readDoubles(dir.resolve("o.npy"));
    double[] expect = CliFixtures.readDoubles(dir.resolve("ref.npy"));
    double max = CliFixtures.maxAbs(expect);
    CliFixtures.assertClose(expect, got, 1e-4 * Math.max(1, max) + 1e-5, "fast vs reference");
  }

  @Test
  void referenceMatchesLibraryReference() throws Exception {
    CliFixtures.Run r = run(base("--feature-map", "elu1", "--causal", "--impl", "reference",
        "--out-dtype", "f8"));
    assertEquals(0, r.code(), r.err());
    // the float32 inputs as written
    Tensor q = Npy.read(dir.resolve("q.npy")).toTensor();
    Tensor k = Npy.read(dir.resolve("k.npy")).toTensor();
    Tensor v = Npy.read(dir.resolve("v.npy")).toTensor();
    Tensor out = Tensor.zeros(DType.F64, 1, 4, 40, 6);
    ReferenceLinearAttention.forward(q, k, v, out,
        LinearOptions.builder(FeatureMap.elu1()).causal(true).build());
    assertArrayEquals(out.toDoubleArray(), CliFixtures.readDoubles(dir.resolve("o.npy")), 1e-12);
  }

  @Test
  void bf16AppliesToFeatureWeightFilesToo() throws Exception {
    // weights whose values are exact in bfloat16, once as <f4 and once as <u2 bfloat16 bits
    Tensor wq = Tensor.copyOf(Npy.read(dir.resolve("wq.npy")).toTensor(), DType.BF16);
    Tensor wk = Tensor.copyOf(Npy.read(dir.resolve("wk.npy")).toTensor(), DType.BF16);
    Npy.write(dir.resolve("wq16.npy"), wq, "<u2");
    Npy.write(dir.resolve("wk16.npy"), wk, "<u2");
    Npy.write(dir.resolve("wq32.npy"), wq, "<f4");
    Npy.write(dir.resolve("wk32.npy"), wk, "<f4");
    run(base("--feature-map", "hedgehog", "--causal", "--feature-weights",
        p("wq32.npy") + "," + p("wk32.npy"))).ok();
    byte[] f4 = Files.readAllBytes(dir.resolve("o.npy"));
    run(base("--feature-map", "hedgehog", "--causal", "--bf16", "--feature-weights",
        p("wq16.npy") + "," + p("wk16.npy"))).ok();
    assertArrayEquals(f4, Files.readAllBytes(dir.resolve("o.npy")));
    run(base("--feature-map", "hedgehog", "--causal", "--feature-weights",
        p("wq16.npy") + "," + p("wk16.npy"))).usageError("--bf16");
  }

  static Stream<Arguments> errors() {
    return Stream.of(
        Arguments.of(List.of("--feature-map", "identity"), "identity is only allowed"
            + " unnormalised"),
        Arguments.of(List.of("--feature-map", "softmax"), "unknown feature map 'softmax'"),
        Arguments.of(List.of("--feature-map", "hedgehog"), "needs --feature-weights"),
        Arguments.of(List.of("--feature-map", "elu1", "--feature-weights", "W.ST"),
            "takes no weights"),
        Arguments.of(List.of("--feature-map", "hedgehog", "--feature-weights", "WQ,WKBAD"),
            "wk has 3 heads, K has 2 KV heads"),
        Arguments.of(List.of("--feature-map", "hedgehog", "--feature-weights", "MISSING"),
            "no such file"),
        Arguments.of(List.of("--feature-map", "hedgehog", "--feature-weights", "WQ"),
            "is an .npy file: give WQ.npy,WK.npy"),
        Arguments.of(List.of("--feature-map", "elu1", "--decay", "SLOPES"),
            "--decay needs --causal --no-normalize"),
        Arguments.of(List.of("--feature-map", "elu1", "--causal", "--no-normalize", "--decay",
            "SLOPES3"), "decay slopes have 3 entries, expected one per query head (4)"),
        Arguments.of(List.of("--feature-map", "elu1", "--causal", "--hybrid-window", "4"),
            "--hybrid-window needs --mix"),
        Arguments.of(List.of("--feature-map", "elu1", "--causal", "--hybrid-window", "4",
            "--mix", "1.5"), "must be 0 < g < 1"),
        Arguments.of(List.of("--feature-map", "elu1", "--lse", "LSE"), "no LSE"),
        Arguments.of(List.of("--feature-map", "elu1", "--chunk-size", "0"), "--chunk-size 0"),
        Arguments.of(List.of("--feature-map", "elu1", "--variant", "sage1"),
            "kernel 'linear' does not take option '--variant'"));
  }

  @ParameterizedTest
  @MethodSource("errors")
  void badInputExitsTwoWithOneLine(List<String> options, String fragment) throws IOException {
    List<String> opts = new ArrayList<>();
    for (String s : options) {
      opts.add(switch (s) {
        case "SLOPES" -> p("slopes.npy");
        case "SLOPES3" -> p("slopes3.npy");
        case "W.ST" -> p("w.safetensors");
        case "WQ,WKBAD" -> p("wq.npy") + "," + p("wk-bad.npy");
        case "MISSING" -> p("missing.safetensors");
        case "WQ" -> p("wq.npy");
        case "LSE" -> p("l.npy");
        default -> s;
      });
    }
    run(base(opts.toArray(String[]::new))).usageError(fragment);
    assertArrayEquals(SENTINEL, Files.readAllBytes(dir.resolve("o.npy")), "output untouched");
    assertFalse(Files.exists(dir.resolve("l.npy")));
    try (Stream<Path> files = Files.list(dir)) {
      assertTrue(files.noneMatch(f -> f.getFileName().toString().endsWith(".part")));
    }
  }

  @Test
  void helpDoesNotOfferLse() {
    CliFixtures.Run r = run("run", "linear", "--help");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("--feature-map"), r.out());
    assertFalse(r.out().contains("--lse"), r.out());
    CliFixtures.Run dense = run("run", "dense", "--help");
    assertTrue(dense.out().contains("--lse"), dense.out());
  }

  @Test
  @SuppressWarnings("unchecked")
  void benchJson() {
    CliFixtures.Run r = run("bench", "linear", "--feature-map", "hedgehog", "--causal", "--seq",
        "100", "--dim", "16", "--heads", "4", "--kv-heads", "2", "--reps", "2", "--warmup", "0",
        "--json");
    assertEquals(0, r.code(), r.err());
    List<String> lines = r.out().lines().toList();
    assertEquals(1, lines.size(), r.out());
    Map<String, Object> m = (Map<String, Object>) parseJson(lines.get(0));
    for (String key : List.of("kernel", "threads", "median_ms", "min_ms", "gflops", "pairs",
        "max_abs_err")) {
      assertTrue(m.containsKey(key), key + " in " + lines.get(0));
    }
    assertEquals("linear", m.get("kernel"));
    assertEquals(4.0 * 100 * 101 / 2, m.get("pairs"));
    assertEquals(true, m.get("within_tolerance"));
    assertTrue((Double) m.get("gflops") > 0);
  }

  @Test
  void fitHedgehogFeedsRunLinear() throws Exception {
    Path w = dir.resolve("fit.safetensors");
    CliFixtures.Run r = run("fit-hedgehog", "--q", p("q.npy"), "--k", p("k.npy"), "--features",
        "4", "--out", w.toString(), "--epochs", "3", "--seed", "9", "--causal");
    assertEquals(0, r.code(), r.err());
    assertEquals("", r.out());
    // one progress line per epoch (CLI.md), and nothing else
    List<String> lines = r.err().lines().toList();
    assertEquals(3, lines.size(), r.err());
    assertTrue(lines.stream().allMatch(l -> l.startsWith("fit-hedgehog: epoch")), r.err());
    SafetensorsFile f = Safetensors.read(w);
    assertArrayEquals(new int[] {4, 8, 4}, f.entry("wq").shape());
    assertArrayEquals(new int[] {2, 8, 4}, f.entry("wk").shape());
    double loss = Double.parseDouble(f.metadata().get("loss"));
    assertTrue(loss > 0 && Double.isFinite(loss), f.metadata().toString());
    CliFixtures.Run run = run(base("--feature-map", "hedgehog", "--feature-weights",
        w.toString(), "--causal"));
    assertEquals(0, run.code(), run.err());
  }

  @Test
  void fitHedgehogErrors() throws IOException {
    Path w = dir.resolve("fit.safetensors");
    run("fit-hedgehog", "--q", p("q.npy"), "--k", p("v.npy"), "--features", "4", "--out",
        w.toString()).usageError("K head dim 6 != Q head dim 8");
    run("fit-hedgehog", "--q", p("q.npy"), "--k", p("k.npy"), "--features", "0", "--out",
        w.toString()).usageError("--features 0");
    run("fit-hedgehog", "--q", p("q.npy"), "--k", p("k.npy"), "--out", w.toString())
        .usageError("--features");
    assertFalse(Files.exists(w));
  }
}
