package dev.attention4j.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** A non-finite block maximum gives a NaN block scale, never a saturated finite one. */
class NonFiniteScaleTest {

  @Test
  void nvfp4ScaleOfANonFiniteMaximumIsNan() {
    for (float amax : new float[] {Float.NaN, Float.POSITIVE_INFINITY}) {
      int code = BlockScales.nvfp4Scale(amax);
      assertTrue(Float.isNaN(MiniFloat.E4M3.decode(code)), "scale of " + amax);
      assertTrue(Float.isNaN(BlockScales.nvfp4Inverse(code)), "inverse of " + amax);
    }
    // finite maxima still saturate: 1e30 / 6 becomes the largest E4M3 value
    assertEquals(448f, MiniFloat.E4M3.decode(BlockScales.nvfp4Scale(1e30f)));
    assertEquals(0xFF, BlockScales.mxfp4Scale(Float.POSITIVE_INFINITY));
  }
}
