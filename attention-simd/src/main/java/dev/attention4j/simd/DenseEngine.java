package dev.attention4j.simd;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionShape;
import dev.attention4j.core.DType;
import dev.attention4j.core.Mask;
import dev.attention4j.core.ScoreMod;
import dev.attention4j.core.Tensor;
import dev.attention4j.core.TileClass;
import java.util.Arrays;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.RecursiveAction;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The FlashAttention-2 forward tile loop (Dao 2023, Algorithm 1) of one attention call, shared by
 * the dense kernel and by the kernel families that choose their own key tiles (sparse, decode,
 * quantized). Created once per call for fixed tensors and options; immutable and thread-safe
 * (per-thread scratch is reused across calls).
 *
 * <p><b>Query tiles.</b> The unit of work is a tile of at most {@link #tileRows()} query rows of
 * one batch {@code b} and one KV head {@code g}. Rows are addressed in <em>packed</em>
 * coordinates: {@code p = (h - g * G) * Sq + i} for query head {@code h} of the group of
 * {@code G = Hq / Hkv} heads and query {@code i}, so that with GQA/MQA one pass over a K/V tile
 * serves every query head of the group (decoding with {@code Sq = 1} and 8 heads per group fills
 * 8 lanes of one tile). Without GQA, {@code p = i}.
 *
 * <p><b>Key tiles.</b> {@link #attend} takes the key tiles to visit from the caller, each FULL
 * or PARTIAL ({@link KeyTiles}); {@link #schedule} computes the dense schedule from the options'
 * combined mask ({@link Mask#classify}), skipping EMPTY tiles. {@link #attendRange} computes the
 * partial result {@code (O, LSE)} over keys {@code [k0, k1)} only, which merges with
 * {@link dev.attention4j.core.LseMerge} (split-KV decoding). Keys at or past the valid length
 * ({@code kvLens}) are never read, whatever the tile list says.
 *
 * <p><b>Per key tile</b> (ENGINE.md, the transposed formulation): {@code S^T = K Q^T} with the
 * scale folded into the packed query tile; softcap and ALiBi as vector passes; PARTIAL tiles
 * evaluate the mask per element (band masks analytically, per key row, as a lane-wise compare);
 * a score modifier is applied per element to the visible pairs; then the lane-wise online
 * softmax and {@code O^T = diag(alpha) O^T + V^T P^T}. Accumulation is float32.
 *
 * <p><b>Masked keys never leak.</b> Masked logits become {@code -inf} by a blend (never by a
 * product), hence weight exactly 0. A key row of V holding NaN or Inf in a tile where some
 * weights may be 0 by masking (PARTIAL tiles, or any tile with a score modifier) is taken out of
 * the vector product and added back only to the rows that see it. A row with no visible key gives
 * {@code O = 0} and {@code LSE = -inf}.
 */
public final class DenseEngine {

  /** Keys per key tile. */
  static final int KEY_TILE = 128;

  private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

  private final Lanes lanes;
  private final int br;
  private final int bc;
  private final AttentionShape shape;
  private final int group;
  private final Tensor q;
  private final Tensor k;
  private final Tensor v;
  private final AttentionOptions options;
  private final float scale;
  private final float softcap;
  private final float[] slopes;
  private final ScoreMod scoreMod;
  private final Mask mask;
  private final Mask.Band band;
  private final Mask.Band bandPart;
  private final boolean elementMask;
  private final float[] kData;
  private final float[] vData;

  private DenseEngine(Lanes lanes, AttentionShape shape, Tensor q, Tensor k, Tensor v,
      AttentionOptions options) {
    this.lanes = lanes;
    this.br = Micro.TILE_VECTORS * lanes.species().length();
    this.bc = KEY_TILE;
    this.shape = shape;
    this.group = shape.groupSize();
    this.q = q;
    this.k = k;
    this.v = v;
    this.options = options;
    this.scale = (float) options.scale(shape.headDim());
    this.softcap = (float) options.softcap();
    double[] s = options.alibiSlopes();
    if (s == null) {
      this.slopes = null;
    } else {
      this.slopes = new float[s.length];
      for (int h = 0; h < s.length; h++) {
        this.slopes[h] = (float) s[h];
      }
    }
    this.scoreMod = options.scoreMod();
    this.mask = options.mask();
    // band masks are applied analytically; any other part needs per-element evaluation
    Mask.Band found = null;
    boolean other = false;
    if (mask instanceof Mask.Band b) {
      found = b;
    } else if (mask instanceof Mask.And and) {
      for (Mask m : and.parts()) {
        if (m instanceof Mask.Band b && found == null) {
          found = b;
        } else {
          other = true;
        }
      }
    } else if (mask != null) {
      other = true;
    }
    this.band = other ? null : found;
    this.bandPart = found;
    this.elementMask = other;
    this.kData = directRows(k) ? k.floatData() : null;
    this.vData = directRows(v) ? v.floatData() : null;
  }

  /**
   * An engine for one call, validating the tensors against the options
   * ({@link AttentionShape#of}).
   *
   * @param bits vector width, 128, 256 or 512, or 0 for the preferred width
   * @throws IllegalArgumentException if the shapes disagree or the width is not supported
   */
  public static DenseEngine of(int bits, Tensor q, Tensor k, Tensor v, AttentionOptions options) {
    return create(Lanes.of(bits), q, k, v, null, null, options);
  }

  static DenseEngine create(Lanes lanes, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
      AttentionOptions options) {
    AttentionShape shape = AttentionShape.of(q, k, v, out, lse, options);
    return new DenseEngine(lanes, shape, q, k, v, options);
  }

  /** The validated shape of the call. */
  public AttentionShape shape() {
    return shape;
  }

  /** Most packed query rows per tile ({@code 3 x} the lane count). */
  public int tileRows() {
    return br;
  }

  /** Keys per key tile of the dense schedule (longer ranges are split into tiles this long). */
  public int keyTile() {
    return bc;
  }

  /** Packed query rows per (batch, KV head): {@code (Hq / Hkv) * Sq}. */
  public int packedRows() {
    return group * shape.qLen();
  }

  /** Vector width in bits. */
  public int vectorBits() {
    return lanes.species().vectorBitSize();
  }

  // ---- schedules

  /**
   * The dense schedule of the packed query rows {@code [p0, p1)} of {@code (b, g)} over the keys
   * {@code [k0, k1)}: key tiles of {@link #keyTile()} keys, clipped to the valid key length and
   * to the keys a causal or window band lets the tile's rows see, classified by the options'
   * combined mask (EMPTY tiles left out; all FULL without a mask). A tile spanning several query
   * heads is FULL or EMPTY only if it is for each.
   *
   * @param into cleared, then filled
   */
  public void schedule(int b, int g, int p0, int p1, int k0, int k1, KeyTiles into) {
    into.clear();
    long diag = options.diagonal(b, shape.qLen(), shape.kvLen());
    long lo = Math.max(k0, 0);
    long hi = Math.min(k1, options.kvLen(b, shape.kvLen()));
    if (bandPart != null) {
      // clip to the keys the band lets any row of the tile see, so that the diagonal tile
      // computes few masked logits
      int sq = shape.qLen();
      boolean oneHead = p0 / sq == (p1 - 1) / sq;
      long iMin = oneHead ? p0 % sq : 0;
      long iMax = oneHead ? (p1 - 1) % sq : sq - 1;
      if (bandPart.right() >= 0) {
        hi = Math.min(hi, iMax + diag + bandPart.right() + 1);
      }
      if (bandPart.left() >= 0) {
        lo = Math.max(lo, iMin + diag - bandPart.left());
      }
    }
    for (long j = lo; j < hi; j += bc) {
      int j0 = (int) j;
      int j1 = (int) Math.min(j + bc, hi);
      TileClass c = mask == null ? TileClass.FULL : classify(b, g, p0, p1, j0, j1, diag);
      into.add(j0, j1, c);
    }
  }

  private TileClass classify(int b, int g, int p0, int p1, int j0, int j1, long diag) {
    int sq = shape.qLen();
    TileClass result = null;
    for (int p = p0; p < p1; ) {
      int hl = p / sq;
      int end = Math.min(p1, (hl + 1) * sq);
      TileClass c = mask.classify(b, g * group + hl, p - hl * sq, end - hl * sq, j0, j1, diag);
      result = result == null || result == c ? c : TileClass.PARTIAL;
      p = end;
    }
    return result == null ? TileClass.EMPTY : result;
  }

  // ---- entry points

  /**
   * Attention of the packed query rows {@code [p0, p1)} of {@code (b, g)} over the given key
   * tiles, written to {@code out [B, Hq, Sq, Dv]} and, when non-null, {@code lse [B, Hq, Sq]}
   * (any float dtype and strides). Only those rows are written. PARTIAL tiles evaluate the
   * options' mask per element (with no mask they count as FULL); a FULL tile must really be full.
   * The result is the attention restricted to the listed keys: a partial result if the list does
   * not cover every visible key.
   *
   * @throws IllegalArgumentException if the rows are not a non-empty range of at most
   *     {@link #tileRows()} packed rows
   */
  public void attend(int b, int g, int p0, int p1, KeyTiles tiles, Tensor out, Tensor lse) {
    checkTile(b, g, p0, p1);
    checkOutputs(out, lse);
    run(SCRATCH.get(), b, g, p0, p1, tiles, out, lse);
  }

  /**
   * The partial result of the packed query rows {@code [p0, p1)} of {@code (b, g)} over the keys
   * {@code [k0, k1)} only (dense schedule with the options' mask): {@code O} normalised over those
   * keys and their natural-log {@code LSE}, {@code (0, -inf)} for rows that see none of them.
   * Partials over disjoint key ranges merge with {@link dev.attention4j.core.LseMerge}.
   */
  public void attendRange(int b, int g, int p0, int p1, int k0, int k1, Tensor out,
      Tensor lse) {
    checkTile(b, g, p0, p1);
    checkOutputs(out, lse);
    Scratch s = SCRATCH.get();
    schedule(b, g, p0, p1, k0, k1, s.tiles);
    run(s, b, g, p0, p1, s.tiles, out, lse);
  }

  /**
   * The whole dense forward: every query tile of every (batch, KV head) with its dense schedule,
   * on {@code pool}. Tiles are independent and each is computed by one thread, so the result is
   * bitwise the same for any pool size. On the common pool the calling thread works too (as
   * parallel streams do, since the common pool has one thread fewer than the machine has cores);
   * on any other pool only the pool's threads do.
   */
  public void forward(ForkJoinPool pool, Tensor out, Tensor lse) {
    checkOutputs(out, lse);
    int perGroup = (packedRows() + br - 1) / br;
    long count = (long) shape.batch() * shape.kvHeads() * perGroup;
    if (count == 0) {
      return;
    }
    if (count > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("too many query tiles: " + count);
    }
    int total = (int) count;
    boolean callerHelps = pool == ForkJoinPool.commonPool() && ForkJoinTask.getPool() != pool;
    int workers = (int) Math.min(pool.getParallelism() + (callerHelps ? 1L : 0L), total);
    AtomicInteger next = new AtomicInteger();
    if (workers <= 1) {
      runTiles(next, total, perGroup, out, lse);
    } else if (callerHelps) {
      runWorkers(workers, next, total, perGroup, out, lse);
    } else {
      pool.invoke(new RecursiveAction() {
        @Override
        protected void compute() {
          runWorkers(workers, next, total, perGroup, out, lse);
        }
      });
    }
  }

  /** Forks {@code workers - 1} workers (to the current pool or the common pool) and joins them. */
  private void runWorkers(int workers, AtomicInteger next, int total, int perGroup, Tensor out,
      Tensor lse) {
    RecursiveAction[] forks = new RecursiveAction[workers - 1];
    for (int w = 0; w < forks.length; w++) {
      forks[w] = new RecursiveAction() {
        @Override
        protected void compute() {
          runTiles(next, total, perGroup, out, lse);
        }
      };
      forks[w].fork();
    }
    runTiles(next, total, perGroup, out, lse);
    for (RecursiveAction a : forks) {
      a.join();
    }
  }

  /** Takes tiles from a shared counter until none are left (dynamic, thread-count independent). */
  private void runTiles(AtomicInteger next, int total, int perGroup, Tensor out, Tensor lse) {
    Scratch s = SCRATCH.get();
    int packed = packedRows();
    for (int t; (t = next.getAndIncrement()) < total; ) {
      int bg = t / perGroup;
      // last tiles first: under causal masks they are the heaviest
      int tile = perGroup - 1 - t % perGroup;
      int b = bg / shape.kvHeads();
      int g = bg % shape.kvHeads();
      int p0 = tile * br;
      int p1 = Math.min(p0 + br, packed);
      schedule(b, g, p0, p1, 0, Integer.MAX_VALUE, s.tiles);
      run(s, b, g, p0, p1, s.tiles, out, lse);
    }
  }

  private void checkOutputs(Tensor out, Tensor lse) {
    int[] o = {shape.batch(), shape.qHeads(), shape.qLen(), shape.valueDim()};
    if (out == null || !Arrays.equals(out.shape(), o)) {
      throw new IllegalArgumentException("O has shape "
          + (out == null ? "null" : Arrays.toString(out.shape())) + ", expected "
          + Arrays.toString(o));
    }
    if (lse != null && !Arrays.equals(lse.shape(), Arrays.copyOf(o, 3))) {
      throw new IllegalArgumentException("LSE has shape " + Arrays.toString(lse.shape())
          + ", expected " + Arrays.toString(Arrays.copyOf(o, 3)));
    }
  }

  private void checkTile(int b, int g, int p0, int p1) {
    if (b < 0 || b >= shape.batch() || g < 0 || g >= shape.kvHeads()) {
      throw new IllegalArgumentException("batch " + b + " / KV head " + g + " out of range "
          + shape.batch() + " / " + shape.kvHeads());
    }
    if (p0 < 0 || p1 <= p0 || p1 > packedRows() || p1 - p0 > br) {
      throw new IllegalArgumentException("query rows [" + p0 + ", " + p1 + ") must be a range of"
          + " 1.." + br + " packed rows within [0, " + packedRows() + ")");
    }
  }

  // ---- one query tile

  private void run(Scratch s, int b, int g, int p0, int p1, KeyTiles tiles, Tensor out,
      Tensor lse) {
    int d = shape.headDim();
    int dv = shape.valueDim();
    s.ensure(br, bc, d, dv);
    int rows = p1 - p0;
    int nv = rows <= lanes.species().length() ? 1 : Micro.TILE_VECTORS;
    setupLanes(s, g, p0, rows);
    packQueries(s, b, rows, d);
    Arrays.fill(s.m, 0, br, Float.NEGATIVE_INFINITY);
    Arrays.fill(s.l, 0, br, 0f);
    Arrays.fill(s.ot, 0, dv * br, 0f);
    int kvLen = options.kvLen(b, shape.kvLen());
    long diag = options.diagonal(b, shape.qLen(), shape.kvLen());
    for (int t = 0; t < tiles.size(); t++) {
      int end = Math.min(tiles.end(t), kvLen);
      boolean partial = !tiles.isFull(t) && mask != null;
      for (int j0 = tiles.start(t); j0 < end; j0 += bc) {
        keyTile(s, nv, rows, b, g, j0, Math.min(j0 + bc, end), partial, diag);
      }
    }
    writeRows(s, b, rows, dv, out, lse);
  }

  private void setupLanes(Scratch s, int g, int p0, int rows) {
    int sq = shape.qLen();
    for (int r = 0; r < br; r++) {
      if (r < rows) {
        int p = p0 + r;
        int h = g * group + p / sq;
        s.laneH[r] = h;
        s.laneI[r] = p % sq;
        s.qi[r] = p % sq;
        s.slope[r] = slopes == null ? 0f : slopes[h];
      } else {
        s.laneH[r] = -1;
        s.laneI[r] = -1;
        s.qi[r] = 0f;
        s.slope[r] = 0f;
      }
    }
  }

  /** The transposed query tile, pre-scaled: {@code qt[e * br + r] = scale * Q[b, h_r, i_r, e]}. */
  private void packQueries(Scratch s, int b, int rows, int d) {
    float[] qt = s.qt;
    float[] row = s.row;
    for (int r = 0; r < rows; r++) {
      long base = q.offset() + b * q.stride(0) + s.laneH[r] * q.stride(1)
          + s.laneI[r] * q.stride(2);
      readRow(q, base, d, row, 0);
      for (int e = 0; e < d; e++) {
        qt[e * br + r] = scale * row[e];
      }
    }
    for (int e = 0; e < d; e++) {
      Arrays.fill(qt, e * br + rows, (e + 1) * br, 0f);
    }
  }

  private void keyTile(Scratch s, int nv, int rows, int b, int g, int j0, int j1, boolean partial,
      long diag) {
    int d = shape.headDim();
    int dv = shape.valueDim();
    int cols = j1 - j0;
    // S^T = K Q^T
    float[] ka;
    int ko;
    int ldk;
    if (kData != null) {
      ka = kData;
      ko = rowIndex(k, b, g, j0);
      ldk = (int) k.stride(2);
    } else {
      loadRows(k, b, g, j0, cols, d, s.kbuf);
      ka = s.kbuf;
      ko = 0;
      ldk = d;
    }
    Micro.scores(lanes, nv, ka, ko, ldk, cols, s.qt, d, s.st);
    // softcap, bias, mask
    if (softcap > 0 || slopes != null) {
      Micro.softcapAndAlibi(lanes, nv, s.st, cols, j0, softcap, slopes == null ? null : s.slope,
          s.qi, diag);
    }
    if (scoreMod != null || (partial && elementMask)) {
      maskAndModify(s, rows, b, j0, cols, partial, diag);
    } else if (partial && band != null) {
      Micro.band(lanes, nv, s.st, cols, j0, diag, band.left(), band.right(), s.qi);
    }
    // V operand
    float[] va;
    int vo;
    int ldv;
    if (vData != null) {
      va = vData;
      vo = rowIndex(v, b, g, j0);
      ldv = (int) v.stride(2);
    } else {
      loadRows(v, b, g, j0, cols, dv, s.vbuf);
      va = s.vbuf;
      vo = 0;
      ldv = dv;
    }
    boolean someZero = partial || scoreMod != null;
    if (someZero && !Micro.allFinite(lanes, va, vo, ldv, cols, dv)) {
      guardedValues(s, nv, rows, b, g, j0, cols, va, vo, ldv);
      return;
    }
    Micro.softmax(lanes, nv, s.st, cols, s.m, s.l, s.alpha);
    Micro.values(lanes, nv, va, vo, ldv, cols, s.st, s.ot, dv, s.alpha);
  }

  /** Per-element mask (PARTIAL tiles) and score modifier (visible pairs only). */
  private void maskAndModify(Scratch s, int rows, int b, int j0, int cols, boolean partial,
      long diag) {
    float[] st = s.st;
    for (int c = 0; c < cols; c++) {
      int j = j0 + c;
      for (int r = 0; r < rows; r++) {
        int at = c * br + r;
        int h = s.laneH[r];
        int i = s.laneI[r];
        if (partial && !mask.allows(b, h, i, j, diag)) {
          st[at] = Float.NEGATIVE_INFINITY;
        } else if (scoreMod != null) {
          st[at] = (float) scoreMod.apply(st[at], b, h, i, j);
        }
      }
    }
  }

  /**
   * Softmax and {@code P V} for a tile whose V holds NaN or Inf where some weights may be 0:
   * such key rows are zeroed for the vector product and added back, per query row, only where
   * the logit was not {@code -inf} (so {@code 0 * NaN} never reaches a row that cannot see the
   * key).
   */
  private void guardedValues(Scratch s, int nv, int rows, int b, int g, int j0, int cols,
      float[] va, int vo, int ldv) {
    int dv = shape.valueDim();
    s.ensureGuard(br, bc, dv);
    if (va != s.vbuf) {
      for (int c = 0; c < cols; c++) {
        System.arraycopy(va, vo + c * ldv, s.vbuf, c * dv, dv);
      }
    }
    float[] vb = s.vbuf;
    int bad = 0;
    for (int c = 0; c < cols; c++) {
      if (!Micro.allFinite(lanes, vb, c * dv, dv, 1, dv)) {
        s.badRow[bad] = c;
        System.arraycopy(vb, c * dv, s.badValues, bad * dv, dv);
        System.arraycopy(s.st, c * br, s.badLogits, bad * br, br);
        Arrays.fill(vb, c * dv, (c + 1) * dv, 0f);
        bad++;
      }
    }
    Micro.softmax(lanes, nv, s.st, cols, s.m, s.l, s.alpha);
    Micro.values(lanes, nv, vb, 0, dv, cols, s.st, s.ot, dv, s.alpha);
    for (int t = 0; t < bad; t++) {
      int c = s.badRow[t];
      for (int r = 0; r < rows; r++) {
        if (s.badLogits[t * br + r] == Float.NEGATIVE_INFINITY) {
          continue;
        }
        float p = s.st[c * br + r];
        for (int e = 0; e < dv; e++) {
          s.ot[e * br + r] += p * s.badValues[t * dv + e];
        }
      }
    }
  }

  /** {@code O = acc / l}, {@code LSE = m + ln l}; rows with {@code l == 0} give 0 and -inf. */
  private void writeRows(Scratch s, int b, int rows, int dv, Tensor out, Tensor lse) {
    float[] od = out.dtype() == DType.F32 && out.stride(3) == 1 ? out.floatData() : null;
    for (int r = 0; r < rows; r++) {
      int h = s.laneH[r];
      int i = s.laneI[r];
      float l = s.l[r];
      boolean empty = l == 0f;
      float inv = 1f / l;
      long at = out.offset() + b * out.stride(0) + h * out.stride(1) + i * out.stride(2);
      if (od != null) {
        int o = (int) at;
        for (int e = 0; e < dv; e++) {
          od[o + e] = empty ? 0f : s.ot[e * br + r] * inv;
        }
      } else {
        long s3 = out.stride(3);
        for (int e = 0; e < dv; e++) {
          out.setAt(at + e * s3, empty ? 0f : s.ot[e * br + r] * inv);
        }
      }
      if (lse != null) {
        lse.setAt(lse.offset() + b * lse.stride(0) + h * lse.stride(1) + i * lse.stride(2),
            empty ? Double.NEGATIVE_INFINITY : (double) s.m[r] + Math.log(l));
      }
    }
  }

  // ---- tensor access

  private static boolean directRows(Tensor t) {
    return t.dtype() == DType.F32 && (t.stride(3) == 1 || t.dim(3) == 1)
        && Math.abs(t.stride(2)) < Integer.MAX_VALUE;
  }

  private static int rowIndex(Tensor t, int b, int g, int j) {
    return (int) (t.offset() + b * t.stride(0) + g * t.stride(1) + j * t.stride(2));
  }

  /** Converts {@code rows} rows of {@code t[b, g, j0.., :]} into {@code dst[r * width + e]}. */
  private static void loadRows(Tensor t, int b, int g, int j0, int rows, int width,
      float[] dst) {
    long base = t.offset() + b * t.stride(0) + g * t.stride(1) + j0 * t.stride(2);
    for (int r = 0; r < rows; r++) {
      readRow(t, base + r * t.stride(2), width, dst, r * width);
    }
  }

  /** Converts one row of {@code width} elements starting at storage index {@code at}. */
  private static void readRow(Tensor t, long at, int width, float[] dst, int off) {
    long s3 = t.stride(3);
    int a = (int) at;
    switch (t.dtype()) {
      case F32 -> {
        float[] x = t.floatData();
        if (s3 == 1) {
          System.arraycopy(x, a, dst, off, width);
        } else {
          for (int e = 0; e < width; e++) {
            dst[off + e] = x[(int) (at + e * s3)];
          }
        }
      }
      case F16 -> {
        short[] x = t.shortData();
        if (s3 == 1) {
          for (int e = 0; e < width; e++) {
            dst[off + e] = Float.float16ToFloat(x[a + e]);
          }
        } else {
          for (int e = 0; e < width; e++) {
            dst[off + e] = Float.float16ToFloat(x[(int) (at + e * s3)]);
          }
        }
      }
      case BF16 -> {
        short[] x = t.shortData();
        for (int e = 0; e < width; e++) {
          dst[off + e] = Float.intBitsToFloat((x[(int) (at + e * s3)] & 0xFFFF) << 16);
        }
      }
      case F64 -> {
        double[] x = t.doubleData();
        for (int e = 0; e < width; e++) {
          dst[off + e] = (float) x[(int) (at + e * s3)];
        }
      }
      default -> throw new IllegalStateException("dtype " + t.dtype());
    }
  }

  /** Per-thread scratch, grown on demand and reused across tiles and calls. */
  static final class Scratch {
    float[] qt = new float[0];
    float[] st = new float[0];
    float[] ot = new float[0];
    float[] m = new float[0];
    float[] l = new float[0];
    float[] alpha = new float[0];
    float[] qi = new float[0];
    float[] slope = new float[0];
    int[] laneH = new int[0];
    int[] laneI = new int[0];
    float[] row = new float[0];
    float[] kbuf = new float[0];
    float[] vbuf = new float[0];
    int[] badRow = new int[0];
    float[] badValues = new float[0];
    float[] badLogits = new float[0];
    final KeyTiles tiles = new KeyTiles();

    void ensure(int br, int bc, int d, int dv) {
      if (qt.length < d * br) {
        qt = new float[d * br];
      }
      if (st.length < bc * br) {
        st = new float[bc * br];
      }
      if (ot.length < dv * br) {
        ot = new float[dv * br];
      }
      if (m.length < br) {
        m = new float[br];
        l = new float[br];
        alpha = new float[br];
        qi = new float[br];
        slope = new float[br];
        laneH = new int[br];
        laneI = new int[br];
      }
      if (row.length < d) {
        row = new float[d];
      }
      if (kbuf.length < bc * d) {
        kbuf = new float[bc * d];
      }
      if (vbuf.length < bc * dv) {
        vbuf = new float[bc * dv];
      }
    }

    void ensureGuard(int br, int bc, int dv) {
      if (badRow.length < bc) {
        badRow = new int[bc];
      }
      if (badValues.length < bc * dv) {
        badValues = new float[bc * dv];
      }
      if (badLogits.length < bc * br) {
        badLogits = new float[bc * br];
      }
    }
  }
}
