package dev.attention4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.attention4j.core.Kernels;
import org.junit.jupiter.api.Test;

/**
 * Which kernels a test run gets: the SIMD provider by default (the Vector API module is on the
 * module path), the scalar fallback in the surefire execution that forces it.
 */
class ProviderTest {

  @Test
  void providerIsTheExpectedOne() {
    String forced = System.getProperty(Kernels.PROPERTY, "");
    String expected = forced.equals("scalar") ? "scalar" : "simd";
    assertEquals(expected, Kernels.provider().name(), "attention4j.kernels=" + forced);
    assertEquals(expected, Kernels.dense().name().startsWith("simd-") ? "simd" : "scalar");
  }
}
