package dev.attention4j.cli;

import static dev.attention4j.cli.CliFixtures.parseJson;
import static dev.attention4j.cli.CliFixtures.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.core.Kernels;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code demo}: every kernel against the reference, within tolerance, in a table or JSON. */
class DemoTest {

  @Test
  void demoRunsEveryKernelWithinToleranceAndNamesTheProvider() {
    long t0 = System.nanoTime();
    CliFixtures.Run r = run("demo").ok();
    double seconds = (System.nanoTime() - t0) / 1e9;
    List<String> lines = r.out().lines().toList();
    assertTrue(lines.get(0).contains("provider " + Kernels.provider().name()), lines.get(0));
    assertTrue(lines.get(1).startsWith("case"), lines.get(1));
    for (String l : lines.subList(2, lines.size())) {
      if (l.isEmpty() || l.startsWith("case")) {
        continue; // the kernel families' table: a blank line and its own header
      }
      assertTrue(l.endsWith("yes") || l.endsWith("oracle"), l);
    }
    assertTrue(r.out().contains("decode kv-lens alibi"), r.out());
    assertTrue(seconds < 60, "demo took " + seconds + " s");
    System.out.println("demo: " + seconds + " s\n" + r.out());
  }

  @Test
  @SuppressWarnings("unchecked")
  void demoJsonLines() {
    CliFixtures.Run r = run("demo", "--json", "--threads", "2").ok();
    List<String> lines = r.out().lines().toList();
    assertTrue(lines.size() >= 10, r.out());
    int checked = 0;
    for (String l : lines) {
      Map<String, Object> m = (Map<String, Object>) parseJson(l);
      assertEquals(Kernels.provider().name(), m.get("provider"));
      if (m.containsKey("within_tolerance")) {
        assertEquals(true, m.get("within_tolerance"), l);
        checked++;
      }
    }
    assertTrue(checked >= 5, r.out());
  }
}
