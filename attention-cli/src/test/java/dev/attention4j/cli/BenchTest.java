package dev.attention4j.cli;

import static dev.attention4j.cli.CliFixtures.parseJson;
import static dev.attention4j.cli.CliFixtures.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.core.Tensor;
import dev.attention4j.core.io.Npy;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code bench dense}: JSON lines with the required keys, the table, the pair count. */
class BenchTest {

  @TempDir
  Path dir;

  private static final List<String> REQUIRED = List.of("kernel", "threads", "median_ms",
      "min_ms", "gflops", "pairs", "max_abs_err", "batch", "heads", "kv_heads", "seq", "kv_seq",
      "dim", "dim_v", "causal", "impl");

  @SuppressWarnings("unchecked")
  private static Map<String, Object> onlyJsonLine(CliFixtures.Run r) {
    assertEquals(0, r.code(), r.err());
    List<String> lines = r.out().lines().toList();
    assertEquals(1, lines.size(), r.out());
    Object parsed = parseJson(lines.get(0));
    assertInstanceOf(Map.class, parsed, lines.get(0));
    Map<String, Object> m = (Map<String, Object>) parsed;
    for (String key : REQUIRED) {
      assertTrue(m.containsKey(key), "key " + key + " in " + lines.get(0));
    }
    assertTrue(r.errLines().stream().noneMatch(l -> l.startsWith("error")), r.err());
    return m;
  }

  @Test
  void jsonLineWithTheRequiredKeys() {
    Map<String, Object> m = onlyJsonLine(run("bench", "dense", "--seq", "64", "--dim", "16",
        "--heads", "2", "--reps", "2", "--json"));
    assertEquals("dense", m.get("kernel"));
    assertEquals(1.0, m.get("threads"));
    assertEquals(2.0, m.get("heads"));
    assertEquals(2.0, m.get("kv_heads"));
    assertEquals(64.0, m.get("seq"));
    assertEquals(64.0, m.get("kv_seq"));
    assertEquals(16.0, m.get("dim_v"));
    assertEquals(false, m.get("causal"));
    assertEquals(2.0 * 64 * 64, m.get("pairs"));
    double median = (Double) m.get("median_ms");
    double min = (Double) m.get("min_ms");
    assertTrue(min > 0 && min <= median, m.toString());
    double gflops = (Double) m.get("gflops");
    assertEquals(2.0 * (16 + 16) * 2 * 64 * 64 / (median / 1e3) / 1e9, gflops,
        1e-9 * gflops);
    double err = (Double) m.get("max_abs_err");
    assertTrue(err >= 0 && err <= 1e-4 + 1e-5, "max_abs_err " + err);
    assertEquals(true, m.get("within_tolerance"));
  }

  @Test
  void causalWindowGqaCountsOnlyVisiblePairs() {
    Map<String, Object> m = onlyJsonLine(run("bench", "dense", "--seq", "48", "--kv-seq=80",
        "--dim", "16", "--dim-v", "8", "--heads", "4", "--kv-heads", "2", "--causal",
        "--window", "10,-1", "--softcap", "20", "--reps", "3", "--warmup", "0", "--threads", "2",
        "--json"));
    // bottom-right: row i sees keys [i + 32 - 10, i + 32], 11 keys each, never clipped
    assertEquals(4.0 * 48 * 11, m.get("pairs"));
    assertEquals(2.0, m.get("threads"));
    assertEquals(true, m.get("causal"));
    assertEquals(true, m.get("within_tolerance"));
  }

  @Test
  void referenceImplCanBeTimedToo() {
    Map<String, Object> m = onlyJsonLine(run("bench", "dense", "--seq", "16", "--dim", "8",
        "--heads", "2", "--reps", "1", "--warmup", "0", "--impl", "reference", "--json"));
    assertEquals("reference", m.get("impl"));
    assertEquals(0.0, m.get("max_abs_err"));
  }

  @Test
  void humanTableByDefaultAndNotesOnStderr() {
    CliFixtures.Run r = run("bench", "dense", "--seq", "32", "--dim", "8", "--heads", "2",
        "--reps", "2", "--warmup", "0", "--causal");
    assertEquals(0, r.code(), r.err());
    List<String> lines = r.out().lines().toList();
    assertEquals(2, lines.size(), r.out());
    assertTrue(lines.get(0).startsWith("kernel"), lines.get(0));
    assertTrue(lines.get(0).contains("median_ms") && lines.get(0).contains("GFLOP/s"));
    assertTrue(lines.get(1).startsWith("dense"), lines.get(1));
    assertTrue(lines.get(1).contains("causal"), lines.get(1));
    assertTrue(r.err().contains("warming up"), r.err());
  }

  @Test
  void denseTakesAlibiSlopesAndKeyLengthsLikeRun() throws IOException {
    Path slopes = dir.resolve("slopes.npy");
    Path lens = dir.resolve("lens.npy");
    Npy.write(slopes, Tensor.of(new double[] {0.5, 0.25, 0.125, 0.0625}, 4), "<f8");
    Npy.writeLongs(lens, new long[] {40, 0, 80}, new int[] {3}, "<i4");
    Map<String, Object> m = onlyJsonLine(run("bench", "dense", "--batch", "3", "--heads", "4",
        "--kv-heads", "2", "--seq", "48", "--kv-seq", "80", "--dim", "16", "--causal",
        "--alibi", slopes.toString(), "--kv-lens=" + lens, "--reps", "1", "--warmup", "0",
        "--json"));
    // bottom-right per batch: off_b = len_b - 48; row i sees keys 0..min(len_b - 1, i + off_b)
    long perHead = 0;
    for (int len : new int[] {40, 0, 80}) {
      for (int i = 0; i < 48; i++) {
        perHead += Math.max(0, Math.min(len - 1, i + len - 48) + 1);
      }
    }
    assertEquals(4.0 * perHead, m.get("pairs"));
    assertEquals(true, m.get("alibi"));
    assertEquals(List.of(40.0, 0.0, 80.0), m.get("kv_lens"));
    assertEquals(true, m.get("within_tolerance"));
  }

  @Test
  void denseBenchChecksTheSlopeCountAgainstTheHeads() throws IOException {
    Path slopes = dir.resolve("slopes3.npy");
    Npy.write(slopes, Tensor.of(new double[] {0.5, 0.25, 0.125}, 3), "<f8");
    run("bench", "dense", "--heads", "4", "--seq", "16", "--dim", "8", "--alibi",
        slopes.toString(), "--reps", "1", "--warmup", "0", "--json").usageError("slopes");
  }
}
