package dev.attention4j.cli;

import java.util.Arrays;

/**
 * Wall-clock timing of repeated calls, the one way every {@code bench} command and the demo time
 * a kernel: an untimed warm-up of at least {@code minCalls} calls and at least
 * {@code warmupSeconds} (the JIT compiles the tile loops during it), then {@code reps} timed calls.
 */
final class Timings {

  private Timings() {
  }

  /** The times in ms of {@code reps} timed calls after the warm-up, sorted ascending. */
  static double[] sortedMs(Runnable call, int minCalls, double warmupSeconds, int reps) {
    long warmStart = System.nanoTime();
    for (int c = 0; c < minCalls || System.nanoTime() - warmStart < warmupSeconds * 1e9; c++) {
      call.run();
    }
    double[] ms = new double[reps];
    for (int r = 0; r < reps; r++) {
      long t0 = System.nanoTime();
      call.run();
      ms[r] = (System.nanoTime() - t0) / 1e6;
    }
    Arrays.sort(ms);
    return ms;
  }

  /** The median of sorted times (the mean of the two middle ones for an even count). */
  static double median(double[] sorted) {
    int n = sorted.length;
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }
}
