package dev.attention4j.sparse;

import dev.attention4j.core.Alignment;
import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionShape;
import dev.attention4j.core.DType;
import dev.attention4j.core.LseMerge;
import dev.attention4j.core.SpareFloats;
import dev.attention4j.core.Tensor;
import dev.attention4j.core.TileClass;
import dev.attention4j.simd.DenseEngine;
import dev.attention4j.simd.KeyTiles;
import dev.attention4j.simd.SimdAttention;

/**
 * MoBA's efficient layout (moba_efficient, kernel-notes §4.2) on the dense engine, for options
 * without position-dependent logits (no ALiBi, no score modifier):
 *
 * <ol>
 *   <li><b>Self pass.</b> Every query attends causally to its own block, on the original Q: query
 *       tiles never cross a block (nor a head, unless every query lies in one block, as when
 *       decoding), the keys are {@code [cur Bk, t]}, and the diagonal tiles use the engine's
 *       analytic causal band (vector compares).</li>
 *   <li><b>Past passes.</b> Per (batch, KV head) and selected strictly-past block {@code c}, the
 *       query rows (of every head of the group) that selected {@code c} are gathered, in
 *       ascending packed-row order, into a compact Q ({@code G Sq (topk - 1)} rows at most, one
 *       (batch, KV head) at a time); tiles of them run against the whole block as one FULL key
 *       range: a past block lies entirely before the query, so there is no mask work at all.</li>
 *   <li><b>Merge.</b> Per query row the self partial and the past partials are merged with
 *       {@link LseMerge} in a fixed order (self, then past blocks ascending).</li>
 * </ol>
 *
 * <p>Which rows share an engine tile depends only on the routing, never on the threads, and each
 * tile is computed by one thread, so the result is bitwise the same for any pool size. Scratch:
 * {@code O(G Sq topk (D + Dv))} floats for the compact rows, plus a float32 copy of O and LSE when
 * the outputs are not float32; never {@code Sq x Sk}.
 */
final class MobaEfficient {

  private MobaEfficient() {
  }

  static void run(SimdAttention simd, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
      AttentionOptions options, AttentionShape s, MobaRouting r, int blockSize,
      SpareFloats scratch, Buffers arrays) {
    int batch = s.batch();
    int hkv = s.kvHeads();
    int group = s.groupSize();
    int sq = s.qLen();
    int sk = s.kvLen();
    int d = s.headDim();
    int dv = s.valueDim();
    int off = sk - sq;
    int width = r.width();
    int packed = group * sq;

    // ---- self pass on the original Q, written straight to float32 outputs when possible
    Tensor selfOut = out.dtype() == DType.F32 ? out
        : Tensor.zeros(DType.F32, batch, s.qHeads(), sq, dv);
    AttentionOptions causal = options.toBuilder().causal(true).alignment(Alignment.BOTTOM_RIGHT)
        .build();
    DenseEngine selfEngine = simd.engine(q, k, v, causal);
    arrays.starts = Buffers.grow(arrays.starts, group * sq + 1);
    int selfTiles = selfTiles(arrays.starts, sq, group, selfEngine.tileRows(), off,
        blockSize) - 1;

    AttentionOptions plain = options.toBuilder().returnLse(false).build();
    int maxRows = packed * Math.max(0, width - 1);
    // compact rows: every row a tile reads is written first (gathered Q, engine O and LSE)
    // (and the self pass's LSE when the caller's is absent or not float32)
    boolean ownLse = lse == null || lse.dtype() != DType.F32;
    long compact = (long) maxRows * (d + dv + 1);
    float[] buf = scratch.take(compact + (ownLse ? (long) batch * s.qHeads() * sq : 0));
    Tensor selfLse = ownLse ? SpareFloats.view(buf, compact, batch, s.qHeads(), sq) : lse;
    Tensor qc = maxRows == 0 ? null : SpareFloats.view(buf, 0, 1, 1, maxRows, d);
    Tensor oc = maxRows == 0 ? null : SpareFloats.view(buf, (long) maxRows * d, 1, 1, maxRows, dv);
    Tensor lc = maxRows == 0 ? null
        : SpareFloats.view(buf, (long) maxRows * (d + dv), 1, 1, maxRows);
    try {
      runGrouped(simd, q, k, v, out, lse, s, r, blockSize, selfOut, selfLse, selfEngine,
          selfTiles, plain, qc, oc, lc, arrays);
    } finally {
      scratch.give(buf);
    }
  }

  private static void runGrouped(SimdAttention simd, Tensor q, Tensor k, Tensor v, Tensor out,
      Tensor lse, AttentionShape s, MobaRouting r, int blockSize, Tensor selfOut, Tensor selfLse,
      DenseEngine selfEngine, int selfTiles, AttentionOptions plain, Tensor qc, Tensor oc,
      Tensor lc, Buffers arrays) {
    int batch = s.batch();
    int hkv = s.kvHeads();
    int group = s.groupSize();
    int sq = s.qLen();
    int sk = s.kvLen();
    int dv = s.valueDim();
    int off = sk - sq;
    int width = r.width();
    int packed = group * sq;
    int br = selfEngine.tileRows();
    int maxRows = packed * Math.max(0, width - 1);
    int blocks = r.blocks();
    int[] selfStarts = arrays.starts;
    int[] count = arrays.count = Buffers.grow(arrays.count, blocks + 1);
    int[] src = arrays.src = Buffers.grow(arrays.src, Math.max(1, maxRows));
    int[] pos = arrays.pos = Buffers.grow(arrays.pos, packed * width);
    int[] pastTiles = arrays.pastTiles = Buffers.grow(arrays.pastTiles,
        Math.max(2, 2 * (maxRows / Math.max(1, br) + blocks + 1)));

    for (int b = 0; b < batch; b++) {
      for (int g = 0; g < hkv; g++) {
        // group the packed rows by selected past block (counting sort, ascending rows)
        java.util.Arrays.fill(count, 0);
        for (int p = 0; p < packed; p++) {
          int h = g * group + p / sq;
          int i = p % sq;
          int cur = (i + off) / blockSize;
          for (int slot = 0; slot < width; slot++) {
            int c = r.slot(b, h, i, slot);
            if (c < 0 || c >= cur) {
              break;
            }
            count[c + 1]++;
          }
        }
        for (int c = 0; c < blocks; c++) {
          count[c + 1] += count[c];
        }
        int[] fill = count.clone();
        for (int p = 0; p < packed; p++) {
          int h = g * group + p / sq;
          int i = p % sq;
          int cur = (i + off) / blockSize;
          for (int slot = 0; slot < width; slot++) {
            int c = r.slot(b, h, i, slot);
            if (c < 0 || c >= cur) {
              break;
            }
            int at = fill[c]++;
            src[at] = p;
            pos[p * width + slot] = at;
          }
        }
        // past tiles: per block, runs of at most br compact rows
        int nPast = 0;
        for (int c = 0; c < blocks; c++) {
          for (int p0 = count[c]; p0 < count[c + 1]; p0 += br) {
            if (2 * nPast + 1 >= pastTiles.length) {
              pastTiles = arrays.pastTiles = java.util.Arrays.copyOf(pastTiles,
                  pastTiles.length * 2);
            }
            pastTiles[2 * nPast] = p0;
            pastTiles[2 * nPast + 1] = c;
            nPast++;
          }
        }
        int bb = b;
        int gg = g;
        int[] pt = pastTiles;
        int past = nPast;
        DenseEngine pastEngine = past == 0 ? null : simd.engine(qc,
            k.slice(0, b, b + 1).slice(1, g, g + 1), v.slice(0, b, b + 1).slice(1, g, g + 1),
            plain);
        Parallel.forEach(simd.pool(), past + selfTiles, t -> {
          KeyTiles tiles = TILES.get();
          tiles.clear();
          if (t < past) {
            int p0 = pt[2 * t];
            int c = pt[2 * t + 1];
            int p1 = Math.min(p0 + br, count[c + 1]);
            gather(q, bb, gg, group, sq, src, p0, p1, qc);
            tiles.add(c * blockSize, (c + 1) * blockSize, TileClass.FULL);
            pastEngine.attend(0, 0, p0, p1, tiles, oc, lc);
          } else {
            int st = t - past;
            int p0 = selfStarts[st];
            int p1 = selfStarts[st + 1];
            int cur = (p0 % sq + off) / blockSize;
            selfEngine.schedule(bb, gg, p0, p1, cur * blockSize,
                Math.min(sk, (cur + 1) * blockSize), tiles);
            selfEngine.attend(bb, gg, p0, p1, tiles, selfOut, selfLse);
          }
        });
        // merge per row: self, then the past blocks in ascending order
        int chunk = 64;
        int chunks = (packed + chunk - 1) / chunk;
        Parallel.forEach(simd.pool(), chunks, ch -> {
          float[] acc = ACC.get();
          if (acc.length < dv) {
            acc = new float[dv];
            ACC.set(acc);
          }
          int p1 = Math.min(packed, (ch + 1) * chunk);
          for (int p = ch * chunk; p < p1; p++) {
            int h = gg * group + p / sq;
            int i = p % sq;
            int cur = (i + off) / blockSize;
            long so = selfOut.offset() + bb * selfOut.stride(0) + h * selfOut.stride(1)
                + i * selfOut.stride(2);
            long s3 = selfOut.stride(3);
            for (int e = 0; e < dv; e++) {
              acc[e] = selfOut.getFloatAt(so + e * s3);
            }
            long lat = selfLse.offset() + bb * selfLse.stride(0) + h * selfLse.stride(1)
                + i * selfLse.stride(2);
            float l = selfLse.getFloatAt(lat);
            int merged = 0;
            for (int slot = 0; slot < width; slot++) {
              int c = r.slot(bb, h, i, slot);
              if (c < 0 || c >= cur) {
                break;
              }
              int at = pos[p * width + slot];
              l = LseMerge.mergeRow(acc, 0, l, oc.floatData(), (int) (oc.offset() + (long) at * dv),
                  lc.floatData()[(int) (lc.offset() + at)], acc,
                  0, dv);
              merged++;
            }
            if (merged == 0 && selfOut == out && (lse == null || selfLse == lse)) {
              continue;
            }
            long oo = out.offset() + bb * out.stride(0) + h * out.stride(1) + i * out.stride(2);
            long o3 = out.stride(3);
            for (int e = 0; e < dv; e++) {
              out.setAt(oo + e * o3, acc[e]);
            }
            if (lse != null) {
              lse.setAt(lse.offset() + bb * lse.stride(0) + h * lse.stride(1)
                  + i * lse.stride(2), l);
            }
          }
        });
      }
    }
  }

  private static final ThreadLocal<KeyTiles> TILES = ThreadLocal.withInitial(KeyTiles::new);
  /** A thread's row accumulator for the merge. */
  private static final ThreadLocal<float[]> ACC = ThreadLocal.withInitial(() -> new float[0]);

  /** Copies the Q rows of compact rows {@code [p0, p1)} into {@code qc} (float32, contiguous). */
  private static void gather(Tensor q, int b, int g, int group, int sq, int[] src, int p0, int p1,
      Tensor qc) {
    int d = q.dim(3);
    float[] dst = qc.floatData();
    boolean direct = q.dtype() == DType.F32 && q.stride(3) == 1;
    for (int p = p0; p < p1; p++) {
      int packedRow = src[p];
      int h = g * group + packedRow / sq;
      int i = packedRow % sq;
      long at = q.offset() + b * q.stride(0) + h * q.stride(1) + i * q.stride(2);
      if (direct) {
        System.arraycopy(q.floatData(), (int) at, dst, (int) (qc.offset() + (long) p * d), d);
      } else {
        for (int e = 0; e < d; e++) {
          dst[p * d + e] = q.getFloatAt(at + e * q.stride(3));
        }
      }
    }
  }

  /**
   * Writes to {@code starts} (at least {@code sq * group + 1} long) the starts of the self-pass
   * query tiles of one (batch, KV head), then the end, and returns how many it wrote: tiles of
   * at most {@code br} packed rows that never cross a query block; they cross heads only when
   * every query lies in the same block (decoding).
   */
  static int selfTiles(int[] starts, int sq, int group, int br, int off, int blockSize) {
    int packed = sq * group;
    int n = 0;
    boolean oneBlock = off / blockSize == (sq - 1 + off) / blockSize;
    if (oneBlock && sq < br) {
      for (int p = 0; p < packed; p += br) {
        starts[n++] = p;
      }
    } else {
      for (int hl = 0; hl < group; hl++) {
        for (int i = 0; i < sq; ) {
          starts[n++] = hl * sq + i;
          int next = ((i + off) / blockSize + 1) * blockSize - off;
          i = Math.min(Math.min(i + br, next), sq);
        }
      }
    }
    starts[n++] = packed;
    return n;
  }

  /**
   * The arrays of a call (K block means, the routing's selection, tile starts, the counting sort
   * of the routed rows, the past tiles), kept by the kernel between calls; any length at least
   * what a call needs.
   */
  static final class Buffers {
    float[] means = new float[0];
    int[] sel = new int[0];
    int[] starts = new int[0];
    int[] count = new int[0];
    int[] src = new int[0];
    int[] pos = new int[0];
    int[] pastTiles = new int[0];

    static int[] grow(int[] a, int n) {
      return a.length >= n ? a : new int[n];
    }
  }
}
