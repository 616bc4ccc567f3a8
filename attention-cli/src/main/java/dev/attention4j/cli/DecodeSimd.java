package dev.attention4j.cli;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.PagedKvCache;
import dev.attention4j.core.Tensor;
import dev.attention4j.simd.SimdAttention;
import java.util.concurrent.ForkJoinPool;

/**
 * The SIMD kernel's paged decode entry point for {@code bench decode}. Kept apart (like
 * {@link SimdKernels}) so the SIMD classes load only when the SIMD provider is in use.
 */
final class DecodeSimd {

  private DecodeSimd() {
  }

  /** One paged attention call on {@code pool} ({@link SimdAttention#forwardPaged}). */
  static Runnable paged(ForkJoinPool pool, Tensor q, PagedKvCache cache, int[] seqIds,
      Tensor out, Tensor lse, AttentionOptions options) {
    SimdAttention kernel = new SimdAttention(pool);
    return () -> kernel.forwardPaged(q, cache, seqIds, out, lse, options);
  }

  /** The name of the SIMD kernel, such as {@code simd-512}. */
  static String name() {
    return new SimdAttention(ForkJoinPool.commonPool()).name();
  }
}
