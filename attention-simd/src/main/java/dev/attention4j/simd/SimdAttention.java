package dev.attention4j.simd;

import dev.attention4j.core.AttentionKernel;
import dev.attention4j.core.AttentionOptions;
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

  /**
   * {@inheritDoc}
   *
   * <p>Parallel over (batch, KV head, query tile) on this kernel's pool.
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
   * The tile engine of one call with this kernel's vector width, for kernels that choose their
   * own key tiles or key ranges (sparse, split-KV decoding).
   */
  public DenseEngine engine(Tensor q, Tensor k, Tensor v, AttentionOptions options) {
    return DenseEngine.create(lanes, q, k, v, null, null, options);
  }
}
