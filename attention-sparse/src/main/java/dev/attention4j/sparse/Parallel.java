package dev.attention4j.sparse;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.RecursiveAction;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;

/**
 * Runs independent query tiles on a pool, as the dense engine does: a shared counter hands out
 * tile indices, so the work is balanced and every tile is computed by exactly one thread (the
 * result does not depend on the number of threads). On the common pool the calling thread works
 * too; when called from inside another pool's task (like parallel streams) that pool is used.
 */
final class Parallel {
  private Parallel() {
  }

  /** Calls {@code task} once for each index in {@code [0, total)}. */
  static void forEach(ForkJoinPool pool, int total, IntConsumer task) {
    if (total <= 0) {
      return;
    }
    ForkJoinPool p = pool;
    if (p == ForkJoinPool.commonPool() && ForkJoinTask.inForkJoinPool()) {
      p = ForkJoinTask.getPool();
    }
    boolean inside = ForkJoinTask.inForkJoinPool() && ForkJoinTask.getPool() == p;
    boolean callerHelps = inside || p == ForkJoinPool.commonPool();
    int workers = (int) Math.min(p.getParallelism() + (callerHelps && !inside ? 1L : 0L), total);
    AtomicInteger next = new AtomicInteger();
    Runnable drain = () -> {
      for (int t; (t = next.getAndIncrement()) < total; ) {
        task.accept(t);
      }
    };
    if (workers <= 1) {
      drain.run();
    } else if (callerHelps) {
      forkAndRun(workers, drain);
    } else {
      p.invoke(new RecursiveAction() {
        @Override
        protected void compute() {
          forkAndRun(workers, drain);
        }
      });
    }
  }

  private static void forkAndRun(int workers, Runnable drain) {
    RecursiveAction[] forks = new RecursiveAction[workers - 1];
    for (int w = 0; w < forks.length; w++) {
      forks[w] = new RecursiveAction() {
        @Override
        protected void compute() {
          drain.run();
        }
      };
      forks[w].fork();
    }
    drain.run();
    for (RecursiveAction a : forks) {
      a.join();
    }
  }
}
