package dev.attention4j.bench;

/**
 * Pins the native engines to the benchmark's thread count. The thread pools of OpenMP and of the
 * OpenBLAS bundled with PyTorch read their size from the environment once, when the library
 * loads, and PyTorch's {@code set_num_threads} does not shrink OpenBLAS's pool; a JVM cannot set
 * its own environment, so the JMH fork must be started with {@code OMP_NUM_THREADS},
 * {@code OPENBLAS_NUM_THREADS} and {@code MKL_NUM_THREADS} equal to {@code threads}
 * ({@code bin/bench-report} does it through a {@code -jvm} wrapper script; by hand, set them
 * before {@code java -jar}: the forks inherit the environment). A mismatch fails the
 * trial instead of measuring an unpinned engine.
 */
final class PeerThreads {

  static final String[] VARIABLES = {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"};

  private PeerThreads() {}

  static void requireEnvironment(int threads) {
    for (String name : VARIABLES) {
      String value = System.getenv(name);
      if (value == null || !value.trim().equals(Integer.toString(threads))) {
        throw new IllegalStateException(name + "=" + value + " but threads=" + threads
            + ": start the JMH fork with OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and"
            + " MKL_NUM_THREADS set to " + threads + " (bin/bench-report does it; by hand, prefix the java command with "
            + "OMP_NUM_THREADS=" + threads + " OPENBLAS_NUM_THREADS=" + threads
            + " MKL_NUM_THREADS=" + threads + ")");
      }
    }
  }
}
