package dev.attention4j.cli;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.DType;
import dev.attention4j.core.ErrorMetrics;
import dev.attention4j.core.Tensor;
import dev.attention4j.linear.FeatureMap;
import dev.attention4j.linear.LinearAttention;
import dev.attention4j.linear.LinearOptions;
import dev.attention4j.linear.ReferenceLinearAttention;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ForkJoinPool;

/**
 * The linear family in {@code demo}: causal elu1 and Hedgehog prefill (B = 1, Hq = 4, Hkv = 2,
 * S = 4096, D = 64, chunk 64) timed next to the dense causal kernel on the same inputs. Accuracy
 * is checked on the last 256 query rows against the float64 reference with all 4096 keys
 * (bottom-right, so it covers the whole running state).
 */
final class LinearDemo implements FamilyDemo {

  private static final int HQ = 4;
  private static final int HKV = 2;
  private static final int S = 4096;
  private static final int D = 64;
  private static final int CHECK_ROWS = 256;
  private static final long SEED = 42;
  private static final long WARMUP_NANOS = 800_000_000L;

  @Override
  public List<Row> run(int threads) {
    SplittableRandom rng = new SplittableRandom(SEED);
    Tensor q = RandomTensors.gaussian(rng, 1, HQ, S, D);
    Tensor k = RandomTensors.gaussian(rng, 1, HKV, S, D);
    Tensor v = RandomTensors.gaussian(rng, 1, HKV, S, D);
    double denseMs;
    try (KernelRunner dense = KernelRunner.fastDense(threads)) {
      Tensor o = Tensor.zeros(DType.F32, 1, HQ, S, D);
      AttentionOptions causal = AttentionOptions.builder().causal(true).build();
      denseMs = FamilyDemo.medianMs(() -> dense.forward(q, k, v, o, null, causal), 3,
          WARMUP_NANOS);
    }
    List<Row> rows = new ArrayList<>();
    FeatureMap hedgehog = FeatureMap.hedgehog(LinearBenchCommand.randomWeights(
        new SplittableRandom(SEED + 1), HQ, HKV, D, D / 2));
    for (FeatureMap map : new FeatureMap[] {FeatureMap.elu1(), hedgehog}) {
      LinearOptions o = LinearOptions.builder(map).causal(true).build();
      Tensor out = Tensor.zeros(DType.F32, 1, HQ, S, D);
      double ms;
      try (ForkJoinPool pool = new ForkJoinPool(threads)) {
        ms = FamilyDemo.medianMs(() -> LinearAttention.forward(q, k, v, out, o, pool), 5,
            WARMUP_NANOS);
      }
      Tensor qTail = q.slice(2, S - CHECK_ROWS, S);
      Tensor ref = Tensor.zeros(DType.F64, 1, HQ, CHECK_ROWS, D);
      ReferenceLinearAttention.forward(qTail, k, v, ref, o);
      Tensor got = out.slice(2, S - CHECK_ROWS, S);
      ErrorMetrics m = ErrorMetrics.compare(got, ref);
      double maxRef = 0;
      for (double x : ref.toDoubleArray()) {
        maxRef = Math.max(maxRef, Math.abs(x));
      }
      boolean ok = m.maxAbs() <= 1e-4 * Math.max(1, maxRef) + 1e-5;
      rows.add(new Row("causal S=" + S + " D=" + D, "linear", map.kind().label()
          + " chunked", ms, denseMs, m.maxAbs(), m.cosine(), m.relativeL1(), ok));
    }
    return rows;
  }
}
