package dev.attention4j.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class PagedKvCacheTest {

  /** Drops a leading axis of length 1. */
  static Tensor dropFirst(Tensor t) {
    int[] s = t.shape();
    long[] st = t.strides();
    return t.view(java.util.Arrays.copyOfRange(s, 1, s.length),
        java.util.Arrays.copyOfRange(st, 1, st.length), t.offset());
  }

  @Test
  void interleavedAppendsGatherToTheConcatenation() {
    SplittableRandom rnd = new SplittableRandom(21);
    int hkv = 2;
    int d = 5;
    int dv = 3;
    PagedKvCache cache = new PagedKvCache(hkv, d, dv, 4, 64, DType.F32);
    int a = cache.newSequence();
    int b = cache.newSequence();
    Tensor fullK = TestTensors.gaussian(rnd, DType.F32, 1, 2, hkv, 23, d);
    Tensor fullV = TestTensors.gaussian(rnd, DType.F32, 1, 2, hkv, 23, dv);
    int[] lens = {23, 9};
    int[] done = {0, 0};
    while (done[0] < lens[0] || done[1] < lens[1]) {
      for (int s = 0; s < 2; s++) {
        int n = Math.min(lens[s] - done[s], 1 + rnd.nextInt(6));
        if (n <= 0) {
          continue;
        }
        cache.append(s == 0 ? a : b,
            dropFirst(fullK.slice(0, s, s + 1).slice(2, done[s], done[s] + n)),
            dropFirst(fullV.slice(0, s, s + 1).slice(2, done[s], done[s] + n)));
        done[s] += n;
      }
    }
    assertEquals(23, cache.length(a));
    assertEquals(9, cache.length(b));
    assertEquals(6, cache.blockTable(a).length);
    assertEquals(3, cache.blockTable(b).length);
    Tensor[] kv = cache.gather(a, b);
    for (int s = 0; s < 2; s++) {
      assertArrayEquals(fullK.slice(0, s, s + 1).slice(2, 0, lens[s]).toFloatArray(),
          kv[0].slice(0, s, s + 1).slice(2, 0, lens[s]).toFloatArray());
      assertArrayEquals(fullV.slice(0, s, s + 1).slice(2, 0, lens[s]).toFloatArray(),
          kv[1].slice(0, s, s + 1).slice(2, 0, lens[s]).toFloatArray());
    }
  }

  @Test
  void freedPagesAreReusedAndAFullCacheIsLeftUnchanged() {
    PagedKvCache cache = new PagedKvCache(1, 2, 2, 2, 3, DType.F16);
    int s = cache.newSequence();
    cache.append(s, Tensor.zeros(DType.F32, 1, 5, 2), Tensor.zeros(DType.F32, 1, 5, 2));
    assertEquals(3, cache.allocatedPages());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> cache.append(s, Tensor.zeros(DType.F32, 1, 2, 2), Tensor.zeros(DType.F32, 1, 2, 2)));
    assertTrue(e.getMessage().contains("cache is full"), e.getMessage());
    assertEquals(5, cache.length(s));
    cache.free(s);
    int t = cache.newSequence();
    cache.append(t, Tensor.zeros(DType.F32, 1, 6, 2), Tensor.zeros(DType.F32, 1, 6, 2));
    assertEquals(3, cache.allocatedPages(), "pages were recycled, not allocated");
    assertThrows(IllegalArgumentException.class,
        () -> cache.append(t, Tensor.zeros(DType.F32, 1, 1, 3), Tensor.zeros(DType.F32, 1, 1, 2)));
  }

  @Test
  void unknownSequenceIsNamedWithTheValidIds() {
    PagedKvCache cache = new PagedKvCache(1, 2, 2, 2, 3, DType.F32);
    Tensor kv = Tensor.zeros(DType.F32, 1, 1, 2);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> cache.append(0, kv, kv));
    assertEquals("sequence 0 does not exist (no sequence yet: newSequence() makes one)",
        e.getMessage());
    cache.newSequence();
    cache.newSequence();
    e = assertThrows(IllegalArgumentException.class, () -> cache.append(5, kv, kv));
    assertEquals("sequence 5 does not exist (ids 0..1)", e.getMessage());
  }

  @Test
  void appendCopiesEveryDtypeAndStrideExactly() {
    SplittableRandom rnd = new SplittableRandom(33);
    int hkv = 3;
    int d = 7;
    for (DType cacheType : new DType[] {DType.F32, DType.F16, DType.BF16}) {
      for (DType srcType : new DType[] {DType.F32, DType.F16, DType.BF16, DType.F64}) {
        PagedKvCache cache = new PagedKvCache(hkv, d, d, 3, 64, cacheType);
        int s = cache.newSequence();
        // a [Hkv, T, D] view of a [T, Hkv, D] buffer (strided), and a contiguous one
        Tensor buf = TestTensors.gaussian(rnd, srcType, 1, 5, hkv, d);
        Tensor strided = buf.permute(1, 0, 2);
        Tensor contiguous = TestTensors.gaussian(rnd, srcType, 1, hkv, 4, d);
        cache.append(s, strided, strided);
        cache.append(s, contiguous, contiguous);
        Tensor[] kv = cache.gather(s);
        for (int t = 0; t < 9; t++) {
          for (int h = 0; h < hkv; h++) {
            for (int e = 0; e < d; e++) {
              double src = t < 5 ? strided.getDouble(h, t, e) : contiguous.getDouble(h, t - 5, e);
              Tensor one = Tensor.zeros(cacheType, 1);
              one.set(src, 0);
              String what = cacheType + " <- " + srcType + " t=" + t + " h=" + h + " e=" + e;
              assertEquals(one.getDouble(0), kv[0].getDouble(0, h, t, e), what);
              assertEquals(one.getDouble(0), kv[1].getDouble(0, h, t, e), what);
            }
          }
        }
      }
    }
  }
}
