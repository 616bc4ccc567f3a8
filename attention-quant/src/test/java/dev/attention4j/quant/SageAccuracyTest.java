package dev.attention4j.quant;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.core.Alignment;
import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionResult;
import dev.attention4j.core.ErrorMetrics;
import dev.attention4j.core.ReferenceAttention;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The accuracy table of SEMANTICS.md against the float64 unquantized oracle: Gaussian Q, K, V
 * with a per-channel K bias N(0, 8^2), 4 query heads, 2 KV heads. Each variant must meet the
 * thresholds, and must not be far more accurate than a faithful emulation (which would mean a
 * quantization step was skipped): relative L1 above a floor set well under the emulation column.
 */
class SageAccuracyTest {

  static final long SEED = 1234L;

  /** {min cosine, max rel L1, min rel L1 (faithful emulation floor)} per variant. */
  static double[] bounds(SageVariant v) {
    return switch (v) {
      case SAGE1 -> new double[] {0.9995, 0.03, 0.004};
      case SAGE2_INT8 -> new double[] {0.999, 0.05, 0.02};
      case SAGE2_INT4 -> new double[] {0.95, 0.35, 0.10};
      case SAGE3_NVFP4 -> new double[] {0.95, 0.35, 0.10};
    };
  }

  static void check(int s, int d, boolean causal) {
    SageData data = new SageData(SEED, 1, 4, 2, s, s, d, 8.0);
    System.out.println("SageAccuracyTest seed " + SEED + " S=" + s + " D=" + d + " causal="
        + causal);
    AttentionOptions o = AttentionOptions.builder().causal(causal)
        .alignment(Alignment.BOTTOM_RIGHT).build();
    AttentionResult oracle = ReferenceAttention.INSTANCE.forward(data.q, data.k, data.v, o);
    for (SageVariant v : SageVariant.values()) {
      AttentionResult r = SageAttention.builder(v).build().forward(data.q, data.k, data.v, o);
      ErrorMetrics e = ErrorMetrics.compare(r.out(), oracle.out());
      double[] b = bounds(v);
      System.out.printf("  %-12s cos %.5f  rel L1 %.4f%n", v.id(), e.cosine(), e.relativeL1());
      assertTrue(e.cosine() >= b[0], v + " cosine " + e);
      assertTrue(e.relativeL1() <= b[1], v + " rel L1 " + e);
      assertTrue(e.relativeL1() >= b[2], v + " is more accurate than a faithful emulation: " + e);
    }
  }

  @Test
  void smallWorkload() {
    check(256, 128, false);
  }

  @Test
  @Tag("long")
  void semanticsWorkload() {
    check(1024, 128, false);
    check(1024, 128, true);
  }
}
