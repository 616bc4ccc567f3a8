package dev.attention4j.cli;

import java.util.List;

/**
 * The demo of one kernel family beyond dense (sparse, linear, quantized, decode): runs its kernels
 * on a built-in workload of its own, checks each against the float64 reference of the same
 * computation, times it next to the dense kernel on the same inputs, and returns one row per
 * case. Register an implementation with one line in {@link DemoCommand#FAMILIES}.
 */
interface FamilyDemo {

  /** Runs the family's cases on {@code threads} threads. */
  List<Row> run(int threads) throws Exception;

  /**
   * Median time in ms of {@code reps} calls, after an untimed warm-up of at least 2 calls and at
   * least {@code warmupNanos} ({@link Timings}).
   */
  static double medianMs(Runnable call, int reps, long warmupNanos) {
    return Timings.median(Timings.sortedMs(call, 2, warmupNanos / 1e9, reps));
  }

  /**
   * One demo result.
   *
   * @param caseName the workload
   * @param kernel the family, e.g. {@code "moba"}
   * @param impl the kernel's name
   * @param ms median time of the family's kernel
   * @param denseMs median time of the dense kernel on the same Q, K, V (NaN if not comparable)
   * @param maxAbs max-abs error against the family's float64 reference
   * @param cosine cosine similarity against it
   * @param relativeL1 relative L1 error against it
   * @param ok whether the error is within the family's tolerance (SEMANTICS.md)
   */
  record Row(String caseName, String kernel, String impl, double ms, double denseMs,
      double maxAbs, double cosine, double relativeL1, boolean ok) {}
}
