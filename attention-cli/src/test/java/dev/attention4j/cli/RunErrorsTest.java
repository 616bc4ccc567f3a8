package dev.attention4j.cli;

import static dev.attention4j.cli.CliFixtures.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
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
import java.util.concurrent.ForkJoinPool;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Bad input: exit status 2, exactly one {@code error:} line on stderr naming the problem, nothing
 * on stdout, no output file created, an existing output file untouched, no temporary files left.
 */
class RunErrorsTest {

  private static final byte[] SENTINEL = "existing LSE file".getBytes(StandardCharsets.UTF_8);

  @TempDir
  Path dir;

  /** Builds the arguments of a case; may write extra files into the directory. */
  @FunctionalInterface
  interface Case {
    List<String> args(Path dir) throws IOException;
  }

  @BeforeEach
  void inputs() throws IOException {
    // Q [1, 4, 3, 8], K [1, 2, 5, 8], V [1, 2, 5, 6]
    Problem.random(1, 1, 4, 2, 3, 5, 8, 6).write(dir, "<f4");
    Files.write(dir.resolve("lse.npy"), SENTINEL);
  }

  /** {@code run dense} with valid inputs, {@code --out o.npy} (absent) and {@code --lse} (present). */
  static List<String> valid(Path d) {
    return new ArrayList<>(List.of("run", "dense", "--q", d.resolve("q.npy").toString(), "--k",
        d.resolve("k.npy").toString(), "--v", d.resolve("v.npy").toString(), "--out",
        d.resolve("o.npy").toString(), "--lse", d.resolve("lse.npy").toString()));
  }

  /** The valid arguments with {@code option} set to {@code value} (replaced or appended). */
  static List<String> with(Path d, String option, String value) {
    List<String> a = valid(d);
    int at = a.indexOf(option);
    if (at >= 0) {
      a.set(at + 1, value);
    } else {
      a.add(option);
      a.add(value);
    }
    return a;
  }

  static List<String> without(Path d, String option) {
    List<String> a = valid(d);
    int at = a.indexOf(option);
    a.remove(at + 1);
    a.remove(at);
    return a;
  }

  static List<String> plus(Path d, String... extra) {
    List<String> a = valid(d);
    a.addAll(List.of(extra));
    return a;
  }

  static Path f8(Path d, String name, double[] values, int... shape) throws IOException {
    Path p = d.resolve(name);
    Npy.write(p, Tensor.of(values, shape), "<f8");
    return p;
  }

  static Path longs(Path d, String name, String descr, long... values) throws IOException {
    Path p = d.resolve(name);
    Npy.writeLongs(p, values, new int[] {values.length}, descr);
    return p;
  }

  private static Arguments bad(String name, String fragment, Case c) {
    return Arguments.of(name, fragment, c);
  }

  static Stream<Arguments> badInputs() {
    return Stream.of(
        bad("missing file", "no such file",
            d -> with(d, "--q", d.resolve("absent.npy").toString())),
        bad("a directory as input", "directory", d -> with(d, "--k", d.toString())),
        bad("not an npy file", "--q", d -> {
          Files.writeString(d.resolve("junk.npy"), "this is not numpy");
          return with(d, "--q", d.resolve("junk.npy").toString());
        }),
        bad("truncated npy data", "--v", d -> {
          byte[] all = Files.readAllBytes(d.resolve("v.npy"));
          Files.write(d.resolve("short.npy"), java.util.Arrays.copyOf(all, all.length - 8));
          return with(d, "--v", d.resolve("short.npy").toString());
        }),
        bad("empty file", "--q", d -> {
          Files.write(d.resolve("empty.npy"), new byte[0]);
          return with(d, "--q", d.resolve("empty.npy").toString());
        }),
        bad("Q of rank 3", "rank 3", d -> with(d, "--q",
            f8(d, "q3.npy", new double[4 * 3 * 8], 4, 3, 8).toString())),
        bad("K head dim differs", "head dim", d -> with(d, "--k",
            f8(d, "k7.npy", new double[2 * 5 * 7], 1, 2, 5, 7).toString())),
        bad("D = 0 without --scale", "head dim D = 0 has no default scale", d -> {
          List<String> a = with(d, "--q", f8(d, "q0.npy", new double[0], 1, 4, 3, 0).toString());
          a.set(a.indexOf("--k") + 1, f8(d, "k0.npy", new double[0], 1, 2, 5, 0).toString());
          return a;
        }),
        bad("V length differs", "V length", d -> with(d, "--v",
            f8(d, "v4.npy", new double[2 * 4 * 6], 1, 2, 4, 6).toString())),
        bad("batch sizes differ", "batch", d -> with(d, "--v",
            f8(d, "vb.npy", new double[2 * 2 * 5 * 6], 2, 2, 5, 6).toString())),
        bad("integer Q", "<i4", d -> {
          Path p = d.resolve("qi.npy");
          Npy.writeLongs(p, new long[4 * 3 * 8], new int[] {1, 4, 3, 8}, "<i4");
          return with(d, "--q", p.toString());
        }),
        bad("<u2 without --bf16", "--bf16", d -> {
          Path p = d.resolve("qu.npy");
          Npy.write(p, Tensor.copyOf(Tensor.of(new double[4 * 3 * 8], 1, 4, 3, 8),
              dev.attention4j.core.DType.BF16), "<u2");
          return with(d, "--q", p.toString());
        }),
        bad("Hq not a multiple of Hkv", "query heads 3 are not a multiple of KV heads 2",
            d -> with(d, "--q", f8(d, "q3h.npy", new double[3 * 3 * 8], 1, 3, 3, 8).toString())),
        bad("unknown option", "unknown option '--frobnicate' for 'run dense'",
            d -> plus(d, "--frobnicate", "1")),
        bad("unknown option in = form", "unknown option '--frobnicate' for 'run dense'",
            d -> plus(d, "--frobnicate=1")),
        bad("missing --v", "--v", d -> without(d, "--v")),
        bad("missing --out", "--out", d -> without(d, "--out")),
        bad("option value missing at the end", "--scale", d -> plus(d, "--scale")),
        bad("option given twice", "--q", d -> plus(d, "--q", d.resolve("q.npy").toString())),
        bad("an option of another kernel",
            "kernel 'dense' does not take option '--block-size' (an option of moba, nabla)",
            d -> plus(d, "--block-size", "4")),
        bad("an option of another kernel (=)", "does not take option '--topk'",
            d -> plus(d, "--topk=2")),
        bad("window below -1", "-2", d -> with(d, "--window", "-2,0")),
        bad("window below -1 (= form)", "-3", d -> plus(d, "--window=1,-3")),
        bad("window with one bound", "--window", d -> with(d, "--window", "3")),
        bad("window not numeric", "--window", d -> with(d, "--window", "a,b")),
        bad("non-numeric scale", "--scale", d -> with(d, "--scale", "abc")),
        bad("infinite scale", "--scale", d -> with(d, "--scale", "-Infinity")),
        bad("non-numeric softcap", "--softcap", d -> with(d, "--softcap", "big")),
        bad("negative softcap", "--softcap", d -> with(d, "--softcap", "-0.5")),
        bad("non-numeric threads", "--threads", d -> with(d, "--threads", "two")),
        bad("zero threads", "--threads 0", d -> with(d, "--threads", "0")),
        bad("negative threads", "--threads", d -> with(d, "--threads", "-4")),
        bad("unknown impl", "--impl", d -> with(d, "--impl", "gpu")),
        bad("unknown align", "--align", d -> with(d, "--align", "middle")),
        bad("unknown out-dtype", "--out-dtype", d -> with(d, "--out-dtype", "f2")),
        bad("alibi length != Hq", "alibi slopes have 3 entries", d -> with(d, "--alibi",
            f8(d, "s3.npy", new double[] {1, 2, 3}, 3).toString())),
        bad("alibi of rank 2", "rank 2", d -> with(d, "--alibi",
            f8(d, "s22.npy", new double[4], 4, 1).toString())),
        bad("integer alibi", "--alibi", d -> with(d, "--alibi",
            longs(d, "si.npy", "<i4", 1, 2, 3, 4).toString())),
        bad("missing alibi file", "no such file",
            d -> with(d, "--alibi", d.resolve("nope.npy").toString())),
        bad("non-finite alibi", "alibi", d -> with(d, "--alibi",
            f8(d, "snan.npy", new double[] {1, Double.NaN, 0, 0}, 4).toString())),
        bad("kv-lens length != B", "kvLens has 2 entries", d -> with(d, "--kv-lens",
            longs(d, "l2.npy", "<i4", 5, 5).toString())),
        bad("kv-lens > Sk", "exceeds the key length 5", d -> with(d, "--kv-lens",
            longs(d, "l9.npy", "<i8", 9).toString())),
        bad("negative kv-lens", "--kv-lens", d -> with(d, "--kv-lens",
            longs(d, "lneg.npy", "<i4", -1).toString())),
        bad("float kv-lens", "--kv-lens", d -> with(d, "--kv-lens",
            f8(d, "lf.npy", new double[] {5}, 1).toString())),
        bad("output directory missing", "does not exist",
            d -> with(d, "--out", d.resolve("no/such/dir/o.npy").toString())),
        bad("output is a directory", "directory", d -> with(d, "--out", d.toString())),
        bad("out and lse are the same file", "same file",
            d -> with(d, "--out", d.resolve("lse.npy").toString())),
        bad("unknown kernel", "unknown kernel 'flash'", d -> {
          List<String> a = valid(d);
          a.set(1, "flash");
          return a;
        }),
        bad("missing kernel", "missing kernel", d -> List.of("run")),
        bad("options before the kernel", "KERNEL", d -> {
          List<String> a = valid(d);
          a.remove(1);
          return a;
        }),
        bad("moba with topk 0", "--topk 0: must be >= 1", d -> {
          List<String> a = valid(d);
          a.set(1, "moba");
          a.addAll(List.of("--block-size", "4", "--topk", "0"));
          return a;
        }),
        bad("sage without --variant", "Missing required option: '--variant", d -> {
          List<String> a = valid(d);
          a.set(1, "sage");
          return a;
        }),
        bad("unknown command", "unknown command 'frobnicate'", d -> List.of("frobnicate")),
        bad("stray positional argument", "unexpected argument 'extra'",
            d -> plus(d, "extra")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badInputs")
  void badInputExitsTwoWithOneErrorLineAndTouchesNoFile(String name, String fragment, Case c)
      throws IOException {
    List<String> args = c.args(dir);
    List<String> before = listing();
    CliFixtures.run(args).usageError(fragment);
    assertFalse(Files.exists(dir.resolve("o.npy")), "no output file");
    assertArrayEquals(SENTINEL, Files.readAllBytes(dir.resolve("lse.npy")), "existing LSE kept");
    assertEquals(before, listing(), "no new or temporary files");
  }

  @Test
  void internalFailureExitsOneWithOneErrorLine() {
    // a null argument is not possible from a shell: it stands in for a bug
    CliFixtures.Run r = run("run", "dense", null);
    assertEquals(1, r.code(), r.err());
    assertEquals(1, List.of(r.err().split("\\R")).size(), r.err());
    assertTrue(r.err().startsWith("error: internal error: "), r.err());
    assertEquals("", r.out());
  }

  @Test
  void aCheckFailingInsideAPoolIsReportedWithItsOwnMessage() {
    // ForkJoinTask rethrows an exception of the same type whose message is cause.toString()
    try (ForkJoinPool pool = new ForkJoinPool(1)) {
      UsageException e = assertThrows(UsageException.class,
          () -> SoftmaxRunCommand.invalidArgument(() -> pool.submit(() -> {
            throw new IllegalArgumentException("batch 0 and heads 2 must be >= 1");
          }).join()));
      assertEquals("batch 0 and heads 2 must be >= 1", e.getMessage());
    }
  }

  @ParameterizedTest(name = "bench {0}")
  @MethodSource("badBench")
  void badBenchInputExitsTwo(String name, String fragment, List<String> args) {
    run(args).usageError(fragment);
  }

  static Stream<Arguments> badBench() {
    List<String> b = List.of("bench", "dense", "--seq", "16", "--dim", "8", "--reps", "1",
        "--warmup", "0");
    return Stream.of(
        Arguments.of("heads not a multiple", "query heads 3 are not a multiple of KV heads 2",
            cat(b, "--heads", "3", "--kv-heads", "2")),
        Arguments.of("zero reps", "--reps", cat(b, "--reps", "0")),
        Arguments.of("zero seq", "--seq", cat(List.of("bench", "dense"), "--seq", "0")),
        Arguments.of("negative dim", "--dim", cat(List.of("bench", "dense"), "--dim=-8")),
        Arguments.of("zero threads", "--threads", cat(b, "--threads", "0")),
        Arguments.of("bad window", "--window", cat(b, "--window", "-5,2")),
        Arguments.of("negative softcap", "--softcap", cat(b, "--softcap", "-1")),
        Arguments.of("unknown option", "unknown option '--q' for 'bench dense'",
            cat(b, "--q", "x.npy")),
        Arguments.of("negative warm-up", "--warmup", cat(b, "--warmup", "-1")),
        Arguments.of("decode dtype int4", "--kv-dtype int4: expected f32, f16, bf16, int8 or fp8",
            List.of("bench", "decode", "--kv-seq", "1024", "--kv-dtype", "int4")),
        Arguments.of("decode unknown dtype", "--kv-dtype",
            List.of("bench", "decode", "--kv-seq", "1024", "--kv-dtype", "f64")),
        Arguments.of("unknown kernel", "unknown kernel", List.of("bench", "flash")),
        Arguments.of("missing kernel", "missing kernel", List.of("bench")));
  }

  private static List<String> cat(List<String> a, String... more) {
    List<String> out = new ArrayList<>(a);
    out.addAll(List.of(more));
    return out;
  }

  private List<String> listing() throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }
}
