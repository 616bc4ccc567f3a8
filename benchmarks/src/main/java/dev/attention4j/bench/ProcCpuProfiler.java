package dev.attention4j.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.profile.InternalProfiler;
import org.openjdk.jmh.results.AggregationPolicy;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.ScalarResult;

/**
 * A JMH profiler reporting the fork's CPU time per wall time over each iteration, from the user
 * and system times of {@code /proc/self/stat} (all threads of the process, native ones included,
 * in clock ticks of 1/100 s), so that an engine using more cores than the benchmark claims shows:
 * about {@code threads} is expected, 1.0 for one thread. Linux only; elsewhere it reports nothing.
 *
 * <pre>
 * java -jar benchmarks/target/benchmarks.jar DenseBenchmark -prof dev.attention4j.bench.ProcCpuProfiler
 * </pre>
 */
public final class ProcCpuProfiler implements InternalProfiler {

  /** The secondary result's name. */
  public static final String LABEL = "cpu/wall";

  private static final Path STAT = Path.of("/proc/self/stat");
  private static final double TICKS_PER_SECOND = 100;

  private long startTicks = -1;
  private long startNanos;

  @Override
  public String getDescription() {
    return "CPU time (user + system, all threads, /proc/self/stat) per wall time";
  }

  @Override
  public void beforeIteration(BenchmarkParams benchmarkParams, IterationParams iterationParams) {
    startTicks = cpuTicks();
    startNanos = System.nanoTime();
  }

  @Override
  public Collection<? extends Result> afterIteration(BenchmarkParams benchmarkParams,
      IterationParams iterationParams, IterationResult result) {
    long ticks = cpuTicks();
    double wall = (System.nanoTime() - startNanos) / 1e9;
    if (ticks < 0 || startTicks < 0 || wall <= 0) {
      return List.of();
    }
    double ratio = (ticks - startTicks) / TICKS_PER_SECOND / wall;
    return List.of(new ScalarResult(LABEL, ratio, "cores", AggregationPolicy.AVG));
  }

  /** utime + stime of this process in clock ticks, or -1. */
  static long cpuTicks() {
    try {
      String s = Files.readString(STAT);
      // the command name may contain spaces: fields are counted after its closing parenthesis
      String[] f = s.substring(s.lastIndexOf(')') + 2).split(" ");
      return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }
}
