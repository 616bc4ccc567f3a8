package dev.attention4j.cli;

import static dev.attention4j.cli.CliFixtures.assertClose;
import static dev.attention4j.cli.CliFixtures.maxAbs;
import static dev.attention4j.cli.CliFixtures.parseJson;
import static dev.attention4j.cli.CliFixtures.readDoubles;
import static dev.attention4j.cli.CliFixtures.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.cli.CliFixtures.Problem;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code run} and {@code bench} of the sparse kernels: numbers, oracles, errors. */
class RunSparseTest {

  @TempDir
  Path dir;

  private List<String> io(String kernel, Path[] qkv, String out, String lse) {
    return new ArrayList<>(List.of("run", kernel, "--q", qkv[0].toString(), "--k",
        qkv[1].toString(), "--v", qkv[2].toString(), "--out", dir.resolve(out).toString(),
        "--lse", dir.resolve(lse).toString()));
  }

  /** NATTEN's 1-D rule, straight from SEMANTICS.md (stride 1, dilation 1, non-causal). */
  private static boolean window(int len, int k, int x, int y) {
    int wl = k / 2;
    int wr = k / 2 + k % 2 - 1;
    int centre = Math.min(Math.max(x, wl), len - 1 - wr);
    return centre - wl <= y && y <= centre + wr;
  }

  @Test
  void neighborhoodMatchesANaiveOracleAndTheReferenceImpl() throws IOException {
    // grid 6 x 7, kernel 3 x 4 (even), GQA
    Problem p = Problem.random(41, 1, 4, 2, 42, 42, 8, 6);
    Path[] qkv = p.write(dir, "<f8");
    List<String> a = io("neighborhood", qkv, "o.npy", "lse.npy");
    a.addAll(List.of("--grid", "6,7", "--kernel-size", "3,4"));
    run(a).ok();
    double[] o = readDoubles(dir.resolve("o.npy"));
    double[] lse = readDoubles(dir.resolve("lse.npy"));
    double[] expected = new double[o.length];
    double[] expectedLse = new double[lse.length];
    double scale = 1 / Math.sqrt(8);
    for (int h = 0; h < 4; h++) {
      int g = h / 2;
      for (int i = 0; i < 42; i++) {
        double m = Double.NEGATIVE_INFINITY;
        double[] s = new double[42];
        for (int j = 0; j < 42; j++) {
          s[j] = Double.NEGATIVE_INFINITY;
          if (window(6, 3, i / 7, j / 7) && window(7, 4, i % 7, j % 7)) {
            double dot = 0;
            for (int e = 0; e < 8; e++) {
              dot += p.q()[(h * 42 + i) * 8 + e] * p.k()[(g * 42 + j) * 8 + e];
            }
            s[j] = scale * dot;
            m = Math.max(m, s[j]);
          }
        }
        double l = 0;
        for (int j = 0; j < 42; j++) {
          if (s[j] != Double.NEGATIVE_INFINITY) {
            double w = Math.exp(s[j] - m);
            l += w;
            for (int e = 0; e < 6; e++) {
              expected[(h * 42 + i) * 6 + e] += w * p.v()[(g * 42 + j) * 6 + e];
            }
          }
        }
        for (int e = 0; e < 6; e++) {
          expected[(h * 42 + i) * 6 + e] /= l;
        }
        expectedLse[h * 42 + i] = m + Math.log(l);
      }
    }
    assertClose(expected, o, 1e-4 * Math.max(1, maxAbs(expected)) + 1e-5, "O");
    assertClose(expectedLse, lse, 1e-4 * Math.max(1, maxAbs(expectedLse)), "LSE");
    List<String> r = io("neighborhood", qkv, "or.npy", "lr.npy");
    r.addAll(List.of("--grid=6,7", "--kernel-size=3,4", "--impl", "reference", "--out-dtype",
        "f8"));
    run(r).ok();
    assertClose(expected, readDoubles(dir.resolve("or.npy")), 1e-9, "reference O");
  }

  @Test
  void mobaFastEqualsItsReferenceAndCoveringTopkIsCausalDense() throws IOException {
    Problem p = Problem.random(42, 1, 2, 2, 96, 96, 8, 8);
    Path[] qkv = p.write(dir, "<f4");
    List<String> a = io("moba", qkv, "o.npy", "lse.npy");
    a.addAll(List.of("--block-size", "16", "--topk", "3", "--threads", "2"));
    run(a).ok();
    List<String> r = io("moba", qkv, "or.npy", "lr.npy");
    r.addAll(List.of("--block-size", "16", "--topk", "3", "--impl", "reference"));
    run(r).ok();
    double[] ref = readDoubles(dir.resolve("or.npy"));
    assertClose(ref, readDoubles(dir.resolve("o.npy")), 1e-4 * Math.max(1, maxAbs(ref)) + 1e-5,
        "moba O");
    List<String> all = io("moba", qkv, "oa.npy", "la.npy");
    all.addAll(List.of("--block-size", "16", "--topk", "6"));
    run(all).ok();
    List<String> dense = io("dense", qkv, "od.npy", "ld.npy");
    dense.add("--causal");
    run(dense).ok();
    double[] d = readDoubles(dir.resolve("od.npy"));
    assertClose(d, readDoubles(dir.resolve("oa.npy")), 2e-5, "topk >= n");
  }

  @Test
  void nablaFastEqualsItsReferenceAndThresholdOneIsDense() throws IOException {
    Problem p = Problem.random(43, 1, 2, 1, 128, 128, 8, 8);
    Path[] qkv = p.write(dir, "<f4");
    List<String> a = io("nabla", qkv, "o.npy", "lse.npy");
    a.addAll(List.of("--block-size", "16", "--threshold", "0.5"));
    run(a).ok();
    List<String> r = io("nabla", qkv, "or.npy", "lr.npy");
    r.addAll(List.of("--block-size", "16", "--threshold", "0.5", "--impl", "reference"));
    run(r).ok();
    double[] ref = readDoubles(dir.resolve("or.npy"));
    assertClose(ref, readDoubles(dir.resolve("o.npy")), 1e-4 * Math.max(1, maxAbs(ref)) + 1e-5,
        "nabla O");
    List<String> one = io("nabla", qkv, "o1.npy", "l1.npy");
    one.addAll(List.of("--threshold", "1"));
    run(one).ok();
    run(io("dense", qkv, "od.npy", "ld.npy")).ok();
    assertClose(readDoubles(dir.resolve("od.npy")), readDoubles(dir.resolve("o1.npy")), 2e-5,
        "thr 1");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "neighborhood|--grid=8,4 --kernel-size=3,5|axis 1",
      "neighborhood|--grid=6,7 --kernel-size=3 --stride=4|stride 4",
      "neighborhood|--grid=5,8 --kernel-size=3|40 tokens",
      "neighborhood|--grid=6,7 --kernel-size=1|kernel size 1",
      "neighborhood|--grid=6,7 --kernel-size=3 --causal-axes=2|--causal-axes",
      "neighborhood|--grid=6,7,1,2 --kernel-size=3|--grid",
      "neighborhood|--kernel-size=3|--grid",
      "neighborhood|--grid=6,7 --kernel-size=3 --causal|does not take option '--causal'",
      "moba|--block-size=8 --topk=0|--topk 0",
      "moba|--block-size=8|--topk",
      "moba|--block-size=8 --topk=2 --threshold=0.5|option of nabla",
      "nabla|--threshold=1.5|--threshold",
      "nabla|--threshold=0.5 --topk=2|option of moba"})
  void badOptionsExitTwoWithoutOutputs(String kernel, String options, String fragment)
      throws IOException {
    Problem p = Problem.random(44, 1, 2, 1, 42, 42, 8, 8);
    Path[] qkv = p.write(dir, "<f4");
    Files.write(dir.resolve("lse.npy"), "keep".getBytes(StandardCharsets.UTF_8));
    List<String> a = io(kernel, qkv, "o.npy", "lse.npy");
    a.addAll(List.of(options.split(" ")));
    run(a).usageError(fragment);
    assertFalse(Files.exists(dir.resolve("o.npy")));
    assertArrayEquals("keep".getBytes(StandardCharsets.UTF_8),
        Files.readAllBytes(dir.resolve("lse.npy")));
  }

  @Test
  void mobaRejectsSqGreaterThanSk() throws IOException {
    Problem p = Problem.random(45, 1, 2, 1, 50, 40, 8, 8);
    List<String> a = io("moba", p.write(dir, "<f4"), "o.npy", "l.npy");
    a.addAll(List.of("--block-size", "8", "--topk", "2"));
    run(a).usageError("Sq <= Sk");
    assertFalse(Files.exists(dir.resolve("o.npy")));
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> json(CliFixtures.Run r) {
    assertEquals(0, r.code(), r.err());
    List<String> lines = r.out().lines().toList();
    assertEquals(1, lines.size(), r.out());
    Map<String, Object> m = (Map<String, Object>) parseJson(lines.get(0));
    for (String key : List.of("kernel", "threads", "median_ms", "min_ms", "gflops", "pairs",
        "max_abs_err")) {
      assertTrue(m.containsKey(key), key + " in " + lines.get(0));
    }
    assertEquals(true, m.get("within_tolerance"), lines.get(0));
    return m;
  }

  @Test
  void benchEachSparseKernel() {
    Map<String, Object> n = json(run("bench", "neighborhood", "--grid", "16,16", "--kernel-size",
        "5", "--heads", "2", "--dim", "16", "--reps", "2", "--warmup", "0", "--json"));
    assertEquals("neighborhood", n.get("kernel"));
    assertEquals(256.0, n.get("seq"));
    assertEquals(2.0 * 256 * 25, n.get("pairs"), "exactly k*k keys per query");
    Map<String, Object> m = json(run("bench", "moba", "--seq", "256", "--block-size", "32",
        "--topk", "2", "--heads", "2", "--kv-heads", "1", "--dim", "16", "--reps", "2",
        "--warmup", "0", "--json"));
    assertEquals("moba", m.get("kernel"));
    assertEquals(true, m.get("causal"), "MoBA is causal");
    assertEquals(false, n.get("causal"));
    assertTrue((Double) m.get("pairs") < 2.0 * 256 * 257 / 2, m.toString());
    Map<String, Object> b = json(run("bench", "nabla", "--seq", "256", "--block-size", "32",
        "--threshold", "0.9", "--heads", "2", "--dim", "16", "--reps", "2", "--warmup", "0",
        "--json"));
    assertEquals("nabla", b.get("kernel"));
    assertEquals(false, b.get("causal"));
    CliFixtures.Run t = run("bench", "neighborhood", "--grid", "8,8", "--kernel-size", "3",
        "--heads", "1", "--dim", "8", "--reps", "1", "--warmup", "0");
    assertEquals(0, t.code(), t.err());
    assertTrue(t.out().lines().toList().get(1).startsWith("neighborhood"), t.out());
    run("bench", "neighborhood", "--grid", "8,8", "--kernel-size", "3", "--seq", "100")
        .usageError("64 tokens");
  }
}
