package dev.attention4j.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A paged key/value cache for decoding (vLLM / FlashAttention {@code block_table} layout): a pool
 * of pages of {@code pageSize} tokens each, and per sequence a block table of page numbers and a
 * length. Logical token {@code t} of a sequence lives in page {@code blockTable[t / pageSize]} at
 * slot {@code t % pageSize}. Each page is its own array, laid out {@code [Hkv, pageSize, D]} for K
 * and {@code [Hkv, pageSize, Dv]} for V, so no single array grows with the cache and a cache may
 * hold more than 2^31 elements in all.
 *
 * <p>Pages are allocated on first use and recycled when a sequence is freed (the bookkeeping is
 * a {@link PageTable}). Slots past a
 * sequence's length hold whatever was there before (garbage by contract): kernels never read them.
 * Appends are not thread-safe; concurrent reads by kernels between appends are.
 */
public final class PagedKvCache {

  private final int kvHeads;
  private final int headDim;
  private final int valueDim;
  private final int pageSize;
  private final DType dtype;
  private final PageTable table;
  private final List<Tensor> keyPages = new ArrayList<>();
  private final List<Tensor> valuePages = new ArrayList<>();

  /**
   * @param kvHeads KV heads {@code Hkv}
   * @param headDim key head dim {@code D}
   * @param valueDim value head dim {@code Dv}
   * @param pageSize tokens per page ({@code >= 1})
   * @param maxPages the most pages the pool may allocate
   * @param dtype storage of K and V: F32, F16 or BF16
   */
  public PagedKvCache(int kvHeads, int headDim, int valueDim, int pageSize, int maxPages,
      DType dtype) {
    if (kvHeads < 1 || headDim < 1 || valueDim < 1) {
      throw new IllegalArgumentException("kvHeads " + kvHeads + ", headDim " + headDim
          + ", valueDim " + valueDim + " must all be >= 1");
    }
    this.table = new PageTable(pageSize, maxPages);
    if (dtype == null || dtype == DType.F64) {
      throw new IllegalArgumentException("cache dtype must be F32, F16 or BF16, got " + dtype);
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
    this.dtype = dtype;
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

  public DType dtype() {
    return dtype;
  }

  /** Starts an empty sequence and returns its id. */
  public int newSequence() {
    return table.newSequence();
  }

  /** Number of sequences ever started (ids are {@code 0 .. sequences()-1}). */
  public int sequences() {
    return table.sequences();
  }

  /** Tokens stored for sequence {@code seq}. */
  public int length(int seq) {
    return table.length(seq);
  }

  /** A copy of the block table of {@code seq}: page numbers of its tokens, in order. */
  public int[] blockTable(int seq) {
    return table.blockTable(seq);
  }

  /** Page {@code t / pageSize} of sequence {@code seq}, without a copy (hot path for kernels). */
  public int page(int seq, int pageIndex) {
    return table.page(seq, pageIndex);
  }

  /** Key page {@code p} as a {@code [Hkv, pageSize, D]} tensor (the stored array, no copy). */
  public Tensor keyPage(int p) {
    return keyPages.get(p);
  }

  /** Value page {@code p} as a {@code [Hkv, pageSize, Dv]} tensor (the stored array, no copy). */
  public Tensor valuePage(int p) {
    return valuePages.get(p);
  }

  /** Pages allocated so far. */
  public int allocatedPages() {
    return table.allocatedPages();
  }

  /**
   * Appends {@code T} tokens to sequence {@code seq}.
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
    int len = table.extend(seq, add, p -> {
      keyPages.add(Tensor.zeros(dtype, kvHeads, pageSize, headDim));
      valuePages.add(Tensor.zeros(dtype, kvHeads, pageSize, valueDim));
    });
    for (int t = 0; t < add; t++) {
      int pos = len + t;
      int slot = pos % pageSize;
      int p = table.page(seq, pos / pageSize);
      copyToken(k, t, keyPages.get(p), slot, headDim);
      copyToken(v, t, valuePages.get(p), slot, valueDim);
    }
  }

  /**
   * Copies token {@code t} of {@code src [Hkv, T, W]} into slot {@code slot} of a contiguous
   * page {@code [Hkv, pageSize, W]}, element by element (no allocation; an array copy when the
   * dtypes match and rows are contiguous).
   */
  private void copyToken(Tensor src, int t, Tensor page, int slot, int width) {
    boolean same = src.dtype() == page.dtype() && (src.stride(2) == 1 || width == 1);
    for (int h = 0; h < kvHeads; h++) {
      long from = src.offset() + h * src.stride(0) + t * src.stride(1);
      int to = (int) ((long) h * pageSize * width + (long) slot * width);
      if (same) {
        switch (dtype) {
          case F32 -> System.arraycopy(src.floatData(), (int) from, page.floatData(), to, width);
          default -> System.arraycopy(src.shortData(), (int) from, page.shortData(), to, width);
        }
      } else {
        long s2 = src.stride(2);
        for (int e = 0; e < width; e++) {
          page.setAt(to + e, src.getDoubleAt(from + e * s2));
        }
      }
    }
  }

  /** Frees the pages of {@code seq} for reuse; the sequence becomes empty. */
  public void free(int seq) {
    table.free(seq);
  }

  /**
   * A contiguous copy of sequences {@code seqs} as K {@code [B, Hkv, L, D]} and V
   * {@code [B, Hkv, L, Dv]} with {@code L} the longest length (shorter ones zero-padded); pair it
   * with {@code kvLens} = their lengths. For tests and the reference; O(cache) memory.
   */
  public Tensor[] gather(int... seqs) {
    int max = 0;
    for (int s : seqs) {
      max = Math.max(max, length(s));
    }
    Tensor k = Tensor.zeros(DType.F32, seqs.length, kvHeads, max, headDim);
    Tensor v = Tensor.zeros(DType.F32, seqs.length, kvHeads, max, valueDim);
    for (int b = 0; b < seqs.length; b++) {
      int len = length(seqs[b]);
      for (int t = 0; t < len; t += pageSize) {
        int n = Math.min(pageSize, len - t);
        int p = page(seqs[b], t / pageSize);
        k.slice(0, b, b + 1).slice(2, t, t + n).copyFrom(
            keyPages.get(p).slice(1, 0, n).unsqueeze(0));
        v.slice(0, b, b + 1).slice(2, t, t + n).copyFrom(
            valuePages.get(p).slice(1, 0, n).unsqueeze(0));
      }
    }
    return new Tensor[] {k, v};
  }
}
