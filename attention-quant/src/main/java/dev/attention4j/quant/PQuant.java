package dev.attention4j.quant;

/**
 * Quantization of the scaled softmax weights {@code P~ = exp(s - m) * pScale} of one query row
 * over one key tile, with {@code m} the running maximum of the online softmax (SEMANTICS.md):
 * FP8 E4M3 for sage2 ({@code pScale = 448}, so the row maximum maps to 448) and the two-level
 * NVFP4 for sage3 ({@code pScale = 2688}; per 16 keys aligned to multiples of 16,
 * {@code s = E4M3(max / 6)} and {@code P = E2M1(P~ * (1 / s)) * s}). Shared by the reference
 * pipeline and the fast kernel.
 */
final class PQuant {

  private PQuant() {
  }

  /**
   * Quantizes {@code p[off + c * stride]} for {@code c < n} in place: keys {@code j0 + c}; 16-key
   * blocks start at multiples of 16 ({@code j0} is one).
   */
  static void quantize(SageVariant variant, float[] p, int off, int stride, int n) {
    switch (variant) {
      case SAGE1 -> {
      }
      case SAGE2_INT8, SAGE2_INT4 -> {
        for (int c = 0; c < n; c++) {
          int at = off + c * stride;
          p[at] = MiniFloat.E4M3.decode(MiniFloat.E4M3.encode(p[at], true));
        }
      }
      case SAGE3_NVFP4 -> {
        for (int c0 = 0; c0 < n; c0 += SageVariant.FP4_BLOCK) {
          int c1 = Math.min(n, c0 + SageVariant.FP4_BLOCK);
          float bm = 0f;
          for (int c = c0; c < c1; c++) {
            bm = Math.max(bm, p[off + c * stride]);
          }
          int sc = BlockScales.nvfp4Scale(bm);
          float s = MiniFloat.E4M3.decode(sc);
          float inv = BlockScales.nvfp4Inverse(sc);
          for (int c = c0; c < c1; c++) {
            int at = off + c * stride;
            p[at] = MiniFloat.E2M1.decode(MiniFloat.E2M1.encode(p[at] * inv, true)) * s;
          }
        }
      }
      default -> throw new AssertionError(variant);
    }
  }

  /** Rounds to the FP22 accumulator of FP8 tensor cores: 13 mantissa bits, nearest even. */
  static double fp22(double x) {
    float f = (float) x;
    int bits = Float.floatToRawIntBits(f);
    if ((bits & 0x7F800000) == 0x7F800000) {
      return f;
    }
    int r = (bits + 0x1FF + ((bits >>> 10) & 1)) & ~0x3FF;
    return Float.intBitsToFloat(r);
  }
}
