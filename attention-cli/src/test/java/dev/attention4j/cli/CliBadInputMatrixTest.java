package dev.attention4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.cli.CliFixtures.Problem;
import dev.attention4j.core.Tensor;
import dev.attention4j.core.io.Npy;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The bad-input matrix of {@code run KERNEL} for every kernel (and of {@code bench KERNEL}):
 * the same shape faults for each, each kernel's out-of-range options, non-finite and negative
 * scales, and zero-length axes. A fault exits with status 2 and one {@code error:} line, writes
 * no output file and leaves an existing LSE file as it was; a zero-length axis is not a fault
 * and gives its (empty, or zero with {@code -inf} LSE) result.
 */
class CliBadInputMatrixTest {

  private static final byte[] SENTINEL = "existing file".getBytes(StandardCharsets.UTF_8);

  /** The options each kernel needs on a square problem of 8 tokens. */
  static final Map<String, List<String>> KERNELS = Map.of(
      "dense", List.of(),
      "neighborhood", List.of("--grid", "8", "--kernel-size", "3"),
      "moba", List.of("--block-size", "4", "--topk", "2"),
      "nabla", List.of("--block-size", "4", "--threshold", "0.9"),
      "linear", List.of("--feature-map", "elu1", "--causal"),
      "sage", List.of("--variant", "sage1"));

  @TempDir
  Path dir;

  @FunctionalInterface
  interface Files3 {
    /** Writes q.npy, k.npy, v.npy (and extras) into the directory. */
    void write(Path d) throws IOException;
  }

  static Files3 problem(int hq, int hkv, int sq, int sk, int d, int dv) {
    return dir -> Problem.random(8, 1, hq, hkv, sq, sk, d, dv).write(dir, "<f4");
  }

  static final Files3 GOOD = problem(4, 2, 8, 8, 16, 16);

  List<String> args(String kernel, List<String> extra) {
    List<String> a = new ArrayList<>(List.of("run", kernel, "--q", dir.resolve("q.npy")
        .toString(), "--k", dir.resolve("k.npy").toString(), "--v", dir.resolve("v.npy")
        .toString(), "--out", dir.resolve("o.npy").toString()));
    if (!kernel.equals("linear")) {
      a.addAll(List.of("--lse", dir.resolve("lse.npy").toString()));
    }
    a.addAll(KERNELS.get(kernel));
    a.addAll(extra);
    return a;
  }

  /** Replaces the value of {@code option} in {@code a}, or appends it. */
  static List<String> set(List<String> a, String option, String value) {
    List<String> out = new ArrayList<>(a);
    int at = out.indexOf(option);
    if (at >= 0) {
      out.set(at + 1, value);
    } else {
      out.add(option);
      out.add(value);
    }
    return out;
  }

  record Fault(String what, String fragment, Files3 files, List<String> extra,
      Map<String, String> replace) {
  }

  static Fault fault(String what, String fragment, Files3 files, String... extra) {
    return new Fault(what, fragment, files, List.of(extra), Map.of());
  }

  static Fault option(String what, String fragment, String option, String value) {
    return new Fault(what, fragment, GOOD, List.of(), Map.of(option, value));
  }

  /** Faults every kernel must reject. */
  static List<Fault> common() {
    return List.of(
        fault("Q of rank 3", "rank 3", d -> {
          GOOD.write(d);
          Npy.write(d.resolve("q.npy"), Tensor.of(new float[4 * 8 * 16], 4, 8, 16), "<f4");
        }),
        fault("K head dim 12", "12", d -> {
          GOOD.write(d);
          Npy.write(d.resolve("k.npy"), Tensor.of(new float[2 * 8 * 12], 1, 2, 8, 12), "<f4");
        }),
        fault("V length 7", "7", d -> {
          GOOD.write(d);
          Npy.write(d.resolve("v.npy"), Tensor.of(new float[2 * 7 * 16], 1, 2, 7, 16), "<f4");
        }),
        fault("3 query heads over 2 KV heads", "not a multiple", problem(3, 2, 8, 8, 16, 16)),
        fault("NaN scale", "--scale", GOOD, "--scale", "NaN"),
        fault("infinite scale", "--scale", GOOD, "--scale", "Infinity"),
        fault("negative infinite scale", "--scale", GOOD, "--scale", "-Infinity"),
        fault("zero threads", "--threads", GOOD, "--threads", "0"),
        fault("unknown option", "unknown option", GOOD, "--frobnicate", "1"));
  }

  /** Each kernel's own out-of-range options. */
  static final Map<String, List<Fault>> OWN = Map.of(
      "dense", List.of(
          fault("window -2", "-2", GOOD, "--window", "-2,0"),
          fault("softcap NaN", "--softcap", GOOD, "--softcap", "NaN"),
          fault("kv-lens past Sk", "exceeds the key length 8", d -> {
            GOOD.write(d);
            Npy.writeLongs(d.resolve("lens.npy"), new long[] {9}, new int[] {1}, "<i4");
          }, "--kv-lens", "LENS")),
      "neighborhood", List.of(
          option("kernel larger than the grid", "axis 0", "--kernel-size", "9"),
          option("kernel size 1", "kernel size", "--kernel-size", "1"),
          fault("stride larger than the kernel", "stride", GOOD, "--stride", "4"),
          fault("dilation 0", "dilation", GOOD, "--dilation", "0"),
          fault("kernel times dilation past the grid", "axis 0", GOOD, "--dilation", "3"),
          option("grid product != Sq", "grid", "--grid", "2,3"),
          option("grid of rank 4", "--grid", "--grid", "2,2,2,1"),
          fault("causal axis 2", "--causal-axes", GOOD, "--causal-axes", "2")),
      "moba", List.of(
          option("topk 0", "--topk", "--topk", "0"),
          option("topk -3", "--topk", "--topk", "-3"),
          option("block size 0", "--block-size", "--block-size", "0"),
          fault("Sq > Sk", "Sq", problem(4, 2, 8, 4, 16, 16)),
          fault("kv-lens not taken", "does not take option '--kv-lens'", GOOD, "--kv-lens",
              "x.npy")),
      "nabla", List.of(
          option("threshold 0", "--threshold", "--threshold", "0"),
          option("threshold 1.5", "--threshold", "--threshold", "1.5"),
          option("threshold NaN", "--threshold", "--threshold", "NaN"),
          option("block size 0", "--block-size", "--block-size", "0"),
          fault("Sq != Sk", "Sq", problem(4, 2, 8, 6, 16, 16))),
      "linear", List.of(
          option("unknown feature map", "--feature-map", "--feature-map", "softmax"),
          fault("hybrid window 0", "--hybrid-window", GOOD, "--hybrid-window", "0", "--mix",
              "0.5"),
          fault("mix 1.5", "--mix", GOOD, "--hybrid-window", "2", "--mix", "1.5"),
          fault("mix NaN", "--mix", GOOD, "--hybrid-window", "2", "--mix", "NaN"),
          fault("chunk size 0", "--chunk-size", GOOD, "--chunk-size", "0"),
          fault("lse not taken", "--lse", GOOD, "--lse", "l.npy")),
      "sage", List.of(
          option("unknown variant", "unknown sage variant", "--variant", "sage9"),
          fault("window not taken", "--window", GOOD, "--window", "4,0")));

  static Stream<Arguments> faults() {
    List<Arguments> out = new ArrayList<>();
    for (String kernel : List.of("dense", "neighborhood", "moba", "nabla", "linear", "sage")) {
      List<Fault> all = new ArrayList<>(common());
      all.addAll(OWN.get(kernel));
      for (Fault f : all) {
        out.add(Arguments.of(kernel, f.what(), f));
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "run {0}: {1}")
  @MethodSource("faults")
  void faultExitsTwoWithOneLineAndWritesNothing(String kernel, String what, Fault f)
      throws IOException {
    f.files().write(dir);
    Files.write(dir.resolve("lse.npy"), SENTINEL);
    List<String> a = args(kernel, f.extra());
    for (var r : f.replace().entrySet()) {
      a = set(a, r.getKey(), r.getValue());
    }
    int lens = a.indexOf("LENS");
    if (lens >= 0) {
      a.set(lens, dir.resolve("lens.npy").toString());
    }
    List<String> before = listing();
    CliFixtures.run(a).usageError(f.fragment());
    assertFalse(Files.exists(dir.resolve("o.npy")), "no output file");
    assertArrayEquals(SENTINEL, Files.readAllBytes(dir.resolve("lse.npy")), "LSE file kept");
    assertEquals(before, listing(), "no new or temporary files");
  }

  /** Zero-length axes that every kernel defines: empty Q (and K for square kernels), empty K. */
  static Stream<Arguments> zeroLength() {
    List<Arguments> out = new ArrayList<>();
    for (String kernel : List.of("dense", "moba", "nabla", "linear", "sage")) {
      out.add(Arguments.of(kernel, "Sq = 0", 0, kernel.equals("moba")
          || kernel.equals("nabla") ? 0 : 8));
    }
    for (String kernel : List.of("dense", "linear", "sage")) {
      out.add(Arguments.of(kernel, "Sk = 0", 5, 0));
    }
    return out.stream();
  }

  @ParameterizedTest(name = "run {0}: {1}")
  @MethodSource("zeroLength")
  void zeroLengthAxesGiveTheirDefinedResult(String kernel, String what, int sq, int sk)
      throws IOException {
    problem(4, 2, sq, sk, 16, 16).write(dir);
    List<String> a = args(kernel, List.of());
    if (kernel.equals("moba") || kernel.equals("nabla")) {
      a = set(a, "--block-size", "4");
    }
    CliFixtures.run(a).ok();
    Tensor o = Npy.read(dir.resolve("o.npy")).toTensor();
    assertArrayEquals(new int[] {1, 4, sq, 16}, o.shape());
    for (float x : o.toFloatArray()) {
      assertEquals(0f, x, "O with no keys is 0");
    }
    if (!kernel.equals("linear")) {
      Tensor l = Npy.read(dir.resolve("lse.npy")).toTensor();
      assertArrayEquals(new int[] {1, 4, sq}, l.shape());
      for (float x : l.toFloatArray()) {
        assertEquals(Float.NEGATIVE_INFINITY, x, "LSE with no keys is -inf");
      }
    }
  }

  static Stream<Arguments> benchFaults() {
    List<String> small = List.of("--seq", "16", "--dim", "16", "--reps", "1", "--warmup", "0");
    return Stream.of(
        Arguments.of("neighborhood kernel past the grid", "axis 0",
            cat(List.of("bench", "neighborhood", "--grid", "16", "--kernel-size", "17"), small)),
        Arguments.of("neighborhood grid != seq", "grid",
            cat(List.of("bench", "neighborhood", "--grid", "4,5", "--kernel-size", "3"), small)),
        Arguments.of("moba topk 0", "--topk",
            cat(List.of("bench", "moba", "--block-size", "4", "--topk", "0"), small)),
        Arguments.of("nabla threshold 2", "--threshold",
            cat(List.of("bench", "nabla", "--threshold", "2"), small)),
        Arguments.of("linear mix 0", "--mix", cat(List.of("bench", "linear", "--feature-map",
            "elu1", "--causal", "--hybrid-window", "4", "--mix", "0"), small)),
        Arguments.of("sage unknown variant", "unknown sage variant",
            cat(List.of("bench", "sage", "--variant", "int3"), small)),
        Arguments.of("decode zero kv-seq", "--kv-seq",
            List.of("bench", "decode", "--kv-seq", "0")),
        Arguments.of("decode heads not a multiple", "not a multiple",
            List.of("bench", "decode", "--kv-seq", "64", "--heads", "6", "--kv-heads", "4")),
        Arguments.of("dense scale NaN", "--scale", cat(List.of("bench", "dense", "--scale",
            "NaN"), small)),
        Arguments.of("dense seq past int", "--seq",
            cat(List.of("bench", "dense", "--seq", "4294967296"), List.of())),
        Arguments.of("dense seq times dim past an array", "elements",
            List.of("bench", "dense", "--seq", "1000000", "--heads", "64", "--dim", "128",
                "--reps", "1", "--warmup", "0")));
  }

  @ParameterizedTest(name = "bench: {0}")
  @MethodSource("benchFaults")
  void benchFaultExitsTwo(String what, String fragment, List<String> args) {
    CliFixtures.run(args).usageError(fragment);
  }

  private static List<String> cat(List<String> a, List<String> b) {
    List<String> out = new ArrayList<>(a);
    out.addAll(b);
    return out;
  }

  private List<String> listing() throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  static {
    assertTrue(KERNELS.size() == 6);
  }
}
