package dev.attention4j.cli;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionResult;
import dev.attention4j.core.ErrorMetrics;
import dev.attention4j.core.ReferenceAttention;
import dev.attention4j.core.Tensor;
import dev.attention4j.quant.SageAttention;
import dev.attention4j.quant.SageVariant;
import dev.attention4j.simd.SimdAttention;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ForkJoinPool;

/**
 * The quantized family in {@code demo}: every Sage variant on the accuracy workload of
 * SEMANTICS.md at a smaller size (Gaussian Q, K, V with a per-channel K bias N(0, 8^2);
 * B = 1, 4 query heads, 2 KV heads, S = 512, D = 128), against the float64 unquantized oracle,
 * judged by the SEMANTICS.md accuracy table, timed next to the dense kernel.
 */
final class QuantDemo implements FamilyDemo {

  static final long SEED = 7L;
  static final int S = 512;
  static final int D = 128;
  private static final long WARMUP_NANOS = 500_000_000L;

  @Override
  public List<Row> run(int threads) throws Exception {
    SplittableRandom rnd = new SplittableRandom(SEED);
    Tensor q = RandomTensors.gaussian(rnd, 1, 4, S, D);
    Tensor k = RandomTensors.gaussian(rnd, 1, 2, S, D);
    Tensor v = RandomTensors.gaussian(rnd, 1, 2, S, D);
    for (int g = 0; g < 2; g++) {
      for (int c = 0; c < D; c++) {
        double bias = 8 * rnd.nextGaussian();
        for (int j = 0; j < S; j++) {
          k.set(k.getDouble(0, g, j, c) + bias, 0, g, j, c);
        }
      }
    }
    AttentionOptions o = AttentionOptions.defaults();
    Tensor oracle = ReferenceAttention.INSTANCE.forward(q, k, v, o).out();
    ForkJoinPool pool = new ForkJoinPool(threads);
    try {
      SimdAttention dense = new SimdAttention(pool);
      double denseMs = FamilyDemo.medianMs(() -> dense.forward(q, k, v, o), 3, WARMUP_NANOS);
      String caseName = "B1 Hq4 Hkv2 S" + S + " D" + D + " K-bias 8";
      List<Row> rows = new ArrayList<>();
      for (SageVariant variant : SageVariant.values()) {
        SageAttention sage = SageAttention.builder(variant).pool(pool).build();
        AttentionResult[] r = new AttentionResult[1];
        double ms = FamilyDemo.medianMs(() -> r[0] = sage.forward(q, k, v, o),
            sage.usesEngine() ? 3 : 1, sage.usesEngine() ? WARMUP_NANOS : 0);
        ErrorMetrics e = ErrorMetrics.compare(r[0].out(), oracle);
        double[] th = SageBenchCommand.thresholds(variant);
        boolean ok = e.cosine() >= th[0] && e.relativeL1() <= th[1];
        rows.add(new Row(caseName, "sage", variant.id() + (sage.usesEngine() ? "" : " (scalar)"),
            ms, denseMs, e.maxAbs(), e.cosine(), e.relativeL1(), ok));
      }
      return rows;
    } finally {
      pool.shutdownNow();
    }
  }
}
