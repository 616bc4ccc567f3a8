package dev.attention4j.linear;

import dev.attention4j.core.AttentionShape;
import dev.attention4j.core.Tensor;
import dev.attention4j.simd.SimdAttention;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;

/**
 * The fast float32 linear-attention kernel (SEMANTICS.md, "Linear attention"; kernel-notes §6.2):
 * the chunked (Lightning Attention-2) form for causal calls, the associativity form
 * {@code phi(Q) (phi(K)^T V)} for non-causal ones, and the LoLCATs hybrid. Inputs of any dtype and
 * strides in the canonical layout {@code [B, H, S, D]}; GQA (query head {@code h} uses KV head
 * {@code h / (Hq / Hkv)}); no LSE.
 *
 * <p>Causal, per (batch, query head), with chunk size C, feature dim F and the running state
 * {@code S} (F x Dv, float32) and normaliser {@code z} (F): for each chunk of C keys
 * {@code [j0, j0 + C)}, the queries whose position {@code t' = t + Sk - Sq} lies in the chunk get
 * <pre>
 *   intra = ((phi(Q_c) phi(K_c)^T) .* Dmask) V_c     Dmask[r,u] = lambda^(r-u) for u &lt;= r, else 0
 *   inter = diag(lambda^(r+1)) phi(Q_c) S
 *   O_c   = intra + inter   (normalised: / (rowsum(masked A) + phi(Q_c) z + 1e-12))
 * </pre>
 * then {@code S = lambda^C S + (diag(lambda^(C-1-u)) phi(K_c))^T V_c}, {@code z += sum phi(k_u)}.
 * All decay powers are {@code exp(-slope x)} with {@code 0 <= x <= C}, relative within the chunk,
 * so strong decay underflows to 0 and never overflows. The intra-chunk product only covers the
 * visible key columns of each 8-row block (rounded up to whole vectors). The hybrid runs the same
 * loop with the linear part lagged by W keys and adds the sliding-window softmax per row.
 *
 * <p>Cost: {@code O(N (C + F) Dv + N C F)} per head; memory: the tiles of one chunk and one state.
 * The products run on {@link dev.attention4j.simd.TileMatmul}.
 */
public final class LinearAttention {

  private LinearAttention() {
  }

  /**
   * Checks a call without computing: ranks, shapes, GQA, the feature weights, the per-head
   * options.
   *
   * @param out the output, or null to check only the inputs
   * @throws IllegalArgumentException naming the argument and the numbers
   */
  public static AttentionShape check(Tensor q, Tensor k, Tensor v, Tensor out, LinearOptions o) {
    return Rows.check(q, k, v, out, o);
  }

  /**
   * Computes {@code out [B, Hq, Sq, Dv]} on the calling thread. Only {@code out} is modified.
   *
   * @return the multiply-adds performed (feature projections, products, window)
   * @throws IllegalArgumentException for inconsistent shapes or options
   */
  public static long forward(Tensor q, Tensor k, Tensor v, Tensor out, LinearOptions o) {
    return forward(q, k, v, out, o, null);
  }

  /**
   * As {@link #forward(Tensor, Tensor, Tensor, Tensor, LinearOptions)}, with the (batch, head)
   * pairs split over {@code pool} (null: the calling thread).
   */
  public static long forward(Tensor q, Tensor k, Tensor v, Tensor out, LinearOptions o,
      ForkJoinPool pool) {
    SimdAttention.requireVectorApi();
    AttentionShape s = Rows.check(q, k, v, out, o);
    int heads = s.batch() * s.qHeads();
    if (pool == null || pool.getParallelism() == 1 || heads == 1) {
      long macs = 0;
      for (int b = 0; b < s.batch(); b++) {
        for (int h = 0; h < s.qHeads(); h++) {
          ChunkedHead kernel = new ChunkedHead(s, o, h);
          kernel.run(q, k, v, out, b);
          macs += kernel.macs;
        }
      }
      return macs;
    }
    List<Callable<Long>> tasks = new ArrayList<>();
    for (int b = 0; b < s.batch(); b++) {
      for (int h = 0; h < s.qHeads(); h++) {
        int bb = b;
        int hh = h;
        tasks.add(() -> {
          ChunkedHead kernel = new ChunkedHead(s, o, hh);
          kernel.run(q, k, v, out, bb);
          return kernel.macs;
        });
      }
    }
    // submitted and joined (not invokeAll): a call is not interruptible, like the dense
    // engine's; an interrupted caller gets its full result and keeps its interrupt status
    List<ForkJoinTask<Long>> done = new ArrayList<>();
    for (Callable<Long> t : tasks) {
      done.add(pool.submit(t));
    }
    long macs = 0;
    for (ForkJoinTask<Long> f : done) {
      macs += f.join();
    }
    return macs;
  }
}
