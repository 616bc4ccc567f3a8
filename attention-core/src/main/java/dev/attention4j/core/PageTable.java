package dev.attention4j.core;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * The bookkeeping of a paged KV cache (vLLM / FlashAttention {@code block_table} layout), without
 * the storage: a pool of page numbers {@code 0 .. allocatedPages()-1}, and per sequence a block
 * table and a length. Logical token {@code t} of a sequence lives in page
 * {@code page(seq, t / pageSize)} at slot {@code t % pageSize}. Pages are numbered on first use
 * (the cache then creates their storage) and recycled when a sequence is freed.
 *
 * <p>{@link PagedKvCache} (float storage) and the quantized cache of {@code attention-quant} keep
 * their pages in lists indexed by these numbers. Not thread-safe: callers serialise appends and
 * frees.
 */
public final class PageTable {

  private final int pageSize;
  private final int maxPages;
  private int allocated;
  private final ArrayDeque<Integer> freePages = new ArrayDeque<>();
  private final List<int[]> blockTables = new ArrayList<>();
  private final List<Integer> lengths = new ArrayList<>();

  /**
   * @param pageSize tokens per page ({@code >= 1})
   * @param maxPages the most pages the pool may number ({@code >= 1})
   * @throws IllegalArgumentException naming both numbers if either is below 1
   */
  public PageTable(int pageSize, int maxPages) {
    if (pageSize < 1 || maxPages < 1) {
      throw new IllegalArgumentException("pageSize " + pageSize + " and maxPages " + maxPages
          + " must be >= 1");
    }
    this.pageSize = pageSize;
    this.maxPages = maxPages;
  }

  public int pageSize() {
    return pageSize;
  }

  public int maxPages() {
    return maxPages;
  }

  /** Starts an empty sequence and returns its id. */
  public int newSequence() {
    blockTables.add(new int[0]);
    lengths.add(0);
    return lengths.size() - 1;
  }

  /** Number of sequences ever started (ids are {@code 0 .. sequences()-1}). */
  public int sequences() {
    return lengths.size();
  }

  /**
   * Tokens stored for sequence {@code seq}.
   *
   * @throws IllegalArgumentException if the sequence does not exist
   */
  public int length(int seq) {
    checkSeq(seq);
    return lengths.get(seq);
  }

  /** A copy of the block table of {@code seq}: page numbers of its tokens, in order. */
  public int[] blockTable(int seq) {
    checkSeq(seq);
    return Arrays.copyOf(blockTables.get(seq), pagesFor(lengths.get(seq)));
  }

  /** Page {@code pageIndex} of sequence {@code seq}, unchecked and without a copy (hot path). */
  public int page(int seq, int pageIndex) {
    return blockTables.get(seq)[pageIndex];
  }

  /** Pages numbered so far (recycled pages count once). */
  public int allocatedPages() {
    return allocated;
  }

  /** Pages that {@code tokens} tokens occupy. */
  public int pagesFor(int tokens) {
    return (int) (((long) tokens + pageSize - 1) / pageSize);
  }

  /**
   * Grows sequence {@code seq} by {@code add} tokens and returns its old length; the caller then
   * writes tokens {@code old .. old + add - 1}. Pages are taken from the freed ones first;
   * {@code newPage} is called with each fresh page number (in increasing order) so that the
   * caller creates its storage. On an exception nothing has changed.
   *
   * @throws IllegalArgumentException if the sequence does not exist, {@code add < 0}, the length
   *     would pass {@code Integer.MAX_VALUE}, or the pool is out of pages (naming the numbers)
   */
  public int extend(int seq, int add, IntConsumer newPage) {
    checkSeq(seq);
    if (add < 0) {
      throw new IllegalArgumentException("cannot append " + add + " tokens");
    }
    int len = lengths.get(seq);
    long newLen = (long) len + add;
    if (newLen > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("sequence " + seq + " would hold " + newLen
          + " tokens, more than " + Integer.MAX_VALUE);
    }
    int before = pagesFor(len);
    int after = pagesFor((int) newLen);
    int need = after - before;
    int available = freePages.size() + (maxPages - allocated);
    if (need > available) {
      throw new IllegalArgumentException("cache is full: appending " + add + " tokens to sequence "
          + seq + " needs " + need + " more pages, " + available + " are free (maxPages "
          + maxPages + ")");
    }
    int[] table = blockTables.get(seq);
    if (after > table.length) {
      table = Arrays.copyOf(table, Math.max(after, 2 * table.length));
      blockTables.set(seq, table);
    }
    for (int p = before; p < after; p++) {
      if (!freePages.isEmpty()) {
        table[p] = freePages.pop();
      } else {
        table[p] = allocated;
        newPage.accept(allocated++);
      }
    }
    lengths.set(seq, (int) newLen);
    return len;
  }

  /**
   * Frees the pages of {@code seq} for reuse; the sequence becomes empty.
   *
   * @throws IllegalArgumentException if the sequence does not exist
   */
  public void free(int seq) {
    checkSeq(seq);
    int[] table = blockTables.get(seq);
    for (int p = 0; p < pagesFor(lengths.get(seq)); p++) {
      freePages.push(table[p]);
    }
    blockTables.set(seq, new int[0]);
    lengths.set(seq, 0);
  }

  private void checkSeq(int seq) {
    if (seq < 0 || seq >= lengths.size()) {
      throw new IllegalArgumentException("sequence " + seq + " does not exist ("
          + (lengths.isEmpty() ? "no sequence yet: newSequence() makes one"
              : "ids 0.." + (lengths.size() - 1)) + ")");
    }
  }
}
