package dev.attention4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.core.Tensor;
import dev.attention4j.core.io.Npy;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Shared helpers of the CLI tests: running {@link Main} in-process, files, a naive oracle. */
final class CliFixtures {

  private CliFixtures() {
  }

  /** What one in-process run printed and returned. */
  record Run(int code, String out, String err) {

    List<String> errLines() {
      return err.isEmpty() ? List.of() : List.of(err.split("\\R", -1)).stream()
          .filter(l -> !l.isEmpty()).toList();
    }

    /** Asserts exit 0 and an empty stderr. */
    Run ok() {
      assertEquals(0, code, () -> "exit status; stderr: " + err);
      assertEquals("", err, "stderr");
      return this;
    }

    /** Asserts exit 2 and exactly one stderr line starting with {@code error: }. */
    Run usageError(String fragment) {
      assertEquals(2, code, () -> "exit status; stderr: " + err + "; stdout: " + out);
      List<String> lines = List.of(err.split("\\R", -1));
      assertEquals(2, lines.size(), () -> "exactly one stderr line, got: " + err);
      assertEquals("", lines.get(1), () -> "exactly one stderr line, got: " + err);
      assertTrue(lines.get(0).startsWith("error: "), () -> "starts with 'error: ': " + err);
      assertTrue(lines.get(0).contains(fragment),
          () -> "'" + lines.get(0) + "' should contain '" + fragment + "'");
      assertEquals("", out, "stdout on error");
      return this;
    }
  }

  static Run run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code;
    try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
        PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
      code = Main.run(args, o, e);
    }
    return new Run(code, out.toString(StandardCharsets.UTF_8),
        err.toString(StandardCharsets.UTF_8));
  }

  static Run run(List<String> args) {
    return run(args.toArray(String[]::new));
  }

  // ---- problems and files

  /** Q, K, V of a problem, as doubles in C order. */
  record Problem(int b, int hq, int hkv, int sq, int sk, int d, int dv, double[] q, double[] k,
      double[] v) {

    static Problem random(long seed, int b, int hq, int hkv, int sq, int sk, int d, int dv) {
      Random rng = new Random(seed);
      return new Problem(b, hq, hkv, sq, sk, d, dv, gaussian(rng, b * hq * sq * d),
          gaussian(rng, b * hkv * sk * d), gaussian(rng, b * hkv * sk * dv));
    }

    /** Writes Q, K, V as {@code descr} files in {@code dir} and returns their paths. */
    Path[] write(Path dir, String descr) throws IOException {
      Path pq = dir.resolve("q.npy");
      Path pk = dir.resolve("k.npy");
      Path pv = dir.resolve("v.npy");
      Npy.write(pq, Tensor.of(q, b, hq, sq, d), descr);
      Npy.write(pk, Tensor.of(k, b, hkv, sk, d), descr);
      Npy.write(pv, Tensor.of(v, b, hkv, sk, dv), descr);
      return new Path[] {pq, pk, pv};
    }
  }

  static double[] gaussian(Random rng, int n) {
    double[] x = new double[n];
    for (int i = 0; i < n; i++) {
      x[i] = rng.nextGaussian();
    }
    return x;
  }

  static double[] readDoubles(Path p) throws IOException {
    return Npy.read(p).toDoubleArray();
  }

  // ---- the naive oracle of this test suite

  /** Options of the naive oracle, spelled as in SEMANTICS.md. */
  record Spec(double scale, boolean causal, boolean topLeft, int left, int right, double softcap,
      double[] slopes, int[] lens) {

    static Spec plain() {
      return new Spec(Double.NaN, false, false, -1, -1, 0, null, null);
    }

    Spec withCausal(boolean topLeftAlign) {
      return new Spec(scale, true, topLeftAlign, left, right, softcap, slopes, lens);
    }

    Spec withWindow(int l, int r) {
      return new Spec(scale, causal, topLeft, l, r, softcap, slopes, lens);
    }

    Spec withSoftcap(double c) {
      return new Spec(scale, causal, topLeft, left, right, c, slopes, lens);
    }

    Spec withSlopes(double... s) {
      return new Spec(scale, causal, topLeft, left, right, softcap, s, lens);
    }

    Spec withLens(int... l) {
      return new Spec(scale, causal, topLeft, left, right, softcap, slopes, l);
    }

    Spec withScale(double s) {
      return new Spec(s, causal, topLeft, left, right, softcap, slopes, lens);
    }

    Spec withTopLeft() {
      return new Spec(scale, causal, true, left, right, softcap, slopes, lens);
    }
  }

  /** The output and LSE of the naive oracle, in C order. */
  record Expected(double[] out, double[] lse) {}

  /**
   * Attention written straight from SEMANTICS.md with one softmax per row over a list of the
   * visible logits: independent of the library's reference.
   */
  static Expected naive(Problem p, Spec s) {
    double scale = Double.isNaN(s.scale()) ? 1 / Math.sqrt(p.d()) : s.scale();
    double[] out = new double[p.b() * p.hq() * p.sq() * p.dv()];
    double[] lse = new double[p.b() * p.hq() * p.sq()];
    for (int b = 0; b < p.b(); b++) {
      int kvLen = s.lens() == null ? p.sk() : s.lens()[b];
      long off = s.topLeft() ? 0 : kvLen - p.sq();
      for (int h = 0; h < p.hq(); h++) {
        int g = h / (p.hq() / p.hkv());
        for (int i = 0; i < p.sq(); i++) {
          long c = i + off;
          List<Integer> keys = new ArrayList<>();
          List<Double> logits = new ArrayList<>();
          for (int j = 0; j < kvLen; j++) {
            boolean visible = (!s.causal() || j <= c)
                && (s.left() < 0 || j >= c - s.left())
                && (s.right() < 0 || j <= c + s.right());
            if (!visible) {
              continue;
            }
            double dot = 0;
            for (int x = 0; x < p.d(); x++) {
              dot += p.q()[((b * p.hq() + h) * p.sq() + i) * p.d() + x]
                  * p.k()[((b * p.hkv() + g) * p.sk() + j) * p.d() + x];
            }
            double z = scale * dot;
            if (s.softcap() > 0) {
              z = s.softcap() * Math.tanh(z / s.softcap());
            }
            if (s.slopes() != null) {
              z -= s.slopes()[h] * Math.abs(c - j);
            }
            keys.add(j);
            logits.add(z);
          }
          int row = (b * p.hq() + h) * p.sq() + i;
          if (keys.isEmpty()) {
            lse[row] = Double.NEGATIVE_INFINITY;
            continue;
          }
          double m = logits.stream().mapToDouble(Double::doubleValue).max().orElseThrow();
          double l = 0;
          double[] acc = new double[p.dv()];
          for (int n = 0; n < keys.size(); n++) {
            double w = Math.exp(logits.get(n) - m);
            l += w;
            for (int x = 0; x < p.dv(); x++) {
              acc[x] += w * p.v()[((b * p.hkv() + g) * p.sk() + keys.get(n)) * p.dv() + x];
            }
          }
          for (int x = 0; x < p.dv(); x++) {
            out[row * p.dv() + x] = acc[x] / l;
          }
          lse[row] = m + Math.log(l);
        }
      }
    }
    return new Expected(out, lse);
  }

  static double maxAbs(double[] x) {
    double m = 0;
    for (double v : x) {
      if (Double.isFinite(v)) {
        m = Math.max(m, Math.abs(v));
      }
    }
    return m;
  }

  /** Asserts {@code |a - e| <= tol} elementwise, with equal infinities matching exactly. */
  static void assertClose(double[] expected, double[] actual, double tol, String what) {
    assertEquals(expected.length, actual.length, what + " length");
    for (int e = 0; e < expected.length; e++) {
      if (Double.isInfinite(expected[e]) || Double.isInfinite(actual[e])) {
        assertEquals(expected[e], actual[e], what + "[" + e + "]");
        continue;
      }
      double diff = Math.abs(expected[e] - actual[e]);
      int at = e;
      assertTrue(diff <= tol, () -> what + "[" + at + "]: expected " + expected[at] + ", got "
          + actual[at] + " (diff " + diff + " > " + tol + ")");
    }
  }

  // ---- a small JSON reader for the --json lines

  /** Parses one JSON value (objects become ordered maps, numbers doubles). */
  static Object parseJson(String text) {
    int[] pos = {0};
    Object v = value(text, pos);
    skip(text, pos);
    if (pos[0] != text.length()) {
      throw new IllegalArgumentException("trailing text at " + pos[0] + ": " + text);
    }
    return v;
  }

  private static Object value(String s, int[] pos) {
    skip(s, pos);
    char c = s.charAt(pos[0]);
    if (c == '{') {
      Map<String, Object> m = new LinkedHashMap<>();
      pos[0]++;
      skip(s, pos);
      if (s.charAt(pos[0]) == '}') {
        pos[0]++;
        return m;
      }
      while (true) {
        skip(s, pos);
        Object key = value(s, pos);
        if (!(key instanceof String k)) {
          throw new IllegalArgumentException("object key is not a string at " + pos[0]);
        }
        skip(s, pos);
        expect(s, pos, ':');
        if (m.put(k, value(s, pos)) != null) {
          throw new IllegalArgumentException("duplicate key " + k);
        }
        skip(s, pos);
        if (s.charAt(pos[0]) == ',') {
          pos[0]++;
          continue;
        }
        expect(s, pos, '}');
        return m;
      }
    }
    if (c == '[') {
      List<Object> list = new ArrayList<>();
      pos[0]++;
      skip(s, pos);
      if (s.charAt(pos[0]) == ']') {
        pos[0]++;
        return list;
      }
      while (true) {
        list.add(value(s, pos));
        skip(s, pos);
        if (s.charAt(pos[0]) == ',') {
          pos[0]++;
          continue;
        }
        expect(s, pos, ']');
        return list;
      }
    }
    if (c == '"') {
      StringBuilder sb = new StringBuilder();
      pos[0]++;
      while (s.charAt(pos[0]) != '"') {
        char ch = s.charAt(pos[0]++);
        if (ch == '\\') {
          char esc = s.charAt(pos[0]++);
          switch (esc) {
            case 'n' -> sb.append('\n');
            case 't' -> sb.append('\t');
            case 'r' -> sb.append('\r');
            case 'u' -> {
              sb.append((char) Integer.parseInt(s.substring(pos[0], pos[0] + 4), 16));
              pos[0] += 4;
            }
            default -> sb.append(esc);
          }
        } else {
          sb.append(ch);
        }
      }
      pos[0]++;
      return sb.toString();
    }
    for (String word : new String[] {"true", "false", "null"}) {
      if (s.startsWith(word, pos[0])) {
        pos[0] += word.length();
        return word.equals("null") ? null : Boolean.valueOf(word);
      }
    }
    int start = pos[0];
    while (pos[0] < s.length() && "+-0123456789.eE".indexOf(s.charAt(pos[0])) >= 0) {
      pos[0]++;
    }
    if (start == pos[0]) {
      throw new IllegalArgumentException("unexpected '" + c + "' at " + start + ": " + s);
    }
    String num = s.substring(start, pos[0]);
    if (!num.matches("-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?")) {
      throw new IllegalArgumentException("not a JSON number: " + num);
    }
    return Double.parseDouble(num);
  }

  private static void skip(String s, int[] pos) {
    while (pos[0] < s.length() && Character.isWhitespace(s.charAt(pos[0]))) {
      pos[0]++;
    }
  }

  private static void expect(String s, int[] pos, char c) {
    if (s.charAt(pos[0]) != c) {
      throw new IllegalArgumentException("expected '" + c + "' at " + pos[0] + ": " + s);
    }
    pos[0]++;
  }

  static String show(String[] args) {
    return Arrays.toString(args);
  }
}
