package dev.attention4j.cli;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.Tensor;
import dev.attention4j.quant.QuantizedKvCache;
import dev.attention4j.simd.SimdAttention;
import java.util.concurrent.ForkJoinPool;
import java.util.function.Supplier;

/**
 * The quantized (INT8 / FP8 E4M3) paged KV cache of {@code bench decode --kv-dtype int8|fp8},
 * read by the SIMD kernel ({@link SimdAttention#forwardSource}), which dequantizes one key tile
 * at a time. Kept apart so the quantized and SIMD classes load only when used.
 */
final class DecodeQuant {

  private final QuantizedKvCache cache;
  private final int[] seqIds;

  private DecodeQuant(QuantizedKvCache cache, int[] seqIds) {
    this.cache = cache;
    this.seqIds = seqIds;
  }

  /**
   * A cache of {@code batch} sequences of {@code len} tokens each, appended in chunks of
   * {@code chunk} tokens from {@code next} ({@code [Hkv, n, D]} then {@code [Hkv, n, Dv]} for
   * every chunk of {@code n} tokens).
   */
  static DecodeQuant create(String kvDtype, int hkv, int d, int dv, int pageSize, int pages,
      int batch, int len, int chunk, java.util.function.IntFunction<Tensor[]> next) {
    QuantizedKvCache.Format f = kvDtype.equals("int8") ? QuantizedKvCache.Format.INT8
        : QuantizedKvCache.Format.FP8;
    QuantizedKvCache cache;
    try {
      cache = new QuantizedKvCache(hkv, d, dv, pageSize, pages, f);
    } catch (IllegalArgumentException e) {
      throw new UsageException(e.getMessage());
    }
    int[] ids = new int[batch];
    for (int b = 0; b < batch; b++) {
      ids[b] = cache.newSequence();
      for (int t = 0; t < len; t += chunk) {
        Tensor[] kv = next.apply(Math.min(chunk, len - t));
        cache.append(ids[b], kv[0], kv[1]);
      }
    }
    return new DecodeQuant(cache, ids);
  }

  /** One decode step on {@code pool}. */
  Runnable step(ForkJoinPool pool, Tensor q, Tensor out, Tensor lse, AttentionOptions options) {
    SimdAttention kernel = new SimdAttention(pool);
    return () -> kernel.forwardSource(q, cache.source(seqIds), out, lse, options);
  }

  /** Bytes of K and V codes and scales one step reads. */
  long bytesRead() {
    return cache.bytesRead(seqIds);
  }

  /** The dequantized cache as contiguous K and V (what the kernel reads). */
  Supplier<Tensor[]> gather() {
    return () -> cache.gather(seqIds);
  }
}
