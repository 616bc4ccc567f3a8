package dev.attention4j.cli;

import dev.attention4j.core.AttentionKernel;
import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionShape;
import dev.attention4j.core.DType;
import dev.attention4j.core.Kernels;
import dev.attention4j.core.ReferenceAttention;
import dev.attention4j.core.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.Future;
import java.util.function.Function;

/**
 * A softmax kernel bound to a number of threads, for one command. Owns a
 * {@link ForkJoinPool} of that parallelism (closed by {@link #close()}).
 *
 * <ul>
 *   <li>{@link #fastDense}: the SIMD kernel built on this pool (it splits query tiles over it);
 *       any other fast kernel (the scalar fallback) runs inside the pool, so fork/join or
 *       parallel-stream work it might do stays on those threads. Outputs are float32.
 *   <li>{@link #reference}: the float64 oracle, one task per (batch, query head); each task calls
 *       {@link ReferenceAttention} on views of that head, with the ALiBi slope and key length of
 *       that head and batch. Rows are independent, so the result is the same as one call.
 *       Outputs are float64.
 * </ul>
 */
final class KernelRunner implements AutoCloseable {

  private final AttentionKernel kernel;
  private final boolean reference;
  private final boolean usesPool;
  private final ForkJoinPool pool;

  private KernelRunner(Function<ForkJoinPool, AttentionKernel> kernel,
      boolean reference, boolean usesPool, int threads) {
    this.pool = new ForkJoinPool(threads);
    this.kernel = kernel.apply(pool);
    this.reference = reference;
    this.usesPool = usesPool;
  }

  /** The fastest dense kernel of this JVM (SIMD when available), on {@code threads} threads. */
  static KernelRunner fastDense(int threads) {
    if (SimdKernels.inUse()) {
      return new KernelRunner(SimdKernels::dense, false, true, threads);
    }
    return fast(Kernels.dense(), threads);
  }

  /** Any fast kernel (for example the scalar fallback), run inside a pool of {@code threads}. */
  static KernelRunner fast(AttentionKernel kernel, int threads) {
    return new KernelRunner(pool -> kernel, false, false, threads);
  }

  /** The float64 reference, split over (batch, query head) on {@code threads} threads. */
  static KernelRunner reference(int threads) {
    return new KernelRunner(pool -> ReferenceAttention.INSTANCE, true, false, threads);
  }

  /** The dense kernel of an implementation choice. */
  static KernelRunner dense(OptionValues.Impl impl, int threads) {
    return impl == OptionValues.Impl.REFERENCE ? reference(threads) : fastDense(threads);
  }

  /** The kernel's own name, such as {@code simd-256}, {@code scalar} or {@code reference}. */
  String name() {
    return kernel.name();
  }

  boolean isReference() {
    return reference;
  }

  /** The dtype to allocate outputs in: float64 for the reference, float32 otherwise. */
  DType outputDType() {
    return reference ? DType.F64 : DType.F32;
  }

  /** Computes into {@code out} and {@code lse} (may be null), as {@link AttentionKernel#forward}. */
  void forward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, AttentionOptions options) {
    if (usesPool) {
      kernel.forward(q, k, v, out, lse, options);
      return;
    }
    if (!reference || options.documentIds() != null || options.scoreMod() != null
        || options.userMask() != null) {
      await(pool.submit(() -> kernel.forward(q, k, v, out, lse, options)));
      return;
    }
    AttentionShape s = AttentionShape.of(q, k, v, out, lse, options);
    List<Callable<Void>> tasks = new ArrayList<>();
    for (int b = 0; b < s.batch(); b++) {
      for (int h = 0; h < s.qHeads(); h++) {
        int bb = b;
        int hh = h;
        int g = s.kvHead(h);
        AttentionOptions.Builder ob = options.toBuilder();
        if (options.hasAlibi()) {
          ob.alibiSlopes(options.alibiSlope(h));
        }
        if (options.kvLens() != null) {
          ob.kvLens(options.kvLen(b, s.kvLen()));
        }
        AttentionOptions one = ob.build();
        tasks.add(() -> {
          kernel.forward(head(q, bb, hh), head(k, bb, g), head(v, bb, g), head(out, bb, hh),
              lse == null ? null : head(lse, bb, hh), one);
          return null;
        });
      }
    }
    List<Future<Void>> done;
    try {
      done = pool.invokeAll(tasks);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
    for (Future<Void> f : done) {
      await(f);
    }
  }

  private static Tensor head(Tensor t, int b, int h) {
    return t.slice(0, b, b + 1).slice(1, h, h + 1);
  }

  private static void await(Future<?> f) {
    try {
      f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof RuntimeException r) {
        throw r;
      }
      if (c instanceof Error err) {
        throw err;
      }
      throw new IllegalStateException(c);
    }
  }

  @Override
  public void close() {
    pool.shutdownNow();
  }
}
