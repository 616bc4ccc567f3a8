package dev.attention4j.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Provider lookup and the architecture rule: attention-core never reads the Vector API. This
 * module's tests run without attention-simd, so they always get the scalar fallback.
 */
class KernelsTest {

  @Test
  void coreAloneFallsBackToScalar() {
    assertEquals("scalar", Kernels.provider().name());
    assertEquals("scalar", Kernels.dense().name());
  }

  @Test
  void forcedSimdFailsLoudlyWithoutProvider() {
    String old = System.getProperty(Kernels.PROPERTY);
    try {
      System.setProperty(Kernels.PROPERTY, "simd");
      IllegalStateException e = assertThrows(IllegalStateException.class, Kernels::lookup);
      assertTrue(e.getMessage().contains("attention-simd")
          || e.getMessage().contains("--add-modules jdk.incubator.vector"), e.getMessage());
      System.setProperty(Kernels.PROPERTY, "scalar");
      assertEquals("scalar", Kernels.lookup().name());
      System.setProperty(Kernels.PROPERTY, "gpu");
      assertThrows(IllegalStateException.class, Kernels::lookup);
    } finally {
      if (old == null) {
        System.clearProperty(Kernels.PROPERTY);
      } else {
        System.setProperty(Kernels.PROPERTY, old);
      }
    }
  }

  @Test
  void fallbackWarningNamesWhatIsMissing() {
    KernelProvider fake = new KernelProvider() {
      @Override
      public String name() {
        return "fake";
      }

      @Override
      public AttentionKernel dense() {
        return ScalarAttention.INSTANCE;
      }
    };
    ServiceLoader.Provider<KernelProvider> found = new ServiceLoader.Provider<>() {
      @Override
      public Class<? extends KernelProvider> type() {
        return fake.getClass();
      }

      @Override
      public KernelProvider get() {
        return fake;
      }
    };
    List<String> warnings = new ArrayList<>();
    // attention-simd absent: the flag would not help, the warning names the module
    assertEquals("scalar", Kernels.choose("", true, null, warnings).name());
    assertEquals(1, warnings.size());
    assertTrue(warnings.get(0).startsWith("no SIMD kernel provider found: put attention-simd"),
        warnings.get(0));
    // attention-simd present, Vector API not readable: the warning names the flag
    assertEquals("scalar", Kernels.choose("", false, found, warnings).name());
    assertEquals(2, warnings.size());
    assertTrue(warnings.get(1).contains("--add-modules jdk.incubator.vector"), warnings.get(1));
    // both present: the provider, without a warning
    assertEquals("fake", Kernels.choose("", true, found, warnings).name());
    assertEquals("fake", Kernels.choose(" simd ", true, found, warnings).name());
    assertEquals(2, warnings.size());
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> Kernels.choose("simd", true, null, warnings));
    assertTrue(e.getMessage().contains("attention-simd"), e.getMessage());
    e = assertThrows(IllegalStateException.class,
        () -> Kernels.choose("simd", false, found, warnings));
    assertTrue(e.getMessage().contains("--add-modules jdk.incubator.vector"), e.getMessage());
    assertEquals(2, warnings.size());
  }

  @Test
  void coreModuleDoesNotRequireTheVectorApi() {
    Module core = Kernels.class.getModule();
    assertTrue(core.isNamed(), "tests run on the module path");
    assertFalse(core.getDescriptor().requires().stream()
        .anyMatch(r -> r.name().equals("jdk.incubator.vector")));
  }

  @Test
  void coreSourcesNeverImportTheVectorApi() throws IOException {
    Path src = Path.of("src/main/java");
    assertTrue(Files.isDirectory(src), "run from the attention-core module directory");
    try (Stream<Path> files = Files.walk(src)) {
      files.filter(p -> p.toString().endsWith(".java")).forEach(p -> {
        try {
          String text = Files.readString(p);
          assertFalse(text.contains("jdk.incubator.vector.")
              || text.matches("(?s).*requires\\s+(static\\s+)?jdk\\.incubator\\.vector.*"),
              p + " uses the Vector API");
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      });
    }
  }
}
