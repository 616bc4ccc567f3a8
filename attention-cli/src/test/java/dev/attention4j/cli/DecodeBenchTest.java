package dev.attention4j.cli;

import static dev.attention4j.cli.CliFixtures.parseJson;
import static dev.attention4j.cli.CliFixtures.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code bench decode}: one JSON line with the required keys, both layouts, the quantized cache. */
class DecodeBenchTest {

  private static final List<String> REQUIRED = List.of("kernel", "threads", "median_ms",
      "min_ms", "gflops", "pairs", "max_abs_err", "gbps", "layout", "kv_dtype", "heads",
      "kv_heads", "kv_seq", "dim");

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
  void contiguousJsonLine() {
    Map<String, Object> m = onlyJsonLine(run("bench", "decode", "--kv-seq", "300", "--heads",
        "8", "--kv-heads", "2", "--dim", "32", "--reps", "3", "--warmup", "0", "--json"));
    assertEquals("decode", m.get("kernel"));
    assertEquals("contiguous", m.get("layout"));
    assertEquals("f32", m.get("kv_dtype"));
    assertEquals(1.0, m.get("threads"));
    assertEquals(8.0 * 300, m.get("pairs"));
    double median = (Double) m.get("median_ms");
    assertTrue((Double) m.get("min_ms") > 0 && (Double) m.get("min_ms") <= median);
    double gbps = (Double) m.get("gbps");
    assertEquals(2.0 * 300 * (32 + 32) * 4 / (median / 1e3) / 1e9, gbps, 1e-9 * gbps);
    assertEquals(2.0 * (32 + 32) * 8 * 300 / (median / 1e3) / 1e9, (Double) m.get("gflops"),
        1e-9 * (Double) m.get("gflops"));
    assertEquals(true, m.get("within_tolerance"));
  }

  @Test
  void pagedHalfPrecisionJsonLine() {
    Map<String, Object> m = onlyJsonLine(run("bench", "decode", "--kv-seq", "2100", "--heads",
        "4", "--kv-heads", "1", "--dim", "16", "--kv-dtype", "bf16", "--page-size", "64",
        "--batch", "2", "--threads", "2", "--reps", "2", "--warmup", "0", "--json"));
    assertEquals("paged", m.get("layout"));
    assertEquals("bf16", m.get("kv_dtype"));
    assertEquals(64.0, m.get("page_size"));
    assertEquals(2.0 * 4 * 2100, m.get("pairs"));
    assertEquals(true, m.get("within_tolerance"));
    double err = (Double) m.get("max_abs_err");
    assertTrue(err >= 0 && err <= 1e-4 + 1e-5, "max_abs_err " + err);
  }

  @Test
  void quantizedCacheJsonLine() {
    for (String dtype : new String[] {"int8", "fp8"}) {
      // 2100 keys over pages of 256: 9 pages per sequence (the last one partly filled)
      Map<String, Object> m = onlyJsonLine(run("bench", "decode", "--kv-seq", "2100",
          "--heads", "4", "--kv-heads", "2", "--dim", "32", "--kv-dtype", dtype, "--batch", "2",
          "--threads", "2", "--reps", "2", "--warmup", "0", "--json"));
      assertEquals("paged", m.get("layout"));
      assertEquals(dtype, m.get("kv_dtype"));
      assertEquals(256.0, m.get("page_size"));
      // codes (1 byte) + K scale (4 bytes per token and head) + V scales (per page, head, channel)
      double bytes = 2.0 * (2 * 2100 * (32 + 32 + 4) + 9 * 2 * 32 * 4);
      assertEquals(bytes, m.get("bytes"));
      double median = (Double) m.get("median_ms");
      double gbps = (Double) m.get("gbps");
      assertEquals(bytes / (median / 1e3) / 1e9, gbps, 1e-9 * gbps);
      assertEquals(true, m.get("within_tolerance"), dtype);
    }
  }

  @Test
  void quantizedCacheNeedsTheSimdKernel() {
    CliFixtures.Run r = run("bench", "decode", "--kv-seq", "16", "--kv-dtype", "int8", "--impl",
        "reference");
    assertEquals(2, r.code(), r.err());
    assertEquals(List.of("error: --kv-dtype int8 needs the SIMD kernel (--impl fast, with"
        + " jdk.incubator.vector)"), r.errLines());
    assertEquals("", r.out());
  }
}
