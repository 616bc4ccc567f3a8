package dev.attention4j.cli;

import static dev.attention4j.cli.CliFixtures.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.cli.CliFixtures.Problem;
import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionResult;
import dev.attention4j.core.Alignment;
import dev.attention4j.core.Tensor;
import dev.attention4j.core.io.Npy;
import dev.attention4j.quant.SageAttention;
import dev.attention4j.quant.SageVariant;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code run sage} and {@code bench sage}: results equal the library call, errors exit 2. */
class SageCliTest {

  @TempDir
  Path dir;

  List<String> args(String variant, String... extra) {
    List<String> a = new ArrayList<>(List.of("run", "sage", "--variant", variant, "--q",
        dir.resolve("q.npy").toString(), "--k", dir.resolve("k.npy").toString(), "--v",
        dir.resolve("v.npy").toString(), "--out", dir.resolve("o.npy").toString(), "--lse",
        dir.resolve("lse.npy").toString(), "--threads", "2"));
    a.addAll(List.of(extra));
    return a;
  }

  @ParameterizedTest
  @ValueSource(strings = {"sage1", "sage2-int8", "sage2-int4", "sage3-nvfp4"})
  void runMatchesTheLibrary(String variant) throws Exception {
    Problem p = Problem.random(3, 1, 4, 2, 37, 70, 32, 32);
    p.write(dir, "<f4");
    CliFixtures.Run r = run(args(variant, "--causal", "--align", "top-left"));
    assertEquals(0, r.code(), r.err());
    assertEquals("", r.out());
    AttentionOptions o = AttentionOptions.builder().causal(true).alignment(Alignment.TOP_LEFT)
        .returnLse(true).build();
    AttentionResult want = SageAttention.builder(SageVariant.byId(variant)).build().forward(
        Npy.read(dir.resolve("q.npy")).toTensor(), Npy.read(dir.resolve("k.npy")).toTensor(),
        Npy.read(dir.resolve("v.npy")).toTensor(), o);
    assertArrayEquals(want.out().toFloatArray(), Npy.read(dir.resolve("o.npy")).toTensor().toFloatArray());
    assertArrayEquals(want.lse().toFloatArray(),
        Npy.read(dir.resolve("lse.npy")).toTensor().toFloatArray());
    // the reference pipeline: float64 outputs with --out-dtype f8, close to the fast result
    CliFixtures.Run ref = run(args(variant, "--causal", "--align", "top-left", "--impl",
        "reference", "--out-dtype", "f8"));
    assertEquals(0, ref.code(), ref.err());
    double[] o64 = Npy.read(dir.resolve("o.npy")).toTensor().toDoubleArray();
    double[] f = want.out().toDoubleArray();
    for (int i = 0; i < f.length; i++) {
      assertEquals(f[i], o64[i], 1e-4, "element " + i);
    }
  }

  @Test
  void badInputExitsTwoAndWritesNothing() throws Exception {
    Problem.random(3, 1, 4, 2, 5, 6, 8, 8).write(dir, "<f4");
    byte[] sentinel = "keep".getBytes(StandardCharsets.UTF_8);
    Files.write(dir.resolve("lse.npy"), sentinel);
    run(args("sage5")).usageError("unknown sage variant \"sage5\"");
    run(args("sage1", "--softcap", "3")).usageError("--softcap");
    run(args("sage1", "--align", "middle")).usageError("middle");
    List<String> noVariant = args("sage1");
    noVariant.subList(2, 4).clear();
    run(noVariant).usageError("--variant");
    // Hq % Hkv != 0
    Npy.write(dir.resolve("k.npy"), Tensor.of(new double[3 * 6 * 8], 1, 3, 6, 8), "<f4");
    Npy.write(dir.resolve("v.npy"), Tensor.of(new double[3 * 6 * 8], 1, 3, 6, 8), "<f4");
    run(args("sage2-int8")).usageError("");
    assertFalse(Files.exists(dir.resolve("o.npy")));
    assertArrayEquals(sentinel, Files.readAllBytes(dir.resolve("lse.npy")));
  }

  @Test
  void benchPrintsOneJsonLine() {
    CliFixtures.Run r = run("bench", "sage", "--variant", "sage1", "--seq", "128", "--heads",
        "2", "--dim", "64", "--reps", "1", "--warmup", "0", "--json");
    assertEquals(0, r.code(), r.err());
    @SuppressWarnings("unchecked")
    Map<String, Object> j = (Map<String, Object>) CliFixtures.parseJson(r.out().trim());
    assertEquals("sage", j.get("kernel"));
    assertEquals("sage1", j.get("variant"));
    assertEquals(Boolean.TRUE, j.get("within_tolerance"));
    for (String key : List.of("threads", "median_ms", "min_ms", "gflops", "pairs",
        "max_abs_err", "cosine", "rel_l1")) {
      assertTrue(j.containsKey(key), key);
    }
    run("bench", "sage", "--seq", "64").usageError("--variant");
  }
}
