package dev.attention4j.quant;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.DType;
import dev.attention4j.core.PagedKvCache;
import dev.attention4j.core.Tensor;
import dev.attention4j.simd.SimdAttention;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A bounded-time soak of decode steps with cache appends: sequences of a float16
 * {@link PagedKvCache}, an INT8 and an FP8 {@link QuantizedKvCache} grow one token per step, are
 * read by a decode step each time (paged, or dequantized per tile through a source), and are
 * freed and restarted when they reach their length, so their pages are recycled. The retained
 * heap (used heap after full GCs, {@code totalMemory - freeMemory}; the module does not read
 * {@code java.management}) at the end must not exceed the one after the
 * first cycle by more than a few megabytes. CI runs a short pass; {@link #longSoak} runs
 * {@code -Dattention4j.soak.seconds} (default 300), tagged {@code long}.
 */
class DecodeSoakTest {

  static final long SEED = 0x50A4L;
  static final int HQ = 8;
  static final int HKV = 2;
  static final int D = 64;
  static final int SEQS = 3;
  static final int MAX_LEN = 600;
  static final long ALLOWED_GROWTH = 8L << 20;

  /** One decoder: three caches with SEQS sequences each, stepped together. */
  static final class Decoder {
    final SimdAttention simd = new SimdAttention();
    final PagedKvCache paged = new PagedKvCache(HKV, D, D, 32, SEQS * (MAX_LEN / 32 + 2),
        DType.F16);
    final QuantizedKvCache int8 = new QuantizedKvCache(HKV, D, D, 32, SEQS * (MAX_LEN / 32 + 2),
        QuantizedKvCache.Format.INT8);
    final QuantizedKvCache fp8 = new QuantizedKvCache(HKV, D, D, 64, SEQS * (MAX_LEN / 64 + 2),
        QuantizedKvCache.Format.FP8);
    final int[] seqs = new int[SEQS];
    final SplittableRandom rnd = new SplittableRandom(SEED);
    final AttentionOptions opts = AttentionOptions.builder().returnLse(true).build();
    final Tensor k = Tensor.zeros(DType.F32, HKV, 1, D);
    final Tensor v = Tensor.zeros(DType.F32, HKV, 1, D);
    final Tensor q = Tensor.zeros(DType.F32, SEQS, HQ, 1, D);
    final Tensor out = Tensor.zeros(DType.F32, SEQS, HQ, 1, D);
    final Tensor lse = Tensor.zeros(DType.F32, SEQS, HQ, 1);
    long steps;
    long restarts;

    Decoder() {
      for (int s = 0; s < SEQS; s++) {
        seqs[s] = paged.newSequence();
        int8.newSequence();
        fp8.newSequence();
      }
    }

    void fill(Tensor t) {
      float[] x = t.floatData();
      for (int i = 0; i < x.length; i++) {
        x[i] = (float) (rnd.nextDouble() * 2 - 1);
      }
    }

    /** One step: append a token to every sequence, decode it on all three caches. */
    void step() {
      for (int s = 0; s < SEQS; s++) {
        if (paged.length(s) == MAX_LEN - s * 97) {
          paged.free(s);
          int8.free(s);
          fp8.free(s);
          restarts++;
        }
        fill(k);
        fill(v);
        paged.append(s, k, v);
        int8.append(s, k, v);
        fp8.append(s, k, v);
      }
      fill(q);
      simd.forwardPaged(q, paged, seqs, out, lse, opts);
      check();
      simd.forwardSource(q, int8.source(seqs), out, lse, opts);
      check();
      simd.forwardSource(q, fp8.source(seqs), out, lse, opts);
      check();
      steps++;
    }

    void check() {
      float[] o = out.floatData();
      for (int i = 0; i < o.length; i += 61) {
        if (!Float.isFinite(o[i])) {
          throw new AssertionError("non-finite output at step " + steps);
        }
      }
    }

    void run(long nanos) {
      long end = System.nanoTime() + nanos;
      while (System.nanoTime() < end) {
        step();
      }
    }
  }

  static long retainedHeap() throws InterruptedException {
    Runtime rt = Runtime.getRuntime();
    long best = Long.MAX_VALUE;
    for (int i = 0; i < 4; i++) {
      System.gc();
      Thread.sleep(50);
      best = Math.min(best, rt.totalMemory() - rt.freeMemory());
    }
    return best;
  }

  static void soak(double seconds) throws InterruptedException {
    Decoder dec = new Decoder();
    // warm-up: every sequence reaches its length and restarts once (pages allocated, JIT done)
    while (dec.restarts < 2L * SEQS) {
      dec.step();
    }
    long before = retainedHeap();
    long t0 = System.nanoTime();
    dec.run((long) (seconds * 1e9));
    long after = retainedHeap();
    System.out.printf("DecodeSoakTest seed %d: %d decode steps (x3 caches), %d restarts in %.1f s;"
        + " retained heap %.1f MB -> %.1f MB%n", SEED, dec.steps, dec.restarts,
        (System.nanoTime() - t0) / 1e9, before / 1048576.0, after / 1048576.0);
    assertTrue(after - before <= ALLOWED_GROWTH, "retained heap grew by "
        + (after - before) / 1048576.0 + " MB over " + dec.steps + " steps");
    assertTrue(dec.paged.allocatedPages() <= SEQS * (MAX_LEN / 32 + 2), "pages recycled");
  }

  @Test
  void shortSoak() throws InterruptedException {
    soak(4);
  }

  @Test
  @Tag("long")
  void longSoak() throws InterruptedException {
    soak(Integer.getInteger("attention4j.soak.seconds", 300));
  }
}
