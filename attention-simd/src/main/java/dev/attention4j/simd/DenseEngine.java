package dev.attention4j.simd;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionShape;
import dev.attention4j.core.DType;
import dev.attention4j.core.LseMerge;
import dev.attention4j.core.Mask;
import dev.attention4j.core.PagedKvCache;
import dev.attention4j.core.ScoreMod;
import dev.attention4j.core.Tensor;
import dev.attention4j.core.TileClass;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.RecursiveAction;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntConsumer;

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
 * scale (and {@code log2 e} when nothing else sees the logits, {@link #plain}) folded into the
 * packed query tile; softcap and ALiBi as vector passes; PARTIAL tiles
 * evaluate the mask per element (band masks analytically, per key row, as a lane-wise compare);
 * a score modifier is applied per element to the visible pairs; then the lane-wise online
 * softmax and {@code O^T = diag(alpha) O^T + V^T P^T}. Accumulation is float32.
 *
 * <p><b>Hooks.</b> {@link #withHook} adds a {@link TileHook} that sees each key tile's logits
 * (before the mask) and its softmax weights after {@code exp} (before {@code P V}; the row sums
 * are taken from the unmodified weights): a logit bias or quantized P. K and V rows can also come
 * from a {@link KvSource} ({@link SimdAttention#forwardSource}), written to the tile buffer one
 * key tile at a time.
 *
 * <p><b>Masked keys never leak.</b> Masked logits become {@code -inf} by a blend (never by a
 * product), hence weight exactly 0. A key row of V holding NaN or Inf in a tile where some
 * weights may be 0 by masking (PARTIAL tiles, or any tile with a score modifier) is taken out of
 * the vector product and added back only to the rows that see it. A row with no visible key gives
 * {@code O = 0} and {@code LSE = -inf}.
 */
public final class DenseEngine {

  /** {@code ln 2}. */
  private static final double LN2 = Math.log(2);

  /**
   * Keys per key tile. On the project's machine (Intel Xeon, 48 KiB L1d) 64 keys ran 2-6 %
   * faster than 128 at D = 64 and 128 and 6-8 % faster on causal tiles, and 32 or 96 no faster
   * than 64 (docs/BENCHMARKS.md).
   */
  static final int KEY_TILE = 64;

  /**
   * Keys per key tile of query tiles of at most {@link #ROW_MODE_MAX} rows (decoding) over
   * float32 rows read in place, whose per-tile work (the row sums and maxima folded across lanes)
   * wants longer tiles than {@link #KEY_TILE}: 64 keys made the INT8 cache decode 12 % slower
   * than 128.
   */
  static final int ROW_KEY_TILE = 128;

  /**
   * {@link #ROW_KEY_TILE} for K and V that are converted into the tile buffer (float16,
   * bfloat16) or read as 8-bit codes. Measured on the AMD EPYC host (32 query / 8 KV heads,
   * KV 32768, alternating JVMs, two rounds): float16 12.9 / 12.8 ms against 14.6 / 13.9 with 128
   * keys; INT8 codes 8.3 / 8.4 / 9.3 against 8.9 / 8.9 / 9.2 (one more run of each was
   * noisy: 11.6 ± 6.8 against 12.8). Float32 in place showed no difference beyond the host's
   * noise and keeps 128.
   */
  static final int LONG_ROW_KEY_TILE = 256;

  /** Automatic split-KV only below this many query tiles. */
  static final int SPLIT_MAX_ITEMS = 32;

  /** Automatic split-KV aims at about this many work items. */
  static final int SPLIT_TARGET_ITEMS = 64;

  /** Automatic split-KV chunks hold at least this many keys. */
  static final int SPLIT_MIN_KEYS = 1024;

  /** Query tiles of at most this many rows use the decode microkernels (along the head dim). */
  static final int ROW_MODE_MAX = 8;

  /** Pages shorter than this are read through the tile buffer, not in place. */
  static final int MIN_DIRECT_PAGE = 32;

  /**
   * Keys converted at a time into the tile buffer by the row-mode tiles when K or V are not
   * read in place (float16, bfloat16, a {@link KvSource}); a multiple of 16. With 32, K or V of
   * D = 128 takes 16 KiB of buffer, which stays in L1 with the query rows and the logits. Measured
   * on the AMD EPYC host (32 query / 8 KV heads, float16, alternating JVMs, two rounds): 32 keys
   * 1.53 / 1.35 ms at KV 4096 and 13.2 / 13.4 ms at 32768, against 1.91 / 1.78 and
   * 15.3 / 18.9 ms with 64 and 2.54 / 1.86 and 15.0 / 14.6 ms with 128.
   */
  static final int CONVERT_KEYS = 32;

  /**
   * Keys per block of a row-mode tile whose float32 rows are touched ({@link #TOUCH_MIN_BYTES})
   * and then read in place; a multiple of 16. Measured on the AMD EPYC host at KV 4096, two
   * rounds: 64 keys 1.53 / 1.45 ms, 32 keys 1.73 / 1.68 ms.
   */
  static final int SUB_KEYS = 64;

  /**
   * Row-mode calls that read more K and V bytes than this (float32 in place, or 8-bit codes)
   * bring each block of rows in with {@link Micro#touch} just before its product. The right
   * value is the size of the last-level cache the core sees, which Java cannot read, so the
   * default depends on the processor's maker, measured on the project's two kinds of host
   * (32 query / 8 KV heads, D = 128, one thread):
   * <ul>
   *   <li>AMD EPYC (Zen 5, 32 MiB of L3 per core complex): {@value #TOUCH_MIN_BYTES_AMD} bytes.
   *       KV 4096 in float32 (32 MiB) does not stay in the L3, and touching takes it from
   *       2.57-2.61 to 1.61-1.78 ms; from 1024 to 3000 keys (8-23 MiB) it changes nothing
   *       beyond the noise.
   *   <li>Others (Intel Xeon, a larger last-level cache): {@value #TOUCH_MIN_BYTES_OTHER}
   *       bytes. Float32 saves 7-12 % from KV 8192 (64 MiB) up and costs 20 % at 4096 (32 MiB),
   *       whose rows come from the last-level cache, where the arithmetic draws them as fast
   *       itself; INT8 codes save 12 % at KV 32768 (64 MiB) and cost 8 % at 4096 (8 MiB).
   * </ul>
   * The system property {@value #TOUCH_PROPERTY} (a number of bytes) sets it for another
   * machine. Touching reads memory only; results do not depend on it.
   */
  static final long TOUCH_MIN_BYTES;

  /** The system property that sets {@link #TOUCH_MIN_BYTES}. */
  static final String TOUCH_PROPERTY = "attention4j.touchMinBytes";

  static final long TOUCH_MIN_BYTES_AMD = 16L << 20;

  static final long TOUCH_MIN_BYTES_OTHER = 48L << 20;

  static {
    String set = System.getProperty(TOUCH_PROPERTY);
    if (set == null) {
      TOUCH_MIN_BYTES = amdProcessor() ? TOUCH_MIN_BYTES_AMD : TOUCH_MIN_BYTES_OTHER;
    } else {
      try {
        TOUCH_MIN_BYTES = Long.parseLong(set.trim());
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            TOUCH_PROPERTY + ": expected a number of bytes, got '" + set + "'", e);
      }
    }
  }

  /**
   * A query tile (tile mode) that visits at most this many keys in all, in a call whose float32
   * K and V are read in place and hold more than {@link #TILE_TOUCH_MIN_BYTES}, brings each key
   * tile's K and V rows in with {@link Micro#touch} before its products, and its float32 query
   * rows before packing them. Such rows serve few query tiles (windowed and small attention), so
   * they come from memory, and the tight loop of independent loads draws them faster than the
   * products, which read eight rows at a time as they go, or the packing's gathers. Measured on
   * the project's machine (D = 128, one thread, calls with and without alternating in one JVM):
   * 8x8 windows (Swin, 4 096 tokens, 8 heads, 32 MB of K and V) on permuted tokens, K and V
   * touched: median 19.6 ms against 21.1 without; the same through the unpermuted
   * {@code forward}, 28.5 against 30.1; the query rows touched too: 2 % less again (19.3 against
   * 19.7, 17.9 against 18.3); a query tile that follows one over the same key tile on its
   * thread (the second tile of a window) not touching again: 2.5 % less (17.9 against 18.4,
   * 18.0 against 18.5). Touching the output rows before writing them was 3-5 % slower. The 2-D
   * neighborhood 13x13, whose query tiles visit about 360 keys, and dense N = 2048 do not touch.
   */
  static final int TOUCH_MAX_KEYS = 256;

  /**
   * K and V bytes below which tile-mode calls never touch ({@link #TOUCH_MAX_KEYS}): rows that
   * may still sit in the core's 2 MiB L2 from an earlier call cost two to three cycles per line to
   * touch, which the products would have overlapped. Measured: one batch of N = 64, 8 heads
   * (512 KB of K and V), called again and again: 12.2-12.5 ms per 64 calls without touching,
   * 12.9-13.7 with.
   */
  static final long TILE_TOUCH_MIN_BYTES = 8L << 20;

  /**
   * K and V bytes of one (batch, KV head) from which tile-mode query tiles alternate the direction
   * of their key sweep: every other query tile visits its key tiles last to first, so that it
   * starts on the tiles the tile before it read last, which are still in cache, where a second
   * forward sweep would find the cache holding only the tail of the keys and evict its own
   * tiles just ahead of using them. Below it (N = 8192 at D = 128 in float32 is 8 MiB) K and V
   * stay in cache between query tiles anyway and the order is kept, so smaller calls give the
   * same bits as before. The order depends only on the query tile, so results do not depend on
   * the thread count.
   */
  static final long ZIGZAG_MIN_BYTES = 12L << 20;

  /** Keys per block of the per-thread memo of finite value rows ({@link #valuesFinite}). */
  static final int FINITE_BLOCK = 64;
  /** Largest memo (blocks of all (batch, KV head)) kept; beyond it every tile scans its rows. */
  static final int FINITE_MEMO_MAX = 1 << 22;
  /** Source of {@link #callId}. */
  private static final java.util.concurrent.atomic.AtomicLong CALLS =
      new java.util.concurrent.atomic.AtomicLong();

  private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

  private final Lanes lanes;
  private final int br;
  private final int bc;
  /**
   * Keys per key tile in row mode ({@link #ROW_KEY_TILE} or {@link #LONG_ROW_KEY_TILE}, or the
   * hook's tile length).
   */
  private final int bcRows;
  private final AttentionShape shape;
  private final int group;
  private final Tensor q;
  private final AttentionOptions options;
  /** The query scale. */
  private final float scale;
  /** The query scale times {@code log2 e}, for tiles computed in base-2 units ({@link #plain}). */
  private final float scale2;
  /**
   * Whether nothing outside the engine sees or changes a logit: no hook, softcap, ALiBi or score
   * modifier. Then query tiles are first computed with their logits in base-2 units: {@code log2 e}
   * folded into the query scale saves a multiply per logit in the softmax, whose running maxima
   * are then in base 2 too (the LSE is converted back at the end). A tile whose row sums come out
   * NaN is computed again in natural units, which is exact either way: a logit within a factor
   * {@code log2 e} of the float maximum overflows in base 2 only. And FULL tiles hand their raw
   * logits to the softmax, which checks them for infinities during its max pass.
   */
  private final boolean plain;
  private final float softcap;
  private final float[] slopes;
  private final ScoreMod scoreMod;
  private final Mask mask;
  private final Mask.Band band;
  private final Mask.Band bandPart;
  private final boolean elementMask;
  /** The mask when it is a {@link BoxMask} alone (vector compares on PARTIAL tiles). */
  private final BoxMask boxMask;
  private final Rows kRows;
  private final Rows vRows;
  private final boolean rowModeOk;
  /** Whether row-mode tiles touch their K and V rows first ({@link #TOUCH_MIN_BYTES}). */
  private final boolean touchRows;
  /** Whether short tile-mode query tiles touch their rows first ({@link #TOUCH_MAX_KEYS}). */
  private final boolean touchTiles;
  /** Whether odd query tiles sweep their keys backwards ({@link #ZIGZAG_MIN_BYTES}). */
  private final boolean zigzag;
  private final TileHook hook;
  /** The storage row of each query position ({@link #withQueryOrder}), or null for the same. */
  private final int[] queryOrder;
  /** This engine's identity in the threads' scratch (the finite-values memo), never reused. */
  private final long callId = CALLS.incrementAndGet();
  /** {@code {0, br, 2 br, ...}}: the columns of a transposed tile, for gathers and turns. */
  private final int[] stride;

  private DenseEngine(Lanes lanes, AttentionShape shape, Tensor q, Rows kRows, Rows vRows,
      AttentionOptions options, TileHook hook) {
    this(lanes, shape, q, kRows, vRows, options, hook, KEY_TILE,
        kRows.inPlace() && kRows.storedBytes() == 4 ? ROW_KEY_TILE : LONG_ROW_KEY_TILE, null);
  }

  private DenseEngine(Lanes lanes, AttentionShape shape, Tensor q, Rows kRows, Rows vRows,
      AttentionOptions options, TileHook hook, int keyTile, int rowKeyTile, int[] queryOrder) {
    this.hook = hook;
    this.queryOrder = queryOrder;
    this.lanes = lanes;
    this.br = Micro.TILE_VECTORS * lanes.species().length();
    this.stride = new int[lanes.species().length()];
    for (int e = 0; e < stride.length; e++) {
      stride[e] = e * br;
    }
    this.bc = keyTile;
    this.bcRows = rowKeyTile;
    this.shape = shape;
    this.group = shape.groupSize();
    this.q = q;
    this.kRows = kRows;
    this.vRows = vRows;
    int n = lanes.species().length();
    this.rowModeOk = shape.headDim() % n == 0 && shape.valueDim() % n == 0;
    long bytes = kRows.storedBytes();
    this.touchRows = bytes * shape.batch() * shape.kvHeads() * shape.kvLen()
        * (shape.headDim() + shape.valueDim()) > TOUCH_MIN_BYTES;
    this.touchTiles = kRows.inPlace() && vRows.inPlace() && 4L * shape.batch() * shape.kvHeads()
        * shape.kvLen() * (shape.headDim() + shape.valueDim()) > TILE_TOUCH_MIN_BYTES;
    // backwards sweeps need steps that do not depend on where they start (no page cuts), and no
    // hook: a hook may depend on the order (the quantized kernels' P follows the running max)
    this.zigzag = hook == null && !(kRows instanceof PageRows) && !(vRows instanceof PageRows)
        && bytes * shape.kvLen() * (shape.headDim() + shape.valueDim()) >= ZIGZAG_MIN_BYTES;
    this.options = options;
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
    this.plain = hook == null && softcap == 0 && slopes == null && scoreMod == null;
    this.scale = (float) options.scale(shape.headDim());
    this.scale2 = (float) (options.scale(shape.headDim()) / LN2);
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
    this.boxMask = mask instanceof Mask.Custom c && c.mod() instanceof BoxMask box ? box : null;
    if (boxMask != null && (boxMask.queries() < shape.qLen() || boxMask.keys() < shape.kvLen())) {
      throw new IllegalArgumentException("box mask covers " + boxMask.queries() + " queries and "
          + boxMask.keys() + " keys, but Sq = " + shape.qLen() + " and Sk = " + shape.kvLen());
    }
    this.bandPart = found;
    this.elementMask = other;
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
    return new DenseEngine(lanes, shape, q, new TensorRows(k), new TensorRows(v), options,
        null);
  }

  /**
   * This engine with a per-key-tile hook ({@link TileHook}: a logit bias, or the softmax weights
   * transformed before {@code P V}, such as quantized P); null for none. The same call otherwise.
   */
  public DenseEngine withHook(TileHook hook) {
    return new DenseEngine(lanes, shape, q, kRows, vRows, options, hook, bc, bcRows,
        queryOrder);
  }

  /**
   * {@link #withHook(TileHook)} with key tiles of {@code keyTile} keys instead of
   * {@value #KEY_TILE} ({@value #ROW_KEY_TILE} for decoding), for a hook whose work is defined
   * per tile of a given length (P quantized per 128-key tile, for example): the hook then sees
   * tiles that start at multiples of {@code keyTile} and are that long, except where a tile
   * list, the key length or a page end cuts them.
   *
   * @throws IllegalArgumentException unless {@code keyTile} is a positive multiple of 16
   */
  public DenseEngine withHook(TileHook hook, int keyTile) {
    if (keyTile <= 0 || keyTile % 16 != 0) {
      throw new IllegalArgumentException("keyTile must be a positive multiple of 16, got "
          + keyTile);
    }
    return new DenseEngine(lanes, shape, q, kRows, vRows, options, hook, keyTile, keyTile,
        queryOrder);
  }

  /**
   * This engine with its query rows stored in another token order: query position {@code i} of
   * every tile (the positions that masks, key tiles and {@link #attend} use) is read from row
   * {@code order[i]} of Q, and its output and LSE go to row {@code order[i]} of O and LSE. For
   * kernels that tile a permuted token order over Q and O in the caller's order (neighborhood
   * attention on a permuted grid), without copying them. The same call otherwise; null for the
   * identity.
   *
   * @throws IllegalArgumentException if {@code order} does not have {@code Sq} entries, each in
   *     {@code [0, Sq)}
   */
  public DenseEngine withQueryOrder(int[] order) {
    if (order != null) {
      int sq = shape.qLen();
      if (order.length != sq) {
        throw new IllegalArgumentException("query order has " + order.length
            + " entries, Sq = " + sq);
      }
      for (int i = 0; i < sq; i++) {
        if (order[i] < 0 || order[i] >= sq) {
          throw new IllegalArgumentException("query order[" + i + "] = " + order[i]
              + " is outside [0, " + sq + ")");
        }
      }
    }
    return new DenseEngine(lanes, shape, q, kRows, vRows, options, hook, bc, bcRows, order);
  }

  /**
   * An engine that reads K and V straight from the pages of {@code cache}: batch {@code b} reads
   * sequence {@code seqIds[b]}, whose key length is its cache length (the options get those
   * lengths as {@code kvLens}, so bottom-right alignment uses them).
   *
   * @throws IllegalArgumentException if {@code options.kvLens()} is set, a sequence does not
   *     exist, or the shapes disagree
   */
  static DenseEngine paged(Lanes lanes, Tensor q, PagedKvCache cache, int[] seqIds, Tensor out,
      Tensor lse, AttentionOptions options) {
    if (options == null) {
      throw new IllegalArgumentException("options must not be null");
    }
    if (cache == null || seqIds == null) {
      throw new IllegalArgumentException("cache and seqIds must not be null");
    }
    if (options.kvLens() != null) {
      throw new IllegalArgumentException("options.kvLens must be null when reading a paged KV"
          + " cache: the key length of batch b is the cache length of sequence seqIds[b]");
    }
    if (q == null || q.rank() != 4) {
      throw new IllegalArgumentException("Q must be [B, Hq, Sq, D], got "
          + (q == null ? "null" : Arrays.toString(q.shape())));
    }
    if (seqIds.length != q.dim(0)) {
      throw new IllegalArgumentException("seqIds has " + seqIds.length
          + " entries, expected one per batch (" + q.dim(0) + ")");
    }
    int[] lens = new int[seqIds.length];
    int max = 0;
    for (int b = 0; b < seqIds.length; b++) {
      if (seqIds[b] < 0 || seqIds[b] >= cache.sequences()) {
        throw new IllegalArgumentException("seqIds[" + b + "] = " + seqIds[b]
            + " is not a sequence of the cache (0.." + (cache.sequences() - 1) + ")");
      }
      lens[b] = cache.length(seqIds[b]);
      max = Math.max(max, lens[b]);
    }
    int[] seqs = seqIds.clone();
    return withRows(lanes, q, lens, max, cache.kvHeads(), cache.headDim(), cache.valueDim(),
        new PageRows(cache, true, seqs), new PageRows(cache, false, seqs), out, lse, options);
  }

  /**
   * An engine that reads K and V as float32 rows from {@code src}, one key tile at a time;
   * batch {@code b} has {@code src.length(b)} keys (passed as {@code kvLens}, so bottom-right
   * alignment uses them).
   *
   * @throws IllegalArgumentException if {@code options.kvLens()} is set or the shapes disagree
   */
  static DenseEngine sourced(Lanes lanes, Tensor q, KvSource src, Tensor out, Tensor lse,
      AttentionOptions options) {
    if (options == null || src == null) {
      throw new IllegalArgumentException("options and the KV source must not be null");
    }
    if (options.kvLens() != null) {
      throw new IllegalArgumentException("options.kvLens must be null when reading a KV source:"
          + " the key length of batch b is the source's length(b)");
    }
    if (q == null || q.rank() != 4) {
      throw new IllegalArgumentException("Q must be [B, Hq, Sq, D], got "
          + (q == null ? "null" : Arrays.toString(q.shape())));
    }
    if (src.batch() != q.dim(0)) {
      throw new IllegalArgumentException("the KV source has " + src.batch()
          + " batch entries, Q has " + q.dim(0));
    }
    int[] lens = new int[src.batch()];
    int max = 0;
    for (int b = 0; b < lens.length; b++) {
      lens[b] = src.length(b);
      max = Math.max(max, lens[b]);
    }
    return withRows(lanes, q, lens, max, src.kvHeads(), src.headDim(), src.valueDim(),
        new SourceRows(src, true, lanes), new SourceRows(src, false, lanes), out, lse, options);
  }

  /** An engine over K/V rows from elsewhere: shape-only K/V views and {@code kvLens = lens}. */
  private static DenseEngine withRows(Lanes lanes, Tensor q, int[] lens, int max, int kvHeads,
      int d, int dv, Rows kRows, Rows vRows, Tensor out, Tensor lse, AttentionOptions options) {
    if (q.dim(3) != d) {
      throw new IllegalArgumentException("Q head dim " + q.dim(3) + " != cache head dim " + d);
    }
    // shape-only K/V views (zero strides over one element): the rows come from elsewhere
    Tensor one = Tensor.zeros(DType.F32, 1);
    Tensor k = one.view(new int[] {q.dim(0), kvHeads, max, d}, new long[4], 0);
    Tensor v = one.view(new int[] {q.dim(0), kvHeads, max, dv}, new long[4], 0);
    AttentionOptions o = options.toBuilder().kvLens(lens).build();
    AttentionShape shape = AttentionShape.of(q, k, v, out, lse, o);
    return new DenseEngine(lanes, shape, q, kRows, vRows, o, null);
  }

  /** Whether {@code /proc/cpuinfo} names AMD as the processor's maker (false where unreadable). */
  private static boolean amdProcessor() {
    try (var lines = Files.lines(Path.of("/proc/cpuinfo"))) {
      return lines.filter(l -> l.startsWith("vendor_id")).findFirst()
          .map(l -> l.contains("AuthenticAMD")).orElse(false);
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  /** Whether row-mode tiles touch their rows first ({@link #TOUCH_MIN_BYTES}). */
  boolean touchesRows() {
    return touchRows;
  }

  /** The validated shape of the call. */
  public AttentionShape shape() {
    return shape;
  }

  /** Most packed query rows per tile ({@code 3 x} the lane count). */
  public int tileRows() {
    return br;
  }

  /**
   * Keys per key tile of the dense schedule of query tiles of more than {@value #ROW_MODE_MAX}
   * rows (longer ranges are split into tiles this long).
   */
  public int keyTile() {
    return bc;
  }

  /** Keys per key tile of a query tile of {@code rows} packed rows. */
  private int keyTile(int rows) {
    return rowModeOk && rows <= ROW_MODE_MAX ? bcRows : bc;
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
    int step = keyTile(p1 - p0);
    for (long j = lo; j < hi; j += step) {
      int j0 = (int) j;
      int j1 = (int) Math.min(j + step, hi);
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
   * on {@code pool}; when the problem has too few query tiles to keep threads busy and a long
   * key sequence (decoding), the keys are split into chunks as well ({@link #splitKeys()},
   * {@link #forwardSplit}). Tiles and chunks are independent, each computed by one thread, and
   * the split depends only on the shape, so the result is bitwise the same for any pool size.
   * On the common pool the calling thread works too (as parallel streams do, since the common
   * pool has one thread fewer than the machine has cores); on any other pool only the pool's
   * threads do.
   */
  public void forward(ForkJoinPool pool, Tensor out, Tensor lse) {
    forwardSplit(pool, out, lse, splitKeys());
  }

  /**
   * The automatic split-KV chunk length of this problem, or 0 for no split. It depends only on
   * the shape (never on the thread count): a split is made when there are fewer than
   * {@value #SPLIT_MAX_ITEMS} query tiles and at least {@code 2 *} {@value #SPLIT_MIN_KEYS} keys,
   * into at most {@code ceil(}{@value #SPLIT_TARGET_ITEMS}{@code  / tiles)} chunks of at least
   * {@value #SPLIT_MIN_KEYS} keys, rounded up to whole key tiles.
   */
  public int splitKeys() {
    long items = (long) shape.batch() * shape.kvHeads() * queryTilesPerGroup();
    int sk = shape.kvLen();
    if (items == 0 || items >= SPLIT_MAX_ITEMS || sk < 2 * SPLIT_MIN_KEYS) {
      return 0;
    }
    long want = (SPLIT_TARGET_ITEMS + items - 1) / items;
    int chunks = (int) Math.min(want, sk / SPLIT_MIN_KEYS);
    if (chunks <= 1) {
      return 0;
    }
    int len = (sk + chunks - 1) / chunks;
    return (len + bcRows - 1) / bcRows * bcRows;
  }

  /**
   * Split-KV (flash-decoding) forward: the keys {@code [0, Sk)} are cut into chunks of
   * {@code chunkKeys} keys; each (batch, KV head, query tile, chunk) computes a partial
   * {@code (O, LSE)} on {@code pool} ({@code (0, -inf)} for a chunk with no visible key), and the
   * partials of a row are merged with {@link LseMerge} in chunk order. The chunks and the merge
   * order depend only on {@code Sk} and {@code chunkKeys}, so the result is bitwise the same for
   * any pool size. {@code chunkKeys <= 0} or {@code >= Sk} runs unsplit.
   */
  public void forwardSplit(ForkJoinPool pool, Tensor out, Tensor lse, int chunkKeys) {
    checkOutputs(out, lse);
    int perGroup = queryTilesPerGroup();
    long items = (long) shape.batch() * shape.kvHeads() * perGroup;
    if (items == 0) {
      return;
    }
    int sk = shape.kvLen();
    int chunks = chunkKeys <= 0 || chunkKeys >= sk ? 1 : (sk + chunkKeys - 1) / chunkKeys;
    long count = items * chunks;
    if (count > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("too many work items: " + count);
    }
    if (chunks == 1) {
      parallel(pool, (int) count, t -> fullTile(t, perGroup, out, lse));
      return;
    }
    int packed = packedRows();
    int dv = shape.valueDim();
    long rowsAll = (long) shape.batch() * shape.kvHeads() * packed;
    long partialFloats = rowsAll * chunks * dv;
    if (partialFloats > Tensor.MAX_ARRAY_LENGTH) {
      throw new IllegalArgumentException("split-KV partials of " + partialFloats
          + " floats do not fit one array; use longer chunks");
    }
    // every (row, chunk) entry is written before the merge reads it: no clearing needed
    float[] po = take(SPARE_O, partialFloats);
    float[] pl = take(SPARE_L, rowsAll * chunks);
    parallel(pool, (int) count, t -> chunkTile(t, perGroup, chunks, chunkKeys, po, pl));
    int groups = shape.batch() * shape.kvHeads();
    parallel(pool, groups, bg -> mergeGroup(bg, chunks, po, pl, out, lse));
    // given back only after a normal return: after a failure, tasks may still hold them
    give(SPARE_O, po);
    give(SPARE_L, pl);
  }

  /**
   * Split-KV partials kept between calls (process-wide), so that steady-state decoding allocates
   * nothing in proportion to the problem: a call takes a buffer (a new one when it is absent,
   * held by a concurrent call, or too small) and gives it back; two calls never share one.
   */
  private static final AtomicReference<float[]> SPARE_O = new AtomicReference<>();
  private static final AtomicReference<float[]> SPARE_L = new AtomicReference<>();

  private static float[] take(AtomicReference<float[]> spare, long n) {
    float[] b = spare.getAndSet(null);
    return b != null && b.length >= n ? b : new float[(int) n];
  }

  private static void give(AtomicReference<float[]> spare, float[] b) {
    float[] old = spare.getAndSet(b);
    if (old != null && old.length > b.length) {
      spare.compareAndSet(b, old);
    }
  }

  private int queryTilesPerGroup() {
    return (packedRows() + br - 1) / br;
  }

  /** Runs {@code task(0 .. total-1)} on the pool, each index once, taken from a shared counter. */
  private static void parallel(ForkJoinPool pool, int total, IntConsumer task) {
    if (total == 0) {
      return;
    }
    boolean callerHelps = pool == ForkJoinPool.commonPool() && ForkJoinTask.getPool() != pool;
    int workers = (int) Math.min(pool.getParallelism() + (callerHelps ? 1L : 0L), total);
    AtomicInteger next = new AtomicInteger();
    if (workers <= 1) {
      drain(next, total, task);
    } else if (callerHelps) {
      runWorkers(workers, next, total, task);
    } else {
      pool.invoke(new RecursiveAction() {
        @Override
        protected void compute() {
          runWorkers(workers, next, total, task);
        }
      });
    }
  }

  /** Forks {@code workers - 1} workers (to the current pool or the common pool) and joins them. */
  private static void runWorkers(int workers, AtomicInteger next, int total, IntConsumer task) {
    RecursiveAction[] forks = new RecursiveAction[workers - 1];
    for (int w = 0; w < forks.length; w++) {
      forks[w] = new RecursiveAction() {
        @Override
        protected void compute() {
          drain(next, total, task);
        }
      };
      forks[w].fork();
    }
    drain(next, total, task);
    for (RecursiveAction a : forks) {
      a.join();
    }
  }

  /** Takes work items from a shared counter until none are left (thread-count independent). */
  private static void drain(AtomicInteger next, int total, IntConsumer task) {
    for (int t; (t = next.getAndIncrement()) < total; ) {
      task.accept(t);
    }
  }

  /** Query tile {@code t} over all its keys, written to the outputs. */
  private void fullTile(int t, int perGroup, Tensor out, Tensor lse) {
    Scratch s = SCRATCH.get();
    int bg = t / perGroup;
    // last tiles first: under causal masks they are the heaviest
    int tile = perGroup - 1 - t % perGroup;
    int b = bg / shape.kvHeads();
    int g = bg % shape.kvHeads();
    int p0 = tile * br;
    int p1 = Math.min(p0 + br, packedRows());
    schedule(b, g, p0, p1, 0, Integer.MAX_VALUE, s.tiles);
    run(s, b, g, p0, p1, s.tiles, out, lse);
  }

  /** Work item {@code t} of a split: one chunk of one query tile, written to the partials. */
  private void chunkTile(int t, int perGroup, int chunks, int chunkKeys, float[] po, float[] pl) {
    Scratch s = SCRATCH.get();
    int c = t % chunks;
    int item = t / chunks;
    int bg = item / perGroup;
    int tile = perGroup - 1 - item % perGroup;
    int b = bg / shape.kvHeads();
    int g = bg % shape.kvHeads();
    int packed = packedRows();
    int p0 = tile * br;
    int p1 = Math.min(p0 + br, packed);
    long k0 = (long) c * chunkKeys;
    int k1 = (int) Math.min(k0 + chunkKeys, shape.kvLen());
    schedule(b, g, p0, p1, (int) k0, k1, s.tiles);
    compute(s, b, g, p0, p1, s.tiles);
    int dv = shape.valueDim();
    for (int r = 0; r < p1 - p0; r++) {
      int row = (bg * packed + p0 + r) * chunks + c;
      float l = s.l[r];
      boolean empty = l == 0f;
      float inv = 1f / l;
      int o = row * dv;
      if (s.rowMode) {
        for (int e = 0; e < dv; e++) {
          po[o + e] = empty ? 0f : s.or[r * dv + e] * inv;
        }
      } else {
        for (int e = 0; e < dv; e++) {
          po[o + e] = empty ? 0f : s.ot[e * br + r] * inv;
        }
      }
      // a partial that saw a NaN or Inf key or value is NaN, and so is the merged row
      boolean finite = Micro.nanUnlessFinite(lanes, po, o, dv);
      pl[row] = !finite ? Float.NaN
          : empty ? Float.NEGATIVE_INFINITY : (float) (logit(s, r) + Math.log(l));
    }
  }

  /** The running maximum of row {@code r} in natural units ({@link Scratch#rowLog2}). */
  private static double logit(Scratch s, int r) {
    return s.rowLog2[r] ? s.m[r] * LN2 : s.m[r];
  }

  /** Merges the chunk partials of every packed row of (b, g) in chunk order. */
  private void mergeGroup(int bg, int chunks, float[] po, float[] pl, Tensor out, Tensor lse) {
    Scratch s = SCRATCH.get();
    int dv = shape.valueDim();
    int packed = packedRows();
    int sq = shape.qLen();
    int b = bg / shape.kvHeads();
    int g = bg % shape.kvHeads();
    if (s.merged.length < dv) {
      s.merged = new float[dv];
    }
    float[] acc = s.merged;
    for (int p = 0; p < packed; p++) {
      int row0 = (bg * packed + p) * chunks;
      System.arraycopy(po, row0 * dv, acc, 0, dv);
      float l = pl[row0];
      for (int c = 1; c < chunks; c++) {
        l = LseMerge.mergeRow(acc, 0, l, po, (row0 + c) * dv, pl[row0 + c], acc, 0, dv);
      }
      int h = g * group + p / sq;
      int i = queryRow(p % sq);
      long at = out.offset() + b * out.stride(0) + h * out.stride(1) + i * out.stride(2);
      long s3 = out.stride(3);
      for (int e = 0; e < dv; e++) {
        out.setAt(at + e * s3, acc[e]);
      }
      if (lse != null) {
        lse.setAt(lse.offset() + b * lse.stride(0) + h * lse.stride(1) + i * lse.stride(2), l);
      }
    }
  }

  /** Checks the output shapes (per tile too, so without allocating unless they are wrong). */
  private void checkOutputs(Tensor out, Tensor lse) {
    int[] o;
    if (!hasShape(out, 4)) {
      o = new int[] {shape.batch(), shape.qHeads(), shape.qLen(), shape.valueDim()};
      throw new IllegalArgumentException("O has shape "
          + (out == null ? "null" : Arrays.toString(out.shape())) + ", expected "
          + Arrays.toString(o));
    }
    if (lse != null && !hasShape(lse, 3)) {
      o = new int[] {shape.batch(), shape.qHeads(), shape.qLen()};
      throw new IllegalArgumentException("LSE has shape " + Arrays.toString(lse.shape())
          + ", expected " + Arrays.toString(o));
    }
  }

  /** Whether {@code t} is {@code [B, Hq, Sq, Dv]} (rank 4) or {@code [B, Hq, Sq]} (rank 3). */
  private boolean hasShape(Tensor t, int rank) {
    return t != null && t.rank() == rank && t.dim(0) == shape.batch()
        && t.dim(1) == shape.qHeads() && t.dim(2) == shape.qLen()
        && (rank == 3 || t.dim(3) == shape.valueDim());
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
    compute(s, b, g, p0, p1, tiles);
    writeRows(s, b, p1 - p0, shape.valueDim(), out, lse);
  }

  /**
   * The online softmax of the rows {@code [p0, p1)} over the tiles, left unnormalised in the
   * scratch ({@code m}, {@code l} and the accumulator {@code ot}, or {@code or} in row mode).
   * Tiles of at most {@link #ROW_MODE_MAX} rows (decoding) use the row-mode microkernels, which
   * vectorise along the head dim instead of along the query rows.
   */
  private void compute(Scratch s, int b, int g, int p0, int p1, KeyTiles tiles) {
    int rows = p1 - p0;
    s.log2 = plain;
    computeIn(s, b, g, p0, p1, tiles);
    if (s.rowLog2.length < br) {
      s.rowLog2 = new boolean[br];
    }
    Arrays.fill(s.rowLog2, 0, rows, plain);
    if (!plain) {
      return;
    }
    boolean again = false;
    for (int r = 0; r < rows; r++) {
      again |= Float.isNaN(s.l[r]);
    }
    if (again) {
      recompute(s, b, g, p0, p1, tiles);
    }
  }

  /**
   * The rare path of {@link #compute}: some rows of a tile computed in base 2 came out NaN, from
   * a NaN or Inf in their keys or from a logit that overflows in base 2 only. The tile is computed
   * again in natural units, and the rows that were right keep their first result, so that a
   * non-finite key never changes a row that does not see it, not even in its last bit.
   */
  private void recompute(Scratch s, int b, int g, int p0, int p1, KeyTiles tiles) {
    int rows = p1 - p0;
    int dv = shape.valueDim();
    boolean rowMode = s.rowMode;
    float[] acc = rowMode ? s.or : s.ot;
    int size = rowMode ? Micro.rowGroups(rows) * Micro.ROW_GROUP * dv : dv * br;
    if (s.keptAcc.length < size) {
      s.keptAcc = new float[size];
    }
    if (s.keptM.length < rows) {
      s.keptM = new float[br];
      s.keptL = new float[br];
    }
    System.arraycopy(acc, 0, s.keptAcc, 0, size);
    System.arraycopy(s.m, 0, s.keptM, 0, rows);
    System.arraycopy(s.l, 0, s.keptL, 0, rows);
    s.log2 = false;
    computeIn(s, b, g, p0, p1, tiles);
    for (int r = 0; r < rows; r++) {
      if (Float.isNaN(s.keptL[r])) {
        s.rowLog2[r] = false;
        continue;
      }
      s.m[r] = s.keptM[r];
      s.l[r] = s.keptL[r];
      for (int e = 0; e < dv; e++) {
        int at = rowMode ? r * dv + e : e * br + r;
        acc[at] = s.keptAcc[at];
      }
    }
  }

  /** {@link #compute} in the units of {@code s.log2}. */
  private void computeIn(Scratch s, int b, int g, int p0, int p1, KeyTiles tiles) {
    int d = shape.headDim();
    int dv = shape.valueDim();
    int n = lanes.species().length();
    s.ensure(br, Math.max(bc, bcRows), d, dv, n);
    int rows = p1 - p0;
    boolean rowMode = rowModeOk && rows <= ROW_MODE_MAX;
    s.rowMode = rowMode;
    s.p0 = p0;
    int nv = Math.min(Micro.TILE_VECTORS, (rows + n - 1) / n);
    setupLanes(s, g, p0, rows);
    if (boxMask != null) {
      boxLanes(s, rows);
    }
    int kvLen = options.kvLen(b, shape.kvLen());
    s.touchTile = touchTiles && !rowMode && visited(tiles, kvLen) <= TOUCH_MAX_KEYS;
    if (rowMode) {
      packRows(s, b, rows, d);
      Arrays.fill(s.or, 0, Micro.rowGroups(rows) * Micro.ROW_GROUP * dv, 0f);
      Arrays.fill(s.st, 0, bcRows * br, 0f);
    } else {
      packQueries(s, b, rows, d);
      Arrays.fill(s.ot, 0, dv * br, 0f);
    }
    Arrays.fill(s.m, 0, br, Float.NEGATIVE_INFINITY);
    Arrays.fill(s.l, 0, br, 0f);
    long diag = options.diagonal(b, shape.qLen(), shape.kvLen());
    // FULL tiles of a call without hook or logit modifiers take the row-major decode path
    boolean rowPlain = rowMode && plain;
    int step = rowMode ? bcRows : bc;
    if (zigzag && !rowMode && (p0 / br & 1) == 1) {
      // the forward sweep's steps, last first (cut() is the identity here)
      for (int t = tiles.size() - 1; t >= 0; t--) {
        int start = tiles.start(t);
        int end = Math.min(tiles.end(t), kvLen);
        boolean partial = !tiles.isFull(t) && mask != null;
        for (int k = (end - start + step - 1) / step - 1; k >= 0; k--) {
          int j0 = start + k * step;
          keyTile(s, nv, rows, b, g, j0, Math.min(j0 + step, end), partial, diag);
        }
      }
      return;
    }
    for (int t = 0; t < tiles.size(); t++) {
      int end = Math.min(tiles.end(t), kvLen);
      boolean partial = !tiles.isFull(t) && mask != null;
      for (int j0 = tiles.start(t), j1; j0 < end; j0 = j1) {
        j1 = kRows.cut(b, j0, Math.min(j0 + step, end));
        j1 = vRows.cut(b, j0, j1);
        if (rowPlain && !partial) {
          rowTile(s, rows, b, g, j0, j1);
        } else {
          keyTile(s, nv, rows, b, g, j0, j1, partial, diag);
        }
      }
    }
  }

  /** The storage row of query position {@code i} ({@link #withQueryOrder}). */
  private int queryRow(int i) {
    return queryOrder == null ? i : queryOrder[i];
  }

  /** The keys that {@code tiles} visit below {@code kvLen}. */
  private static int visited(KeyTiles tiles, int kvLen) {
    int keys = 0;
    for (int t = 0; t < tiles.size(); t++) {
      keys += Math.max(0, Math.min(tiles.end(t), kvLen) - tiles.start(t));
    }
    return keys;
  }

  /**
   * A FULL key tile in row mode, without hook, softcap, ALiBi or score modifier (decoding): the
   * logits are kept row-major ({@link Micro#scoresRowMajor}), so the softmax runs with the keys
   * along the lanes (no lane is wasted on absent query rows) and {@code P V} reads each
   * probability as a broadcast. K and V are read in place when they can be, else converted
   * {@value #CONVERT_KEYS} keys at a time into a buffer that stays in L1. The 8-bit codes of a
   * {@link CodeKvSource} are read in place and decoded in registers: the logits of the codes
   * times the key scales, and {@code P} times the value codes with the channel scales applied
   * once per output element and run of keys.
   */
  private void rowTile(Scratch s, int rows, int b, int g, int j0, int j1) {
    int d = shape.headDim();
    int dv = shape.valueDim();
    int cols = j1 - j0;
    int groups = Micro.rowGroups(rows);
    int n = lanes.species().length();
    float[] sr = s.sr;
    // 8-bit codes read in place and decoded in registers, or float32 rows
    CodeKvSource codes = kRows instanceof SourceRows src ? src.codes : null;
    boolean fp8 = codes != null && codes.codes() == CodeKvSource.Codes.FP8_E4M3;
    int kind = fp8 ? Micro.FP8 : Micro.INT8;
    CodeKvSource.CodeRun run = s.run;
    // float32 rows read in place, or 8-bit codes, from a large cache: each block of rows
    // (SUB_KEYS floats, a run of codes) is first brought in by a tight loop, then used while it
    // is in L1
    boolean touch = touchRows && (codes != null || kRows.inPlace() && vRows.inPlace());
    s.touchSource = touchRows && codes == null && !kRows.inPlace();
    // S = Q K^T, row-major sr[r * bcRows + c] (codes: times the key scales)
    int step = !kRows.inPlace() ? CONVERT_KEYS : touch ? SUB_KEYS : cols;
    for (int c0 = 0, m; c0 < cols; c0 += m) {
      if (codes != null) {
        m = checkRun(codes.keyRun(b, g, j0 + c0, cols - c0, run), cols - c0, "keyRun");
        if (touch) {
          s.touched += Micro.touch(run.codes, run.offset, run.stride, d, m);
        }
        int kk = fp8 && Micro.hasFp8NaN(lanes, run.codes, run.offset, run.stride, d, m)
            ? Micro.FP8_NAN : kind;
        Micro.scoresRowMajor(lanes, groups, null, run.codes, kk, run.offset, run.stride, m,
            s.qr, d, sr, c0, bcRows, s.red);
        Micro.scaleKeys(lanes, rows, sr, c0, bcRows, m, run.scales, run.scaleOffset);
      } else {
        m = Math.min(step, cols - c0);
        float[] ka = kRows.locate(b, g, j0 + c0, m, d, s.kbuf, s);
        if (touch) {
          s.touched += Micro.touch(ka, s.at, s.ld, d, m);
        }
        Micro.scoresRowMajor(lanes, groups, ka, s.at, s.ld, m, s.qr, d, sr, c0, bcRows, s.red);
      }
    }
    // infinite logits to NaN, then pad each row to whole vectors with -inf (weight 0)
    int end = (cols + n - 1) / n * n;
    for (int r = 0; r < rows; r++) {
      Micro.nanNonFinite(lanes, sr, r * bcRows, cols);
      Arrays.fill(sr, r * bcRows + cols, r * bcRows + end, Float.NEGATIVE_INFINITY);
    }
    Micro.softmaxRows(lanes, rows, sr, bcRows, cols, s.m, s.l, s.alpha, s.tmp, s.log2);
    // O = diag(alpha) O + P V; the rescale goes with the first block of keys (codes: the
    // channel scales once per run)
    step = !vRows.inPlace() ? CONVERT_KEYS : touch ? SUB_KEYS : cols;
    for (int c0 = 0, m; c0 < cols; c0 += m) {
      float[] alpha = c0 == 0 ? s.alpha : s.ones;
      if (codes != null) {
        m = checkRun(codes.valueRun(b, g, j0 + c0, cols - c0, run), cols - c0, "valueRun");
        if (touch) {
          s.touched += Micro.touch(run.codes, run.offset, run.stride, dv, m);
        }
        int kv = fp8 && Micro.hasFp8NaN(lanes, run.codes, run.offset, run.stride, dv, m)
            ? Micro.FP8_NAN : kind;
        Micro.valuesRowsCodes(lanes, groups, run.codes, kv, run.offset, run.stride, m, sr, c0,
            bcRows, 1, s.or, dv, alpha, run.scales, run.scaleOffset);
      } else {
        m = Math.min(step, cols - c0);
        float[] va = vRows.locate(b, g, j0 + c0, m, dv, s.vbuf, s);
        if (touch) {
          s.touched += Micro.touch(va, s.at, s.ld, dv, m);
        }
        Micro.valuesRows(lanes, groups, va, s.at, s.ld, m, sr, c0, bcRows, 1, s.or, dv, alpha);
      }
    }
    s.touchSource = false;
  }


  /** A run length from a {@link CodeKvSource}, which must lie in {@code [1, max]}. */
  private static int checkRun(int m, int max, String what) {
    if (m < 1 || m > max) {
      throw new IllegalStateException("CodeKvSource." + what + " returned " + m
          + " keys, expected 1 to " + max);
    }
    return m;
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

  /** The {@link BoxMask} bounds of the tile's query rows, lane by lane (padding lanes see none). */
  private void boxLanes(Scratch s, int rows) {
    int axes = boxMask.axes();
    if (s.boxLo.length < axes * br) {
      s.boxLo = new float[axes * br];
      s.boxHi = new float[axes * br];
    }
    for (int a = 0; a < axes; a++) {
      float[] lo = boxMask.lo[a];
      float[] hi = boxMask.hi[a];
      for (int r = 0; r < br; r++) {
        int i = s.laneI[r];
        s.boxLo[a * br + r] = r < rows ? lo[i] : 1f;
        s.boxHi[a * br + r] = r < rows ? hi[i] : 0f;
      }
    }
  }

  /** The transposed query tile, pre-scaled: {@code qt[e * br + r] = scale * Q[b, h_r, i_r, e]}. */
  private void packQueries(Scratch s, int b, int rows, int d) {
    float[] qt = s.qt;
    if (q.dtype() == DType.F32 && q.stride(3) == 1) {
      for (int r = 0; r < br; r++) {
        s.rowOff[r] = r < rows ? (int) (q.offset() + b * q.stride(0) + s.laneH[r] * q.stride(1)
            + queryRow(s.laneI[r]) * q.stride(2)) : 0;
      }
      if (s.touchTile) {
        for (int r = 0; r < rows; r++) {
          s.touched += Micro.touch(q.floatData(), s.rowOff[r], d, d, 1);
        }
      }
      Micro.packTransposed(lanes, q.floatData(), s.rowOff, rows, d, s.log2 ? scale2 : scale,
          qt);
      return;
    }
    float[] row = s.row;
    for (int r = 0; r < rows; r++) {
      long base = q.offset() + b * q.stride(0) + s.laneH[r] * q.stride(1)
          + queryRow(s.laneI[r]) * q.stride(2);
      readRow(q, base, d, row, 0);
      for (int e = 0; e < d; e++) {
        qt[e * br + r] = (s.log2 ? scale2 : scale) * row[e];
      }
    }
    for (int e = 0; e < d; e++) {
      Arrays.fill(qt, e * br + rows, (e + 1) * br, 0f);
    }
  }

  /**
   * The row-major query tile of row mode, pre-scaled, padded with zero rows to whole row
   * groups: {@code qr[r * d + e] = scale * Q[b, h_r, i_r, e]}.
   */
  private void packRows(Scratch s, int b, int rows, int d) {
    float[] qr = s.qr;
    for (int r = 0; r < rows; r++) {
      long base = q.offset() + b * q.stride(0) + s.laneH[r] * q.stride(1)
          + queryRow(s.laneI[r]) * q.stride(2);
      readRow(q, base, d, qr, r * d);
      for (int e = 0; e < d; e++) {
        qr[r * d + e] *= s.log2 ? scale2 : scale;
      }
    }
    Arrays.fill(qr, rows * d, Micro.rowGroups(rows) * Micro.ROW_GROUP * d, 0f);
  }

  private void keyTile(Scratch s, int nv, int rows, int b, int g, int j0, int j1, boolean partial,
      long diag) {
    int d = shape.headDim();
    int dv = shape.valueDim();
    int cols = j1 - j0;
    boolean rowMode = s.rowMode;
    // S^T = K Q^T
    float[] ka = kRows.locate(b, g, j0, cols, d, s.kbuf, s);
    int ko = s.at;
    int ldk = s.ld;
    if (s.touchTile) {
      // the previous query tile of this thread may have touched the same keys (its rows are in
      // cache now): a Swin window's two query tiles
      long keys = (((long) b * shape.kvHeads() + g) * shape.kvLen() + j0) * (bc + 1) + cols;
      if (s.touchedCall != callId || s.touchedKeys != keys) {
        s.touched += Micro.touch(ka, ko, ldk, d, cols);
        float[] va = vRows.locate(b, g, j0, cols, dv, s.vbuf, s);
        s.touched += Micro.touch(va, s.at, s.ld, dv, cols);
        s.touchedCall = callId;
        s.touchedKeys = keys;
      }
    }
    if (rowMode) {
      Micro.scoresRows(lanes, Micro.rowGroups(rows), ka, ko, ldk, cols, s.qr, d, s.st, s.red);
    } else {
      Micro.scores(lanes, nv, ka, ko, ldk, cols, s.qt, d, s.st);
    }
    if (hook != null) {
      hook.logits(b, g, s.p0, rows, j0, cols, s.st, br);
    }
    // raw logits straight from the product go to the softmax, which checks them for infinities
    boolean raw = plain && !partial;
    if (!raw) {
      Micro.nanNonFinite(lanes, s.st, 0, cols * br);
    }
    // softcap, bias, mask
    if (softcap > 0 || slopes != null) {
      Micro.softcapAndAlibi(lanes, nv, s.st, cols, j0, softcap, slopes == null ? null : s.slope,
          s.qi, diag);
    }
    if (partial && boxMask != null && scoreMod == null) {
      Micro.box(lanes, nv, s.st, cols, j0, boxMask.axes(), s.boxLo, s.boxHi, boxMask.key);
    } else if (scoreMod != null || (partial && elementMask)) {
      maskAndModify(s, rows, b, j0, cols, partial, diag);
    } else if (partial && band != null) {
      Micro.band(lanes, nv, s.st, cols, j0, diag, band.left(), band.right(), s.qi);
    }
    // V operand
    float[] va = vRows.locate(b, g, j0, cols, dv, s.vbuf, s);
    int vo = s.at;
    int ldv = s.ld;
    boolean someZero = partial || scoreMod != null;
    if (someZero && !valuesFinite(s, b, g, j0, cols, va, vo, ldv)) {
      guardedValues(s, nv, rows, b, g, j0, cols, va, vo, ldv);
      return;
    }
    Micro.softmax(lanes, nv, s.st, cols, s.m, s.l, s.alpha, s.log2, raw);
    if (hook != null) {
      hook.weights(b, g, s.p0, rows, j0, cols, s.st, br, s.m);
    }
    if (rowMode) {
      Micro.valuesRows(lanes, Micro.rowGroups(rows), va, vo, ldv, cols, s.st, 0, 1, br, s.or, dv,
          s.alpha);
    } else {
      Micro.values(lanes, nv, va, vo, ldv, cols, s.st, s.ot, dv, s.alpha);
    }
  }

  /**
   * True when the value rows {@code [j0, j0 + cols)} of {@code (b, g)} are all finite (else the
   * tile takes {@link #guardedValues}). Values read in place from a tensor are checked once per
   * block of {@value #FINITE_BLOCK} keys, per call and thread, and the answer is kept in the
   * thread's scratch: sparse kernels visit each value row from many query tiles, and a scan per
   * visit cost about a third of the {@code P V} product. A block with a non-finite value anywhere
   * sends the tile to the guarded path, which is exact either way.
   */
  private boolean valuesFinite(Scratch s, int b, int g, int j0, int cols, float[] va, int vo,
      int ldv) {
    int dv = shape.valueDim();
    int sk = shape.kvLen();
    int blocks = (sk + FINITE_BLOCK - 1) / FINITE_BLOCK;
    long size = (long) shape.batch() * shape.kvHeads() * blocks;
    if (!(vRows instanceof TensorRows) || !vRows.inPlace() || size > FINITE_MEMO_MAX) {
      return Micro.allFinite(lanes, va, vo, ldv, cols, dv);
    }
    if (s.finiteCall != callId) {
      if (s.finite.length < size) {
        s.finite = new byte[(int) size];
      } else {
        Arrays.fill(s.finite, 0, (int) size, (byte) 0);
      }
      s.finiteCall = callId;
    }
    int base = (b * shape.kvHeads() + g) * blocks;
    for (int k = j0 / FINITE_BLOCK, last = (j0 + cols - 1) / FINITE_BLOCK; k <= last; k++) {
      byte f = s.finite[base + k];
      if (f == 0) {
        int k0 = k * FINITE_BLOCK;
        int n = Math.min(FINITE_BLOCK, sk - k0);
        float[] a = vRows.locate(b, g, k0, n, dv, s.vbuf, s);
        f = Micro.allFinite(lanes, a, s.at, s.ld, n, dv) ? (byte) 1 : (byte) 2;
        s.finite[base + k] = f;
      }
      if (f == 2) {
        return false;
      }
    }
    return true;
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
          // a NaN logit (non-finite query or key) stays NaN unless the modifier hides the key
          float x = st[at];
          float y = (float) scoreMod.apply(x, b, h, i, j);
          st[at] = Float.isNaN(x) && y != Float.NEGATIVE_INFINITY ? Float.NaN : y;
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
    s.ensureGuard(br, Math.max(bc, bcRows), dv);
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
    Micro.softmax(lanes, nv, s.st, cols, s.m, s.l, s.alpha, s.log2, false);
    if (hook != null) {
      hook.weights(b, g, s.p0, rows, j0, cols, s.st, br, s.m);
    }
    if (s.rowMode) {
      Micro.valuesRows(lanes, Micro.rowGroups(rows), vb, 0, dv, cols, s.st, 0, 1, br, s.or, dv,
          s.alpha);
    } else {
      Micro.values(lanes, nv, vb, 0, dv, cols, s.st, s.ot, dv, s.alpha);
    }
    for (int t = 0; t < bad; t++) {
      int c = s.badRow[t];
      for (int r = 0; r < rows; r++) {
        if (s.badLogits[t * br + r] == Float.NEGATIVE_INFINITY) {
          continue;
        }
        float p = s.st[c * br + r];
        for (int e = 0; e < dv; e++) {
          if (s.rowMode) {
            s.or[r * dv + e] += p * s.badValues[t * dv + e];
          } else {
            s.ot[e * br + r] += p * s.badValues[t * dv + e];
          }
        }
      }
    }
  }

  /**
   * {@code O = acc / l}, {@code LSE = m + ln l}; rows with {@code l == 0} give 0 and -inf, and a
   * row whose output is not all finite (it saw a NaN or Inf key or value) gives NaN in O and LSE.
   */
  private void writeRows(Scratch s, int b, int rows, int dv, Tensor out, Tensor lse) {
    float[] od = out.dtype() == DType.F32 && out.stride(3) == 1 ? out.floatData() : null;
    if (od != null && !s.rowMode) {
      Micro.unfiniteRows(lanes, (rows + lanes.species().length() - 1)
          / lanes.species().length(), s.ot, dv, s.l, s.outBad);
    }
    // 16 lanes: the accumulator made row-major by blocks in registers; else a gather per vector
    boolean turned = od != null && !s.rowMode && stride.length == 16;
    if (turned) {
      Micro.unpackTransposed16(s.ot, rows, dv, stride, s.orow);
    }
    for (int r = 0; r < rows; r++) {
      int h = s.laneH[r];
      int i = queryRow(s.laneI[r]);
      float l = s.l[r];
      boolean empty = l == 0f;
      float inv = 1f / l;
      long at = out.offset() + b * out.stride(0) + h * out.stride(1) + i * out.stride(2);
      boolean finite;
      if (od != null) {
        int o = (int) at;
        if (s.rowMode) {
          for (int e = 0; e < dv; e++) {
            od[o + e] = empty ? 0f : s.or[r * dv + e] * inv;
          }
          finite = Micro.nanUnlessFinite(lanes, od, o, dv);
        } else if (empty) {
          Arrays.fill(od, o, o + dv, 0f);
          finite = true;
        } else if (Float.isNaN(s.outBad[r])) {
          Arrays.fill(od, o, o + dv, Float.NaN);
          finite = false;
        } else {
          if (turned) {
            Micro.scaleRow(lanes, s.orow, r * dv, inv, od, o, dv);
          } else {
            Micro.unpackRow(lanes, s.ot, r, dv, inv, stride, od, o);
          }
          finite = true;
        }
      } else {
        long s3 = out.stride(3);
        finite = true;
        for (int e = 0; e < dv; e++) {
          float acc = s.rowMode ? s.or[r * dv + e] : s.ot[e * br + r];
          finite &= Float.isFinite(empty ? 0f : acc * inv);
        }
        for (int e = 0; e < dv; e++) {
          float acc = s.rowMode ? s.or[r * dv + e] : s.ot[e * br + r];
          out.setAt(at + e * s3, !finite ? Float.NaN : empty ? 0f : acc * inv);
        }
      }
      if (lse != null) {
        lse.setAt(lse.offset() + b * lse.stride(0) + h * lse.stride(1) + i * lse.stride(2),
            !finite ? Double.NaN
                : empty ? Double.NEGATIVE_INFINITY : logit(s, r) + Math.log(l));
      }
    }
  }

  // ---- K and V rows

  /**
   * Where the engine reads the K or V rows of a key tile: a {@code [B, Hkv, S, W]} tensor
   * ({@link TensorRows}) or the pages of a {@link PagedKvCache} ({@link PageRows}). A float32
   * tile that lies in one storage run is read in place; anything else is converted (or copied)
   * into the tile buffer, one tile at a time.
   */
  abstract static sealed class Rows permits TensorRows, PageRows, SourceRows {

    /**
     * Where a tile starting at key {@code j0} and meant to end at {@code j1} must end so that it
     * does not cross a storage run that is read in place ({@code j0 < result <= j1}).
     */
    abstract int cut(int b, int j0, int j1);

    /** True when {@link #locate} returns the storage itself (never the buffer). */
    abstract boolean inPlace();

    /** Bytes per stored element (1 for 8-bit codes), for {@link #TOUCH_MIN_BYTES}. */
    abstract int storedBytes();

    /**
     * The rows {@code [j0, j0 + n)} of {@code (b, g)}, {@code width} elements each: returns the
     * array and sets {@code s.at} (first element) and {@code s.ld} (row stride); either the
     * storage itself or {@code buf} filled with converted rows.
     */
    abstract float[] locate(int b, int g, int j0, int n, int width, float[] buf, Scratch s);
  }

  /** Rows of a {@code [B, Hkv, S, W]} tensor (any dtype and strides). */
  static final class TensorRows extends Rows {
    private final Tensor t;
    private final float[] data;

    TensorRows(Tensor t) {
      this.t = t;
      this.data = directRows(t) ? t.floatData() : null;
    }

    @Override
    int cut(int b, int j0, int j1) {
      return j1;
    }

    @Override
    boolean inPlace() {
      return data != null;
    }

    @Override
    int storedBytes() {
      return t.dtype().byteSize();
    }

    @Override
    float[] locate(int b, int g, int j0, int n, int width, float[] buf, Scratch s) {
      if (data != null) {
        s.at = (int) (t.offset() + b * t.stride(0) + g * t.stride(1) + j0 * t.stride(2));
        s.ld = (int) t.stride(2);
        return data;
      }
      long base = t.offset() + b * t.stride(0) + g * t.stride(1) + j0 * t.stride(2);
      if (s.touchSource) {
        s.touched += touchHalves(t, base, t.stride(2), t.stride(3), n, width);
      }
      readRows(t, base, t.stride(2), t.stride(3), n, width, buf);
      s.at = 0;
      s.ld = width;
      return buf;
    }
  }

  /**
   * Rows of sequence {@code seqIds[b]} of a paged cache, read from its pages: key {@code j} is
   * slot {@code j % P} of page {@code blockTable[j / P]}, each page a contiguous
   * {@code [Hkv, P, W]} tensor. Float32 pages of at least {@link #MIN_DIRECT_PAGE} slots are read
   * in place (tiles are cut at page ends); shorter pages and F16/BF16 pages are copied or
   * converted into the tile buffer, one page run at a time. Slots past the length are never read
   * (the engine clips tiles to the length).
   */
  static final class PageRows extends Rows {
    private final PagedKvCache cache;
    private final boolean keys;
    private final int[] seqIds;
    private final int pageSize;
    private final boolean direct;

    PageRows(PagedKvCache cache, boolean keys, int[] seqIds) {
      this.cache = cache;
      this.keys = keys;
      this.seqIds = seqIds;
      this.pageSize = cache.pageSize();
      this.direct = cache.dtype() == DType.F32 && pageSize >= MIN_DIRECT_PAGE;
    }

    private Tensor page(int b, int j) {
      int p = cache.page(seqIds[b], j / pageSize);
      return keys ? cache.keyPage(p) : cache.valuePage(p);
    }

    @Override
    boolean inPlace() {
      return direct;
    }

    @Override
    int storedBytes() {
      return cache.dtype().byteSize();
    }

    @Override
    int cut(int b, int j0, int j1) {
      if (!direct) {
        return j1;
      }
      return (int) Math.min(j1, ((long) j0 / pageSize + 1) * pageSize);
    }

    @Override
    float[] locate(int b, int g, int j0, int n, int width, float[] buf, Scratch s) {
      if (direct) {
        Tensor pg = page(b, j0);
        s.at = (int) (pg.offset() + g * pg.stride(0) + (j0 % pageSize) * pg.stride(1));
        s.ld = (int) pg.stride(1);
        return pg.floatData();
      }
      for (int r = 0; r < n; ) {
        int j = j0 + r;
        int slot = j % pageSize;
        int run = Math.min(n - r, pageSize - slot);
        Tensor pg = page(b, j);
        long base = pg.offset() + g * pg.stride(0) + slot * pg.stride(1);
        if (s.touchSource) {
          s.touched += touchHalves(pg, base, pg.stride(1), pg.stride(2), run, width);
        }
        readRows(pg, base, pg.stride(1), pg.stride(2), run, width, buf, r * width);
        r += run;
      }
      s.at = 0;
      s.ld = width;
      return buf;
    }
  }

  /** Rows of a {@link KvSource}, always written to the tile buffer. */
  static final class SourceRows extends Rows {
    private final KvSource src;
    private final boolean keys;
    /** The source when the decode kernel reads its codes in place (else null). */
    final CodeKvSource codes;

    SourceRows(KvSource src, boolean keys, Lanes lanes) {
      this.src = src;
      this.keys = keys;
      this.codes = src instanceof CodeKvSource c && lanes.bytes() != null ? c : null;
    }

    @Override
    int cut(int b, int j0, int j1) {
      return j1;
    }

    @Override
    boolean inPlace() {
      return false;
    }

    @Override
    int storedBytes() {
      return codes != null ? 1 : 4;
    }

    @Override
    float[] locate(int b, int g, int j0, int n, int width, float[] buf, Scratch s) {
      if (keys) {
        src.keys(b, g, j0, n, buf);
      } else {
        src.values(b, g, j0, n, buf);
      }
      s.at = 0;
      s.ld = width;
      return buf;
    }
  }

  /**
   * {@link Micro#touch} over {@code n} rows of {@code width} float16 or bfloat16 elements at
   * storage index {@code base}, {@code rowStride} apart, before they are converted (nothing for
   * other dtypes or strided elements).
   */
  private static int touchHalves(Tensor t, long base, long rowStride, long elemStride, int n,
      int width) {
    if (t.dtype().byteSize() != 2 || elemStride != 1 && width > 1) {
      return 0;
    }
    return Micro.touch(t.shortData(), (int) base, (int) rowStride, width, n);
  }

  private static boolean directRows(Tensor t) {
    return t.dtype() == DType.F32 && (t.stride(3) == 1 || t.dim(3) == 1)
        && Math.abs(t.stride(2)) < Integer.MAX_VALUE;
  }

  /**
   * Converts {@code n} rows of {@code width} elements, {@code rowStride} apart, to
   * {@code dst[r * width + e]}; rows that follow one another in storage are converted as one run.
   */
  private static void readRows(Tensor t, long base, long rowStride, long s3, int n, int width,
      float[] dst) {
    readRows(t, base, rowStride, s3, n, width, dst, 0);
  }

  private static void readRows(Tensor t, long base, long rowStride, long s3, int n, int width,
      float[] dst, int off) {
    if ((s3 == 1 || width == 1) && (rowStride == width || n == 1)) {
      readRow(t, base, 1, n * width, dst, off);
      return;
    }
    for (int r = 0; r < n; r++) {
      readRow(t, base + r * rowStride, s3, width, dst, off + r * width);
    }
  }

  /** Converts one row of {@code width} elements starting at storage index {@code at}. */
  private static void readRow(Tensor t, long at, int width, float[] dst, int off) {
    readRow(t, at, t.stride(3), width, dst, off);
  }

  /** Converts one row of {@code width} elements {@code s3} apart starting at {@code at}. */
  private static void readRow(Tensor t, long at, long s3, int width, float[] dst, int off) {
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
          f16Row(x, a, dst, off, width);
        } else {
          for (int e = 0; e < width; e++) {
            dst[off + e] = Float.float16ToFloat(x[(int) (at + e * s3)]);
          }
        }
      }
      case BF16 -> {
        short[] x = t.shortData();
        if (s3 == 1) {
          bf16Row(x, a, dst, off, width);
        } else {
          for (int e = 0; e < width; e++) {
            dst[off + e] = Float.intBitsToFloat((x[(int) (at + e * s3)] & 0xFFFF) << 16);
          }
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

  /** A contiguous float16 row to float32 (a small loop of its own, so that C2 vectorises it). */
  private static void f16Row(short[] x, int a, float[] dst, int off, int n) {
    for (int e = 0; e < n; e++) {
      dst[off + e] = Float.float16ToFloat(x[a + e]);
    }
  }

  /** A contiguous bfloat16 row to float32 (a small loop of its own, so that C2 vectorises it). */
  private static void bf16Row(short[] x, int a, float[] dst, int off, int n) {
    for (int e = 0; e < n; e++) {
      dst[off + e] = Float.intBitsToFloat(x[a + e] << 16);
    }
  }

  /** Per-thread scratch, grown on demand and reused across tiles and calls. */
  static final class Scratch {
    /** Whether the current query tile's logits are in base 2 ({@link DenseEngine#plain}). */
    boolean log2;
    /** Whether each row's running maximum is in base 2, after {@link DenseEngine#compute}. */
    boolean[] rowLog2 = new boolean[0];
    /** A query tile's first result while {@link DenseEngine#recompute} computes it again. */
    float[] keptAcc = new float[0];
    float[] keptM = new float[0];
    float[] keptL = new float[0];
    float[] qt = new float[0];
    float[] st = new float[0];
    float[] ot = new float[0];
    float[] m = new float[0];
    float[] l = new float[0];
    float[] alpha = new float[0];
    /** NaN for each row of a query tile whose output is not all finite (tile mode). */
    float[] outBad = new float[0];
    float[] qi = new float[0];
    float[] slope = new float[0];
    int[] laneH = new int[0];
    int[] laneI = new int[0];
    int[] rowOff = new int[0];
    float[] row = new float[0];
    float[] kbuf = new float[0];
    float[] vbuf = new float[0];
    int[] badRow = new int[0];
    float[] badValues = new float[0];
    float[] badLogits = new float[0];
    float[] qr = new float[0];
    float[] or = new float[0];
    /** A query tile's accumulator made row-major ({@link Micro#unpackTransposed16}). */
    float[] orow = new float[0];
    float[] red = new float[0];
    float[] merged = new float[0];
    float[] sr = new float[0];
    float[] tmp = new float[0];
    float[] ones = new float[0];
    final CodeKvSource.CodeRun run = new CodeKvSource.CodeRun();
    byte[] finite = new byte[0];
    long finiteCall;
    float[] boxLo = new float[0];
    float[] boxHi = new float[0];
    boolean rowMode;
    int p0;
    int at;
    int ld;
    /** The meaningless sum of {@link Micro#touch}, kept so that its loads stay. */
    int touched;

    /**
     * Whether {@link Rows#locate} touches float16 and bfloat16 rows before converting them: set
     * by {@link DenseEngine#rowTile} for calls above {@link #TOUCH_MIN_BYTES}, false elsewhere.
     */
    boolean touchSource;
    /** Whether the current query tile touches its key tiles first ({@link #TOUCH_MAX_KEYS}). */
    boolean touchTile;
    /** The call and key tile ({@code (b, g, j0, cols)}) that this thread touched last. */
    long touchedCall;
    long touchedKeys;
    final KeyTiles tiles = new KeyTiles();

    void ensure(int br, int bc, int d, int dv, int lanes) {
      int rowsMax = Micro.rowGroups(ROW_MODE_MAX) * Micro.ROW_GROUP;
      if (qr.length < rowsMax * d) {
        qr = new float[rowsMax * d];
      }
      if (or.length < rowsMax * dv) {
        or = new float[rowsMax * dv];
      }
      int redSize = Math.max(Micro.ROW_GROUP, Micro.FOLD_GROUPS) * lanes * lanes + lanes;
      if (red.length < redSize) {
        red = new float[redSize];
      }
      if (sr.length < rowsMax * bc) {
        sr = new float[rowsMax * bc];
        ones = new float[rowsMax];
        Arrays.fill(ones, 1f);
      }
      if (tmp.length < 2 * lanes + 16) {
        tmp = new float[2 * lanes + 16];
      }
      if (qt.length < d * br) {
        qt = new float[d * br];
      }
      if (st.length < bc * br) {
        st = new float[bc * br];
      }
      if (ot.length < dv * br) {
        ot = new float[dv * br];
        orow = new float[dv * br];
      }
      if (m.length < br) {
        m = new float[br];
        l = new float[br];
        alpha = new float[br];
        outBad = new float[br];
        qi = new float[br];
        slope = new float[br];
        laneH = new int[br];
        laneI = new int[br];
        rowOff = new int[br];
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
