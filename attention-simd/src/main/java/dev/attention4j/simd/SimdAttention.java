package dev.attention4j.simd;

import dev.attention4j.core.AttentionKernel;
import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.PagedKvCache;
import dev.attention4j.core.Tensor;
import java.util.Objects;
import java.util.concurrent.ForkJoinPool;

/**
 * The dense FlashAttention-2 forward on the JDK Vector API: every rule of SEMANTICS.md (causal in
 * both alignments, sliding window, key lengths, softcap, ALiBi, score and mask modifiers,
 * document masks, GQA/MQA), float32 accumulation, any input dtype (F32, F16, BF16, F64) and
 * strides, F32 or F64 outputs with any strides. The tile loop is {@link DenseEngine}; query tiles
 * run in parallel on a {@link ForkJoinPool}, and the output is bitwise the same for any number of
 * threads.
 *
 * <pre>{@code
 * AttentionKernel kernel = new SimdAttention();                    // preferred width, common pool
 * AttentionKernel oneThread = new SimdAttention(new ForkJoinPool(1));
 * AttentionKernel narrow = SimdAttention.withBits(256);            // for tests
 * }</pre>
 */
public final class SimdAttention implements AttentionKernel {

  private final Lanes lanes;
  private final ForkJoinPool pool;

  /**
   * The preferred vector width on {@link ForkJoinPool#commonPool()}; the calling thread works
   * alongside the pool's threads, as for parallel streams.
   */
  public SimdAttention() {
    this(ForkJoinPool.commonPool());
  }

  /** The preferred vector width on {@code pool}, whose threads do all the work. */
  public SimdAttention(ForkJoinPool pool) {
    this(Lanes.of(0), pool);
  }

  /**
   * Throws the {@link IllegalStateException} of {@link #SimdAttention()} (naming
   * {@code --add-modules jdk.incubator.vector}) when the Vector API is not in this JVM; the
   * family modules call it at their entry points, before any vector class loads.
   */
  public static void requireVectorApi() {
    Lanes.requireVectorApi();
  }

  private SimdAttention(Lanes lanes, ForkJoinPool pool) {
    this.lanes = lanes;
    this.pool = Objects.requireNonNull(pool, "pool");
  }

  /**
   * A kernel of a given vector width on the common pool.
   *
   * @param bits 128, 256 or 512 (0 = preferred). Loading a second width into one JVM makes the
   *     kernels slower (the species is no longer a JIT constant): meant for tests
   */
  public static SimdAttention withBits(int bits) {
    return new SimdAttention(Lanes.of(bits), ForkJoinPool.commonPool());
  }

  /** A kernel of a given vector width on {@code pool}. */
  public static SimdAttention withBits(int bits, ForkJoinPool pool) {
    return new SimdAttention(Lanes.of(bits), pool);
  }

  /** Vector width in bits. */
  public int vectorBits() {
    return lanes.species().vectorBitSize();
  }

  /** The pool the query tiles run on. */
  public ForkJoinPool pool() {
    return pool;
  }

  @Override
  public String name() {
    return "simd-" + vectorBits();
  }

  /** The kernel and its parameters, for logs. */
  @Override
  public String toString() {
    return "SimdAttention[" + name() + "]";
  }

  /**
   * {@inheritDoc}
   *
   * <p>Parallel over (batch, KV head, query tile) on this kernel's pool. When the problem has
   * too few query tiles to occupy threads and a long key sequence (decoding: {@code Sq} of a few
   * tokens, {@code Sk} in the thousands), the keys are split into chunks too, decided by the
   * shape alone ({@link DenseEngine#splitKeys()}), so the result does not depend on the pool.
   */
  @Override
  public void forward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
      AttentionOptions options) {
    if (out == null) {
      throw new IllegalArgumentException("out must not be null");
    }
    DenseEngine.create(lanes, q, k, v, out, lse, options).forward(pool, out, lse);
  }

  /**
   * The forward with an explicit split-KV (flash-decoding) chunk length: partial
   * {@code (O, LSE)} per (batch, KV head, query tile, chunk of {@code chunkKeys} keys) in
   * parallel, merged with the LSE merge in chunk order. Bitwise the same for any pool size;
   * within the SEMANTICS.md tolerance of the unsplit forward. {@code chunkKeys <= 0} runs
   * unsplit.
   */
  public void forwardSplitKv(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
      AttentionOptions options, int chunkKeys) {
    if (out == null) {
      throw new IllegalArgumentException("out must not be null");
    }
    DenseEngine.create(lanes, q, k, v, out, lse, options).forwardSplit(pool, out, lse,
        chunkKeys);
  }

  /**
   * Attention of {@code q [B, Hq, Sq, D]} against a paged KV cache, read in place (no gathered
   * copy): batch {@code b} reads sequence {@code seqIds[b]}, whose key length is its cache
   * length (bottom-right alignment uses it, so {@code Sq = 1} is the decode step of the newest
   * token). Every other option works as in {@link #forward}; split-KV is chosen by shape.
   * F32, F16 and BF16 pages (converted per key tile).
   *
   * @param out {@code [B, Hq, Sq, Dv]} with {@code Dv = cache.valueDim()}
   * @param lse {@code [B, Hq, Sq]} or null
   * @throws IllegalArgumentException if {@code options.kvLens()} is set (the lengths come from
   *     the cache), a sequence id does not exist, or the shapes disagree
   */
  public void forwardPaged(Tensor q, PagedKvCache cache, int[] seqIds, Tensor out, Tensor lse,
      AttentionOptions options) {
    if (out == null) {
      throw new IllegalArgumentException("out must not be null");
    }
    DenseEngine.paged(lanes, q, cache, seqIds, out, lse, options).forward(pool, out, lse);
  }

  /**
   * The tile engine of a paged call (see {@link #forwardPaged}), for kernels that choose their
   * own key tiles over a paged cache.
   */
  public DenseEngine pagedEngine(Tensor q, PagedKvCache cache, int[] seqIds,
      AttentionOptions options) {
    return DenseEngine.paged(lanes, q, cache, seqIds, null, null, options);
  }

  /**
   * Attention of {@code q [B, Hq, Sq, D]} against keys and values read from {@code src} one key
   * tile at a time as float32 rows (a quantized KV cache dequantized per tile, for example):
   * batch {@code b} has {@code src.length(b)} keys (bottom-right alignment uses it). Every other
   * option works as in {@link #forward}; split-KV is chosen by shape, and the result is bitwise
   * the same for any pool size.
   *
   * @throws IllegalArgumentException if {@code options.kvLens()} is set or the shapes disagree
   */
  public void forwardSource(Tensor q, KvSource src, Tensor out, Tensor lse,
      AttentionOptions options) {
    if (out == null) {
      throw new IllegalArgumentException("out must not be null");
    }
    DenseEngine.sourced(lanes, q, src, out, lse, options).forward(pool, out, lse);
  }

  /** The tile engine of a {@link #forwardSource} call. */
  public DenseEngine sourceEngine(Tensor q, KvSource src, AttentionOptions options) {
    return DenseEngine.sourced(lanes, q, src, null, null, options);
  }

  /**
   * The tile engine of one call with this kernel's vector width, for kernels that choose their
   * own key tiles or key ranges (sparse, split-KV decoding).
   */
  public DenseEngine engine(Tensor q, Tensor k, Tensor v, AttentionOptions options) {
    return DenseEngine.create(lanes, q, k, v, null, null, options);
  }
}
