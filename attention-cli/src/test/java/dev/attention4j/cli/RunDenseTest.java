package dev.attention4j.cli;

import static dev.attention4j.cli.CliFixtures.assertClose;
import static dev.attention4j.cli.CliFixtures.maxAbs;
import static dev.attention4j.cli.CliFixtures.naive;
import static dev.attention4j.cli.CliFixtures.readDoubles;
import static dev.attention4j.cli.CliFixtures.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.cli.CliFixtures.Expected;
import dev.attention4j.cli.CliFixtures.Problem;
import dev.attention4j.cli.CliFixtures.Spec;
import dev.attention4j.core.DType;
import dev.attention4j.core.Tensor;
import dev.attention4j.core.io.Npy;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** {@code run dense} on real files: numbers, dtypes, option spellings, file handling. */
class RunDenseTest {

  @TempDir
  Path dir;

  /** A problem shape and options; the CLI arguments are derived from the spec. */
  static Stream<Arguments> cases() {
    Spec plain = Spec.plain();
    return Stream.of(
        Arguments.of("plain GQA", dims(2, 4, 2, 5, 7, 8, 6), plain),
        Arguments.of("causal bottom-right Sq<Sk", dims(2, 4, 2, 5, 7, 8, 6),
            plain.withCausal(false)),
        Arguments.of("causal top-left Sq<Sk", dims(2, 4, 2, 5, 7, 8, 6), plain.withCausal(true)),
        Arguments.of("causal bottom-right Sq>Sk (empty rows)", dims(1, 2, 2, 7, 4, 8, 8),
            plain.withCausal(false)),
        Arguments.of("causal top-left Sq>Sk", dims(1, 2, 2, 7, 4, 8, 8), plain.withCausal(true)),
        Arguments.of("window 2,1", dims(1, 2, 1, 9, 9, 4, 4), plain.withWindow(2, 1)),
        Arguments.of("window 1,-1 top-left Sq<Sk", dims(1, 2, 1, 4, 9, 4, 4),
            plain.withWindow(1, -1).withTopLeft()),
        Arguments.of("causal window 3,-1", dims(1, 2, 2, 9, 12, 4, 5),
            plain.withCausal(false).withWindow(3, -1)),
        Arguments.of("softcap and scale", dims(1, 3, 3, 6, 6, 8, 4),
            plain.withSoftcap(0.7).withScale(2.0)),
        Arguments.of("alibi causal", dims(1, 4, 2, 5, 8, 4, 4),
            plain.withCausal(false).withSlopes(0.5, 0.25, 0.125, 1.5)),
        Arguments.of("alibi top-left", dims(1, 4, 2, 5, 8, 4, 4),
            plain.withTopLeft().withSlopes(0.5, 0.25, 0.125, 1.5)),
        Arguments.of("kv-lens causal", dims(2, 2, 1, 4, 9, 4, 3),
            plain.withCausal(false).withLens(9, 5)),
        Arguments.of("kv-lens with an empty batch", dims(2, 2, 2, 3, 6, 4, 4),
            plain.withLens(0, 4)),
        Arguments.of("MQA", dims(1, 4, 1, 6, 6, 8, 8), plain.withCausal(false)),
        Arguments.of("everything", dims(2, 4, 2, 6, 10, 8, 6),
            plain.withCausal(true).withWindow(4, 2).withSoftcap(3).withScale(0.4)
                .withSlopes(0.3, 0.2, 0.1, 0.05).withLens(10, 7)));
  }

  private static int[] dims(int... d) {
    return d;
  }

  private static Problem problem(int[] d) {
    return Problem.random(Arrays.hashCode(d), d[0], d[1], d[2], d[3], d[4], d[5], d[6]);
  }

  /** The command line for a spec, with auxiliary files written to {@code dir}. */
  private List<String> args(Path[] qkv, Spec s, boolean equalsForm) throws IOException {
    List<String> a = new ArrayList<>(List.of("run", "dense"));
    opt(a, equalsForm, "--q", qkv[0].toString());
    opt(a, equalsForm, "--k", qkv[1].toString());
    opt(a, equalsForm, "--v", qkv[2].toString());
    opt(a, equalsForm, "--out", dir.resolve("o.npy").toString());
    opt(a, equalsForm, "--lse", dir.resolve("lse.npy").toString());
    if (s.causal()) {
      a.add("--causal");
    }
    if (s.topLeft()) {
      opt(a, equalsForm, "--align", "top-left");
    }
    if (s.left() != -1 || s.right() != -1) {
      opt(a, equalsForm, "--window", s.left() + "," + s.right());
    }
    if (s.softcap() > 0) {
      opt(a, equalsForm, "--softcap", Double.toString(s.softcap()));
    }
    if (!Double.isNaN(s.scale())) {
      opt(a, equalsForm, "--scale", Double.toString(s.scale()));
    }
    if (s.slopes() != null) {
      Path p = dir.resolve("slopes.npy");
      Npy.write(p, Tensor.of(s.slopes(), s.slopes().length), "<f8");
      opt(a, equalsForm, "--alibi", p.toString());
    }
    if (s.lens() != null) {
      Path p = dir.resolve("lens.npy");
      Npy.writeLongs(p, Arrays.stream(s.lens()).asLongStream().toArray(),
          new int[] {s.lens().length}, "<i8");
      opt(a, equalsForm, "--kv-lens", p.toString());
    }
    return a;
  }

  private static void opt(List<String> a, boolean equalsForm, String name, String value) {
    if (equalsForm) {
      a.add(name + "=" + value);
    } else {
      a.add(name);
      a.add(value);
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void referenceMatchesAnIndependentDoubleComputation(String name, int[] d, Spec s)
      throws IOException {
    Problem p = problem(d);
    List<String> a = args(p.write(dir, "<f8"), s, false);
    a.addAll(List.of("--impl", "reference", "--out-dtype", "f8"));
    run(a).ok();
    Expected e = naive(p, s);
    double tol = 1e-9 * Math.max(1, maxAbs(e.out()));
    assertEquals("<f8", Npy.read(dir.resolve("o.npy")).descr());
    assertArrayEquals(new int[] {d[0], d[1], d[3], d[6]}, Npy.read(dir.resolve("o.npy")).shape());
    assertArrayEquals(new int[] {d[0], d[1], d[3]}, Npy.read(dir.resolve("lse.npy")).shape());
    assertClose(e.out(), readDoubles(dir.resolve("o.npy")), tol, "O");
    assertClose(e.lse(), readDoubles(dir.resolve("lse.npy")),
        1e-9 * Math.max(1, maxAbs(e.lse())), "LSE");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void fastIsWithinTheSemanticsTolerance(String name, int[] d, Spec s) throws IOException {
    Problem p = problem(d);
    run(args(p.write(dir, "<f4"), s, false)).ok();
    // the oracle sees the float32-rounded inputs the kernel read
    Problem rounded = new Problem(p.b(), p.hq(), p.hkv(), p.sq(), p.sk(), p.d(), p.dv(),
        readDoubles(dir.resolve("q.npy")), readDoubles(dir.resolve("k.npy")),
        readDoubles(dir.resolve("v.npy")));
    Expected e = naive(rounded, s);
    assertEquals("<f4", Npy.read(dir.resolve("o.npy")).descr());
    assertEquals("<f4", Npy.read(dir.resolve("lse.npy")).descr());
    assertClose(e.out(), readDoubles(dir.resolve("o.npy")),
        1e-4 * Math.max(1, maxAbs(e.out())) + 1e-5, "O");
    double[] lse = readDoubles(dir.resolve("lse.npy"));
    for (int r = 0; r < lse.length; r++) {
      double want = e.lse()[r];
      if (Double.isInfinite(want)) {
        assertEquals(want, lse[r], "LSE row " + r);
      } else {
        assertEquals(want, lse[r], 1e-4 * Math.max(1, Math.abs(want)), "LSE row " + r);
      }
    }
  }

  @Test
  void equalsFormAndSpacedFormAreTheSame() throws IOException {
    Problem p = Problem.random(7, 1, 4, 2, 6, 9, 8, 4);
    Spec s = Spec.plain().withCausal(true).withWindow(-1, 0).withSoftcap(2).withScale(0.3)
        .withSlopes(0.1, 0.2, 0.3, 0.4).withLens(8);
    Path[] qkv = p.write(dir, "<f4");
    run(args(qkv, s, false)).ok();
    byte[] o1 = Files.readAllBytes(dir.resolve("o.npy"));
    byte[] l1 = Files.readAllBytes(dir.resolve("lse.npy"));
    Files.delete(dir.resolve("o.npy"));
    Files.delete(dir.resolve("lse.npy"));
    List<String> eq = args(qkv, s, true);
    assertTrue(eq.contains("--window=-1,0"), eq.toString());
    run(eq).ok();
    assertArrayEquals(o1, Files.readAllBytes(dir.resolve("o.npy")));
    assertArrayEquals(l1, Files.readAllBytes(dir.resolve("lse.npy")));
    // --window -1,0 spaced: a value that starts with '-' is still the option's value
    List<String> spaced = args(qkv, s, false);
    assertTrue(String.join(" ", spaced).contains("--window -1,0"), spaced.toString());
  }

  @Test
  void outDtypeF8WritesF8AndDefaultIsF4() throws IOException {
    Problem p = Problem.random(3, 1, 2, 2, 4, 4, 4, 4);
    Path[] f = p.write(dir, "<f4");
    String o = dir.resolve("o.npy").toString();
    String l = dir.resolve("lse.npy").toString();
    run("run", "dense", "--q", f[0].toString(), "--k", f[1].toString(), "--v", f[2].toString(),
        "--out", o, "--lse", l).ok();
    assertEquals("<f4", Npy.read(Path.of(o)).descr());
    assertEquals("<f4", Npy.read(Path.of(l)).descr());
    for (String impl : List.of("fast", "reference")) {
      run("run", "dense", "--q", f[0].toString(), "--k", f[1].toString(), "--v",
          f[2].toString(), "--out", o, "--lse", l, "--out-dtype", "f8", "--impl", impl).ok();
      assertEquals("<f8", Npy.read(Path.of(o)).descr(), impl);
      assertEquals("<f8", Npy.read(Path.of(l)).descr(), impl);
    }
  }

  @Test
  void successPrintsNothingAndReplacesExistingFilesWithoutLeftovers() throws IOException {
    Problem p = Problem.random(5, 1, 2, 1, 3, 5, 4, 4);
    Path[] f = p.write(dir, "<f4");
    Path o = dir.resolve("o.npy");
    Path l = dir.resolve("lse.npy");
    Files.writeString(o, "old output");
    Files.writeString(l, "old lse");
    CliFixtures.Run r = run("run", "dense", "--q", f[0].toString(), "--k", f[1].toString(),
        "--v", f[2].toString(), "--out", o.toString(), "--lse", l.toString()).ok();
    assertEquals("", r.out());
    assertEquals("<f4", Npy.read(o).descr());
    assertEquals("<f4", Npy.read(l).descr());
    try (Stream<Path> files = Files.list(dir)) {
      assertEquals(List.of("k.npy", "lse.npy", "o.npy", "q.npy", "v.npy"),
          files.map(x -> x.getFileName().toString()).sorted().toList());
    }
  }

  @Test
  void halfAndBfloat16Inputs() throws IOException {
    Problem p = Problem.random(11, 1, 2, 1, 4, 6, 8, 4);
    Path q = dir.resolve("q.npy");
    Path k = dir.resolve("k.npy");
    Path v = dir.resolve("v.npy");
    Npy.write(q, Tensor.copyOf(Tensor.of(p.q(), 1, 2, 4, 8), DType.F16), "<f2");
    Npy.write(k, Tensor.copyOf(Tensor.of(p.k(), 1, 1, 6, 8), DType.BF16), "<u2");
    Npy.write(v, Tensor.of(p.v(), 1, 1, 6, 4), "<f4");
    Path o = dir.resolve("o.npy");
    List<String> base = List.of("run", "dense", "--q", q.toString(), "--k", k.toString(), "--v",
        v.toString(), "--out", o.toString(), "--impl", "reference", "--out-dtype", "f8");
    run(base).usageError("--bf16");
    assertFalse(Files.exists(o));
    List<String> withBf16 = new ArrayList<>(base);
    withBf16.add("--bf16");
    run(withBf16).ok();
    Problem rounded = new Problem(1, 2, 1, 4, 6, 8, 4, Npy.read(q).toDoubleArray(),
        Npy.read(k).toTensor(true).toDoubleArray(), Npy.read(v).toDoubleArray());
    Expected e = naive(rounded, Spec.plain());
    assertClose(e.out(), readDoubles(o), 1e-9 * Math.max(1, maxAbs(e.out())), "O");
  }

  @Test
  void bigEndianFortranOrderInputs() throws IOException {
    Problem p = Problem.random(13, 1, 2, 2, 3, 5, 4, 3);
    Path q = dir.resolve("q.npy");
    Path k = dir.resolve("k.npy");
    Path v = dir.resolve("v.npy");
    writeBigEndianFortranF8(q, p.q(), 1, 2, 3, 4);
    writeBigEndianFortranF8(k, p.k(), 1, 2, 5, 4);
    Npy.write(v, Tensor.of(p.v(), 1, 2, 5, 3), "<f8");
    Path o = dir.resolve("o.npy");
    run("run", "dense", "--q", q.toString(), "--k", k.toString(), "--v", v.toString(), "--out",
        o.toString(), "--impl", "reference", "--out-dtype", "f8", "--causal").ok();
    Expected e = naive(p, Spec.plain().withCausal(false));
    assertClose(e.out(), readDoubles(o), 1e-9 * Math.max(1, maxAbs(e.out())), "O");
  }

  /** A {@code >f8} file with {@code fortran_order: True}, written by hand. */
  static void writeBigEndianFortranF8(Path file, double[] cOrder, int... shape)
      throws IOException {
    StringBuilder tuple = new StringBuilder("(");
    for (int s : shape) {
      tuple.append(s).append(", ");
    }
    String dict = "{'descr': '>f8', 'fortran_order': True, 'shape': "
        + tuple.substring(0, tuple.length() - 2) + "), }";
    int total = 10 + dict.length() + 1;
    String header = dict + " ".repeat((64 - total % 64) % 64) + "\n";
    ByteBuffer buf = ByteBuffer.allocate(10 + header.length() + 8 * cOrder.length);
    buf.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0});
    buf.order(ByteOrder.LITTLE_ENDIAN).putShort((short) header.length());
    buf.put(header.getBytes(StandardCharsets.US_ASCII));
    buf.order(ByteOrder.BIG_ENDIAN);
    // Fortran order: the first index varies fastest
    int n = cOrder.length;
    int[] idx = new int[shape.length];
    for (int e = 0; e < n; e++) {
      int c = 0;
      for (int a = 0; a < shape.length; a++) {
        c = c * shape[a] + idx[a];
      }
      buf.putDouble(cOrder[c]);
      for (int a = 0; a < shape.length; a++) {
        if (++idx[a] < shape[a]) {
          break;
        }
        idx[a] = 0;
      }
    }
    Files.write(file, buf.array());
  }

  @Test
  void threadCountDoesNotChangeTheResult() throws IOException {
    Problem p = Problem.random(17, 2, 4, 2, 33, 40, 16, 8);
    Path[] f = p.write(dir, "<f4");
    for (String impl : List.of("reference", "fast")) {
      byte[] first = null;
      for (String threads : List.of("1", "3")) {
        Path o = dir.resolve("o-" + impl + "-" + threads + ".npy");
        run("run", "dense", "--q", f[0].toString(), "--k", f[1].toString(), "--v",
            f[2].toString(), "--out", o.toString(), "--impl", impl, "--threads", threads,
            "--causal").ok();
        byte[] bytes = Files.readAllBytes(o);
        if (first == null) {
          first = bytes;
        } else {
          assertArrayEquals(first, bytes, impl);
        }
      }
    }
  }

  @Test
  void helpGoesToStdoutWithStatusZero() {
    for (String[] a : new String[][] {{"--help"}, {"run", "--help"}, {"run", "dense", "--help"},
        {"bench", "dense", "--help"}, {"demo", "--help"}}) {
      CliFixtures.Run r = run(a).ok();
      assertTrue(r.out().startsWith("Usage: attention"), r.out());
    }
    assertTrue(run("run", "dense", "--help").out().contains("--kv-lens"));
  }
}
