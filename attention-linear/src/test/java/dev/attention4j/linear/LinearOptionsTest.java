package dev.attention4j.linear;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** What the options print, for logs, and what they reject. */
class LinearOptionsTest {

  @Test
  void toStringShowsEveryOption() {
    assertEquals("LinearOptions[map=elu1, causal=true, normalize=true, decay=null, hybridWindow=0,"
        + " mix=null, scale=1/sqrt(D), chunk=64]",
        LinearOptions.builder(FeatureMap.elu1()).causal(true).build().toString());
    assertEquals("LinearOptions[map=identity, causal=true, normalize=false, decay=[0.5, 0.25],"
        + " hybridWindow=0, mix=null, scale=1/sqrt(D), chunk=16]",
        LinearOptions.builder(FeatureMap.identity()).causal(true).normalize(false)
            .decaySlopes(0.5, 0.25).chunkSize(16).build().toString());
    assertEquals("LinearOptions[map=relu, causal=true, normalize=true, decay=null, hybridWindow=8,"
        + " mix=[0.5], scale=0.125, chunk=64]",
        LinearOptions.builder(FeatureMap.relu()).causal(true).hybrid(8, 0.5).scale(0.125).build()
            .toString());
  }

  @Test
  void aMixingFactorWithoutAWindowNamesTheWindow() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> LinearOptions.builder(FeatureMap.elu1()).causal(true).hybrid(0, 0.5).build());
    assertTrue(e.getMessage().contains("hybrid window >= 1, got 0"), e.getMessage());
  }
}
