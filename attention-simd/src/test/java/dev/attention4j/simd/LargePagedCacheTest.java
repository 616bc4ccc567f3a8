package dev.attention4j.simd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionResult;
import dev.attention4j.core.DType;
import dev.attention4j.core.PagedKvCache;
import dev.attention4j.core.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A float16 paged K/V cache of more than 2^31 elements (K and V together; no single array is
 * larger than a page): decode steps over all of it, and over a sliding window at its end, agree
 * with the float64 reference on the checked heads, whose K/V rows are gathered per head (each
 * head alone fits one array). Needs about 9 GB of heap:
 *
 * <pre>
 * bin/mvn25 -B -pl attention-simd -am verify -Dsurefire.failIfNoSpecifiedTests=false \
 *     -Dtest=LargePagedCacheTest -Dtest.groups.excluded= '-Dtest.jvm.args=-Xss4m -Xmx12g'
 * </pre>
 *
 * It is skipped (with a message) when the heap is smaller.
 */
@Tag("long")
class LargePagedCacheTest {

  static final int HKV = 8;
  static final int HQ = 16;
  static final int D = 128;
  static final int PAGE = 1024;
  static final int CHUNK = 4096;
  // (K + V) elements = 2 * HKV * N * D > 2^31
  static final int N = (int) ((1L << 31) / (2L * HKV * D)) + 3 * CHUNK + 123;

  /** A cheap deterministic value in [-1, 1) for element {@code i} of stream {@code s}. */
  static float value(long s, long i) {
    long x = (i + 1) * 0x9E3779B97F4A7C15L ^ s * 0xC2B2AE3D27D4EB4FL;
    x ^= x >>> 31;
    x *= 0xBF58476D1CE4E5B9L;
    x ^= x >>> 29;
    return (x >>> 40) / (float) (1L << 23) - 1f;
  }

  @Test
  void cacheOfMoreThanTwoToTheThirtyOneElements() {
    long need = 2L * HKV * N * D * 2 + (4L << 30);
    assumeTrue(Runtime.getRuntime().maxMemory() >= need, "needs -Xmx of at least "
        + (need >> 30) + " GB (have " + (Runtime.getRuntime().maxMemory() >> 20) + " MB)");
    long elements = 2L * HKV * N * D;
    assertTrue(elements > Integer.MAX_VALUE);
    System.out.println("LargePagedCacheTest: " + N + " tokens, " + elements + " K+V elements");
    PagedKvCache cache = new PagedKvCache(HKV, D, D, PAGE, N / PAGE + 1, DType.F16);
    int seq = cache.newSequence();
    float[] kb = new float[HKV * CHUNK * D];
    float[] vb = new float[HKV * CHUNK * D];
    for (int t0 = 0; t0 < N; t0 += CHUNK) {
      int n = Math.min(CHUNK, N - t0);
      for (int h = 0; h < HKV; h++) {
        for (int t = 0; t < n; t++) {
          long tok = (long) h * N + t0 + t;
          for (int e = 0; e < D; e++) {
            kb[(h * n + t) * D + e] = value(1, tok * D + e);
            vb[(h * n + t) * D + e] = value(2, tok * D + e);
          }
        }
      }
      cache.append(seq, Tensor.of(kb, HKV * CHUNK * D).slice(0, 0, HKV * n * D)
          .reshape(HKV, n, D), Tensor.of(vb, HKV * CHUNK * D).slice(0, 0, HKV * n * D)
          .reshape(HKV, n, D));
    }
    assertEquals(N, cache.length(seq));
    float[] qd = new float[HQ * D];
    for (int i = 0; i < qd.length; i++) {
      // logits of a few units: the softmax spreads over many keys across the whole cache
      qd[i] = 3f * value(3, i);
    }
    Tensor q = Tensor.of(qd, 1, HQ, 1, D);
    SimdAttention simd = new SimdAttention();
    for (AttentionOptions o : new AttentionOptions[] {AttentionOptions.defaults(),
        AttentionOptions.builder().window(5000, 0).build()}) {
      Tensor out = Tensor.zeros(DType.F32, 1, HQ, 1, D);
      Tensor lse = Tensor.zeros(DType.F32, 1, HQ, 1);
      simd.forwardPaged(q, cache, new int[] {seq}, out, lse, o);
      // the reference on KV heads 0 and HKV - 1 (query heads 0, 1 and HQ - 2, HQ - 1)
      for (int g : new int[] {0, HKV - 1}) {
        Tensor[] kv = gatherHead(cache, seq, g);
        int h0 = g * (HQ / HKV);
        Tensor qg = q.slice(1, h0, h0 + HQ / HKV);
        AttentionResult ref = Support.reference(qg, kv[0], kv[1], o);
        Support.assertClose(ref, new AttentionResult(out.slice(1, h0, h0 + HQ / HKV),
            lse.slice(1, h0, h0 + HQ / HKV)), "KV head " + g + " " + o);
      }
    }
  }

  /** K and V of one KV head as {@code [1, 1, N, D]} float16 tensors copied from the pages. */
  static Tensor[] gatherHead(PagedKvCache c, int seq, int g) {
    int len = c.length(seq);
    short[] k = new short[len * D];
    short[] v = new short[len * D];
    for (int t = 0; t < len; t += PAGE) {
      int n = Math.min(PAGE, len - t);
      int p = c.page(seq, t / PAGE);
      System.arraycopy(c.keyPage(p).shortData(), g * PAGE * D, k, t * D, n * D);
      System.arraycopy(c.valuePage(p).shortData(), g * PAGE * D, v, t * D, n * D);
    }
    return new Tensor[] {Tensor.ofBits(DType.F16, k, 1, 1, len, D),
        Tensor.ofBits(DType.F16, v, 1, 1, len, D)};
  }
}
