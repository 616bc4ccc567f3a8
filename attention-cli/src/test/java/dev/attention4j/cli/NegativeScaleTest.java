package dev.attention4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A negative {@code --scale} (SEMANTICS.md puts no bound on the scale) through every kernel of
 * {@code run}: the fast kernel against the float64 oracle of the same kernel, within the
 * SEMANTICS.md float32 tolerance, and the oracle's result different from the one at the opposite
 * scale (the sign really reaches the logits).
 */
class NegativeScaleTest {

  @TempDir
  Path dir;

  static Stream<Arguments> kernels() {
    return Stream.of(
        Arguments.of("dense", List.of("--causal", "--softcap", "3")),
        Arguments.of("dense", List.of("--window", "5,2", "--align", "top-left")),
        Arguments.of("neighborhood", List.of("--grid", "6,8", "--kernel-size", "3")),
        Arguments.of("moba", List.of("--block-size", "8", "--topk", "2")),
        Arguments.of("nabla", List.of("--block-size", "8", "--threshold", "0.6")),
        Arguments.of("linear", List.of("--feature-map", "elu1", "--causal", "--hybrid-window",
            "5", "--mix", "0.4")),
        Arguments.of("sage", List.of("--variant", "sage1", "--causal")),
        Arguments.of("sage", List.of("--variant", "sage2-int8")));
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("kernels")
  void fastMatchesTheOracle(String kernel, List<String> options) throws Exception {
    CliFixtures.Problem.random(17, 1, 4, 2, 48, 48, 16, 16).write(dir, "<f4");
    double[] fast = run(kernel, options, "-0.45", "fast");
    double[] oracle = run(kernel, options, "-0.45", "reference");
    double[] flipped = run(kernel, options, "0.45", "reference");
    double max = CliFixtures.maxAbs(oracle);
    CliFixtures.assertClose(oracle, fast, 1e-4 * Math.max(1, max) + 1e-5, kernel + " " + options);
    double apart = 0;
    for (int i = 0; i < oracle.length; i++) {
      apart = Math.max(apart, Math.abs(oracle[i] - flipped[i]));
    }
    assertTrue(apart > 1e-2, "scale -0.45 and 0.45 gave the same output");
  }

  private double[] run(String kernel, List<String> options, String scale, String impl)
      throws Exception {
    Path out = dir.resolve(kernel + "-" + impl + scale + ".npy");
    List<String> args = new ArrayList<>(List.of("run", kernel, "--q",
        dir.resolve("q.npy").toString(), "--k", dir.resolve("k.npy").toString(), "--v",
        dir.resolve("v.npy").toString(), "--out", out.toString(), "--scale", scale, "--impl",
        impl, "--out-dtype", "f8", "--threads", "2"));
    args.addAll(options);
    CliFixtures.Run r = CliFixtures.run(args);
    assertEquals(0, r.code(), r.err());
    assertTrue(Files.exists(out));
    return CliFixtures.readDoubles(out);
  }
}
