package dev.attention4j.linear;

import static dev.attention4j.linear.Fixtures.gaussian;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.core.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The analytic gradient against finite differences, and the fit against elu1. */
class HedgehogFitterTest {

  static Stream<Long> seeds() {
    return Stream.of(41L, 42L);
  }

  @ParameterizedTest(name = "seed={0}")
  @MethodSource("seeds")
  void gradientMatchesFiniteDifferences(long seed) {
    System.out.println("gradientMatchesFiniteDifferences seed " + seed);
    SplittableRandom rnd = new SplittableRandom(seed);
    int s = 9;
    int d = 5;
    int f = 4;
    double[] q = new double[s * d];
    double[] k = new double[s * d];
    double[] wq = new double[d * f];
    double[] wk = new double[d * f];
    for (double[] x : new double[][] {q, k}) {
      for (int i = 0; i < x.length; i++) {
        x[i] = 1.5 * rnd.nextGaussian();
      }
    }
    for (double[] x : new double[][] {wq, wk}) {
      for (int i = 0; i < x.length; i++) {
        x[i] = rnd.nextGaussian() / Math.sqrt(d);
      }
    }
    for (boolean causal : new boolean[] {true, false}) {
      double[] gq = new double[d * f];
      double[] gk = new double[d * f];
      double[] out = new double[2];
      HedgehogFitter.headLoss(q, k, s, d, f, wq, wk, causal, gq, gk, out);
      for (int which = 0; which < 2; which++) {
        double[] w = which == 0 ? wq : wk;
        double[] grad = which == 0 ? gq : gk;
        for (int i = 0; i < w.length; i++) {
          double keep = w[i];
          double h = 1e-6;
          w[i] = keep + h;
          double lp = loss(q, k, s, d, f, wq, wk, causal);
          w[i] = keep - h;
          double lm = loss(q, k, s, d, f, wq, wk, causal);
          w[i] = keep;
          double fd = (lp - lm) / (2 * h);
          assertEquals(fd, grad[i], 1e-6 * Math.max(1, Math.abs(fd)),
              (which == 0 ? "wq" : "wk") + "[" + i + "] causal=" + causal);
        }
      }
    }
  }

  private static double loss(double[] q, double[] k, int s, int d, int f, double[] wq,
      double[] wk, boolean causal) {
    double[] out = new double[2];
    HedgehogFitter.headLoss(q, k, s, d, f, wq, wk, causal, new double[d * f], new double[d * f],
        out);
    return out[0];
  }

  /** Spiky softmax heads (logits with standard deviation about 3): fitted Hedgehog vs elu1. */
  @ParameterizedTest(name = "seed={0}")
  @MethodSource("seeds")
  void fitBeatsElu1FiveFold(long seed) {
    System.out.println("fitBeatsElu1FiveFold seed " + seed);
    SplittableRandom rnd = new SplittableRandom(seed);
    int s = 48;
    int d = 16;
    Tensor q = gaussian(rnd, 3, 1, 2, s, d);
    Tensor k = gaussian(rnd, 1, 1, 1, s, d);
    List<String> lines = new ArrayList<>();
    HedgehogFitter.Result r = HedgehogFitter.fit(q, k,
        new HedgehogFitter.Config(32, 200, seed, true, 0.05), lines::add);
    assertEquals(200, lines.size());
    System.out.println(lines.get(0));
    System.out.println(lines.get(lines.size() - 1));
    double elu = HedgehogFitter.distillationLoss(q, k, FeatureMap.elu1(), true)[1];
    double fitted = HedgehogFitter.distillationLoss(q, k, FeatureMap.hedgehog(r.weights()),
        true)[1];
    System.out.println("KL elu1 " + elu + ", fitted hedgehog " + fitted + " (result kl "
        + r.kl() + ")");
    assertEquals(fitted, r.kl(), 1e-9);
    assertTrue(fitted * 5 <= elu, "fitted KL " + fitted + " is not 5x below elu1's " + elu);
  }
}
