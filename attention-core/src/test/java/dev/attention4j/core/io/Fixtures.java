package dev.attention4j.core.io;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** Locates the committed fixtures written by {@code fixtures/make_fixtures.py}. */
final class Fixtures {

  private Fixtures() {}

  /** The fixture file called {@code name}. */
  static Path path(String name) {
    URL url = Fixtures.class.getResource("/fixtures/" + name);
    Path p;
    if (url != null && "file".equals(url.getProtocol())) {
      try {
        p = Path.of(url.toURI());
      } catch (URISyntaxException e) {
        throw new IllegalStateException(e);
      }
    } else {
      p = Path.of(System.getProperty("basedir", "."), "src", "test", "resources", "fixtures",
          name);
    }
    assertTrue(Files.isRegularFile(p), "fixture " + name + " not found at " + p);
    return p;
  }

  /** {@code np.arange(n) * step + start}, the value convention of the generator script. */
  static double[] ramp(int n, double step, double start) {
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = i * step + start;
    }
    return v;
  }

  static float[] toFloats(double[] v) {
    float[] f = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      f[i] = (float) v[i];
    }
    return f;
  }

  /** Files in {@code dir} other than those listed (stray temporary files). */
  static List<Path> strayFiles(Path dir, String... expected) throws java.io.IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> !List.of(expected).contains(p.getFileName().toString())).toList();
    }
  }
}
