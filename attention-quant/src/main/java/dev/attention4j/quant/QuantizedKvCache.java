package dev.attention4j.quant;

import dev.attention4j.core.DType;
import dev.attention4j.core.PageTable;
import dev.attention4j.core.Tensor;
import dev.attention4j.simd.CodeKvSource;
import dev.attention4j.simd.KvSource;
import dev.attention4j.simd.SimdAttention;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A paged KV cache storing K and V as INT8 or FP8 E4M3 codes with float32 scales, in the layout
 * of {@link dev.attention4j.core.PagedKvCache}: pages of {@code pageSize} tokens, per sequence a
 * block table and a length, appends token by token or in chunks, pages recycled by
 * {@link #free}. Read in place by the dense engine through {@link #source}, which dequantizes one
 * key tile at a time ({@code code * scale} in float32, exact for INT8):
 * {@code SimdAttention.forwardSource(q, cache.source(seqIds), out, lse, options)}.
 *
 * <p><b>Scales.</b>
 *
 * <ul>
 *   <li>K: one scale per (token, KV head) over the head dim ({@code amax / 127} for INT8,
 *       {@code amax / 448} for FP8), fixed when the token is appended;
 *   <li>V: one scale per (page, KV head, channel) over the page's tokens, as SageAttention2's
 *       per-channel V but per page. While a page fills, a new token whose magnitude exceeds a
 *       channel's maximum re-encodes that channel of the page from a float32 copy of the page's
 *       values (one page per sequence, dropped by {@link #free}), so the codes of a page are
 *       always the single rounding of its values with its current scales, whatever the order and
 *       chunking of the appends.
 * </ul>
 *
 * Codes follow {@link QuantizedTensor}: INT8 {@code round-half-away(x / scale)} clamped to
 * {@code [-127, 127]}, FP8 {@code E4M3(x / scale)} saturating; a zero group has scale 0 and codes
 * 0; NaN or infinity makes the group's scale non-finite (every value of it NaN).
 *
 * <p>Slots past a sequence's length hold whatever was there before (garbage by contract): the
 * engine never reads them. Appends are not thread-safe; concurrent reads between appends are.
 */
public final class QuantizedKvCache {

  /** The code format of K and V. */
  public enum Format {
    /** Symmetric INT8, {@code [-127, 127]}. */
    INT8,
    /** OCP FP8 E4M3. */
    FP8
  }

  private final int kvHeads;
  private final int headDim;
  private final int valueDim;
  private final int pageSize;
  private final Format format;
  private final float qmax;
  private final PageTable table;
  private final List<Page> pages = new ArrayList<>();
  /** Per sequence, the float32 values of its last page {@code [Hkv, pageSize, Dv]} (or null). */
  private final List<float[]> staging = new ArrayList<>();

  /** One page: codes {@code [Hkv, P, W]}, K scales {@code [Hkv, P]}, V scales {@code [Hkv, Dv]}. */
  static final class Page {
    final byte[] k;
    final float[] kScale;
    final byte[] v;
    final float[] vScale;
    final float[] vAmax;

    Page(int hkv, int p, int d, int dv) {
      k = new byte[hkv * p * d];
      kScale = new float[hkv * p];
      v = new byte[hkv * p * dv];
      vScale = new float[hkv * dv];
      vAmax = new float[hkv * dv];
    }
  }

  /**
   * @param kvHeads KV heads {@code Hkv}
   * @param headDim key head dim {@code D}
   * @param valueDim value head dim {@code Dv}
   * @param pageSize tokens per page ({@code >= 1})
   * @param maxPages the most pages the pool may allocate
   * @param format INT8 or FP8 (E4M3)
   */
  public QuantizedKvCache(int kvHeads, int headDim, int valueDim, int pageSize, int maxPages,
      Format format) {
    SimdAttention.requireVectorApi();
    if (kvHeads < 1 || headDim < 1 || valueDim < 1) {
      throw new IllegalArgumentException("kvHeads " + kvHeads + ", headDim " + headDim
          + ", valueDim " + valueDim + " must all be >= 1");
    }
    this.table = new PageTable(pageSize, maxPages);
    if (format == null) {
      throw new IllegalArgumentException("format must not be null");
    }
    long pageElems = (long) kvHeads * pageSize * Math.max(headDim, valueDim);
    if (pageElems > Tensor.MAX_ARRAY_LENGTH) {
      throw new IllegalArgumentException("a page of " + pageElems
          + " elements is larger than one array can hold; use a smaller pageSize");
    }
    this.kvHeads = kvHeads;
    this.headDim = headDim;
    this.valueDim = valueDim;
    this.pageSize = pageSize;
    this.format = format;
    this.qmax = format == Format.INT8 ? IntQuant.INT8_MAX : MiniFloat.E4M3.maxValue();
  }

  public int kvHeads() {
    return kvHeads;
  }

  public int headDim() {
    return headDim;
  }

  public int valueDim() {
    return valueDim;
  }

  public int pageSize() {
    return pageSize;
  }

  public Format format() {
    return format;
  }

  /** Starts an empty sequence and returns its id. */
  public int newSequence() {
    staging.add(null);
    return table.newSequence();
  }

  /** Number of sequences ever started. */
  public int sequences() {
    return table.sequences();
  }

  /** Tokens stored for sequence {@code seq}. */
  public int length(int seq) {
    return table.length(seq);
  }

  /** A copy of the block table of {@code seq}. */
  public int[] blockTable(int seq) {
    return table.blockTable(seq);
  }

  /** Pages allocated so far. */
  public int allocatedPages() {
    return table.allocatedPages();
  }

  /**
   * Bytes a decode step over {@code seqs} reads: the K and V codes of their tokens, the K scales
   * of their tokens and the V scales of their pages.
   */
  public long bytesRead(int... seqs) {
    long bytes = 0;
    for (int s : seqs) {
      long len = length(s);
      bytes += len * kvHeads * (headDim + valueDim + 4L);
      bytes += (long) table.pagesFor((int) len) * kvHeads * valueDim * 4L;
    }
    return bytes;
  }

  /**
   * Appends {@code T} tokens to sequence {@code seq}, quantizing them.
   *
   * @param k new keys {@code [Hkv, T, D]}, any dtype and strides
   * @param v new values {@code [Hkv, T, Dv]}
   * @throws IllegalArgumentException on a shape mismatch or when the pool is out of pages (the
   *     cache is then unchanged)
   */
  public void append(int seq, Tensor k, Tensor v) {
    table.length(seq);
    if (k.rank() != 3 || k.dim(0) != kvHeads || k.dim(2) != headDim) {
      throw new IllegalArgumentException("new keys have shape " + Arrays.toString(k.shape())
          + ", expected [" + kvHeads + ", T, " + headDim + "]");
    }
    if (v.rank() != 3 || v.dim(0) != kvHeads || v.dim(1) != k.dim(1) || v.dim(2) != valueDim) {
      throw new IllegalArgumentException("new values have shape " + Arrays.toString(v.shape())
          + ", expected [" + kvHeads + ", " + k.dim(1) + ", " + valueDim + "]");
    }
    int add = k.dim(1);
    int len = table.extend(seq, add,
        p -> pages.add(new Page(kvHeads, pageSize, headDim, valueDim)));
    float[] stage = staging.get(seq);
    if (stage == null) {
      stage = new float[kvHeads * pageSize * valueDim];
      staging.set(seq, stage);
    }
    float[] row = new float[Math.max(headDim, valueDim)];
    byte[] codes = new byte[Math.max(headDim, valueDim)];
    for (int t = 0; t < add; ) {
      int pos = len + t;
      int slot0 = pos % pageSize;
      int run = Math.min(add - t, pageSize - slot0);
      Page pg = pages.get(table.page(seq, pos / pageSize));
      for (int h = 0; h < kvHeads; h++) {
        for (int x = 0; x < run; x++) {
          // K: one scale per token and head
          readRow(k, h, t + x, headDim, row);
          int ks = h * pageSize + slot0 + x;
          float sc = SimdCodecs.amax(row, 0, headDim) / qmax;
          pg.kScale[ks] = sc;
          encode(row, 0, headDim, sc, codes);
          System.arraycopy(codes, 0, pg.k, ks * headDim, headDim);
          // V: into the float32 copy of the page
          readRow(v, h, t + x, valueDim, row);
          System.arraycopy(row, 0, stage, (h * pageSize + slot0 + x) * valueDim, valueDim);
        }
        encodeValues(pg, stage, h, slot0, slot0 + run);
      }
      t += run;
    }
  }

  /**
   * Encodes the new V slots {@code [s0, s1)} of head {@code h}; a channel whose maximum grew is
   * re-encoded over all filled slots {@code [0, s1)} with its new scale.
   */
  private void encodeValues(Page pg, float[] stage, int h, int s0, int s1) {
    int dv = valueDim;
    for (int c = 0; c < dv; c++) {
      int at = h * dv + c;
      float amax = s0 == 0 ? 0f : pg.vAmax[at];
      float grown = amax;
      for (int s = s0; s < s1; s++) {
        grown = Math.max(grown, Math.abs(stage[(h * pageSize + s) * dv + c]));
      }
      int from = s0;
      if (Float.floatToIntBits(grown) != Float.floatToIntBits(amax) || s0 == 0) {
        from = 0;
        pg.vAmax[at] = grown;
        pg.vScale[at] = grown / qmax;
      }
      float sc = pg.vScale[at];
      for (int s = from; s < s1; s++) {
        int e = (h * pageSize + s) * dv + c;
        pg.v[e] = (byte) encode(stage[e], sc);
      }
    }
  }

  private int encode(float x, float scale) {
    if (format == Format.INT8) {
      return IntQuant.encode(x, scale, IntQuant.INT8_MAX);
    }
    return MiniFloat.E4M3.encode(scale == 0f ? 0f : x / scale, true);
  }

  private void encode(float[] x, int off, int n, float scale, byte[] out) {
    if (format == Format.INT8) {
      SimdCodecs.encodeInt(x, off, n, scale, IntQuant.INT8_MAX, out, 0);
    } else {
      for (int e = 0; e < n; e++) {
        x[off + e] = scale == 0f ? 0f : x[off + e] / scale;
      }
      SimdCodecs.encode(MiniFloat.E4M3, x, off, n, 1f, true, out, 0);
    }
  }

  private static void readRow(Tensor t, int h, int tok, int width, float[] dst) {
    long at = t.offset() + h * t.stride(0) + tok * t.stride(1);
    long s2 = t.stride(2);
    if (t.dtype() == DType.F32 && s2 == 1) {
      System.arraycopy(t.floatData(), (int) at, dst, 0, width);
      return;
    }
    for (int e = 0; e < width; e++) {
      dst[e] = (float) t.getDoubleAt(at + e * s2);
    }
  }

  /** Frees the pages of {@code seq} for reuse; the sequence becomes empty. */
  public void free(int seq) {
    table.free(seq);
    staging.set(seq, null);
  }

  /**
   * The dequantized contents of sequences {@code seqs} as contiguous float32 K
   * {@code [B, Hkv, L, D]} and V {@code [B, Hkv, L, Dv]} ({@code L} the longest length, shorter
   * ones zero-padded; pair with {@code kvLens}): exactly the values the engine reads. For tests
   * and the reference; O(cache) memory.
   */
  public Tensor[] gather(int... seqs) {
    int max = 0;
    for (int s : seqs) {
      max = Math.max(max, length(s));
    }
    Tensor k = Tensor.zeros(DType.F32, seqs.length, kvHeads, max, headDim);
    Tensor v = Tensor.zeros(DType.F32, seqs.length, kvHeads, max, valueDim);
    Source src = source(seqs);
    float[] kd = k.floatData();
    float[] vd = v.floatData();
    for (int b = 0; b < seqs.length; b++) {
      int len = src.length(b);
      for (int g = 0; g < kvHeads; g++) {
        if (len == 0) {
          continue;
        }
        float[] kb = new float[len * headDim];
        float[] vb = new float[len * valueDim];
        src.keys(b, g, 0, len, kb);
        src.values(b, g, 0, len, vb);
        System.arraycopy(kb, 0, kd, (b * kvHeads + g) * max * headDim, kb.length);
        System.arraycopy(vb, 0, vd, (b * kvHeads + g) * max * valueDim, vb.length);
      }
    }
    return new Tensor[] {k, v};
  }

  /**
   * A read view of sequences {@code seqs} (batch {@code b} is {@code seqs[b]}, with its length
   * at this call) for {@code SimdAttention.forwardSource}: dequantizes the rows of one key tile
   * at a time. Valid until the next append to or free of those sequences.
   */
  public Source source(int... seqs) {
    int[] ids = seqs.clone();
    int[] lens = new int[ids.length];
    int[][] tables = new int[ids.length][];
    for (int b = 0; b < ids.length; b++) {
      lens[b] = length(ids[b]);
      tables[b] = table.blockTable(ids[b]);
    }
    return new Source(this, lens, tables);
  }

  /**
   * The {@link KvSource} of {@link #source}: a {@link CodeKvSource}, so the engine's decode
   * kernel reads the codes in place (the K scale per token, the V scales per page and channel)
   * and decodes them in registers.
   */
  public static final class Source implements CodeKvSource {
    private final QuantizedKvCache c;
    private final int[] lens;
    private final int[][] tables;
    private final Page[] pageArray;

    private Source(QuantizedKvCache c, int[] lens, int[][] tables) {
      this.c = c;
      this.lens = lens;
      this.tables = tables;
      this.pageArray = c.pages.toArray(new Page[0]);
    }

    @Override
    public int kvHeads() {
      return c.kvHeads;
    }

    @Override
    public int headDim() {
      return c.headDim;
    }

    @Override
    public int valueDim() {
      return c.valueDim;
    }

    @Override
    public int batch() {
      return lens.length;
    }

    @Override
    public int length(int b) {
      return lens[b];
    }

    @Override
    public Codes codes() {
      return c.format == Format.INT8 ? Codes.INT8 : Codes.FP8_E4M3;
    }

    @Override
    public int keyRun(int b, int g, int j0, int max, CodeRun run) {
      int p = c.pageSize;
      int slot = j0 % p;
      Page pg = pageArray[tables[b][j0 / p]];
      int row = g * p + slot;
      run.codes = pg.k;
      run.offset = row * c.headDim;
      run.stride = c.headDim;
      run.scales = pg.kScale;
      run.scaleOffset = row;
      return Math.min(max, p - slot);
    }

    @Override
    public int valueRun(int b, int g, int j0, int max, CodeRun run) {
      int p = c.pageSize;
      int slot = j0 % p;
      Page pg = pageArray[tables[b][j0 / p]];
      run.codes = pg.v;
      run.offset = (g * p + slot) * c.valueDim;
      run.stride = c.valueDim;
      run.scales = pg.vScale;
      run.scaleOffset = g * c.valueDim;
      return Math.min(max, p - slot);
    }

    @Override
    public void keys(int b, int g, int j0, int n, float[] dst) {
      int p = c.pageSize;
      int d = c.headDim;
      boolean int8 = c.format == Format.INT8;
      for (int r = 0; r < n; ) {
        int j = j0 + r;
        int slot = j % p;
        int run = Math.min(n - r, p - slot);
        Page pg = pageArray[tables[b][j / p]];
        for (int x = 0; x < run; x++) {
          int row = g * p + slot + x;
          float sc = pg.kScale[row];
          if (int8) {
            SimdCodecs.decodeInt(pg.k, row * d, d, sc, dst, (r + x) * d);
          } else {
            SimdCodecs.decode(MiniFloat.E4M3, pg.k, row * d, d, sc, dst, (r + x) * d);
          }
        }
        r += run;
      }
    }

    @Override
    public void values(int b, int g, int j0, int n, float[] dst) {
      int p = c.pageSize;
      int dv = c.valueDim;
      boolean int8 = c.format == Format.INT8;
      for (int r = 0; r < n; ) {
        int j = j0 + r;
        int slot = j % p;
        int run = Math.min(n - r, p - slot);
        Page pg = pageArray[tables[b][j / p]];
        float[] vs = pg.vScale;
        int s0 = g * dv;
        for (int x = 0; x < run; x++) {
          int row = g * p + slot + x;
          int o = (r + x) * dv;
          if (int8) {
            SimdCodecs.decodeInt(pg.v, row * dv, dv, vs, s0, dst, o);
          } else {
            SimdCodecs.decode(MiniFloat.E4M3, pg.v, row * dv, dv, vs, s0, dst, o);
          }
        }
        r += run;
      }
    }
  }

  /** Test access: page {@code p}. */
  Page page(int p) {
    return pages.get(p);
  }
}
