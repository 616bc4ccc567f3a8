package dev.attention4j.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.SplittableRandom;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code copyFrom}, {@code toFloatArray}, {@code toDoubleArray} and {@code fill} on views of any
 * layout (permuted, sliced, broadcast axes, every dtype) against element-by-element access through
 * {@code getDouble(int...)}, which walks no runs.
 */
class TensorCopyTest {

  static Stream<Integer> seeds() {
    return IntStream.range(0, 60).boxed();
  }

  /** A random view of rank 0 to 4 over a random backing tensor of the given dtype. */
  private static Tensor randomView(SplittableRandom rnd, DType dtype) {
    int rank = rnd.nextInt(5);
    int[] shape = new int[rank];
    for (int a = 0; a < rank; a++) {
      shape[a] = 1 + rnd.nextInt(rnd.nextInt(8) == 0 ? 1 : 6);
    }
    if (rank > 0 && rnd.nextInt(10) == 0) {
      shape[rnd.nextInt(rank)] = 0;
    }
    // a larger backing tensor, then a slice of every axis and a random permutation
    int[] big = shape.clone();
    int[] start = new int[rank];
    for (int a = 0; a < rank; a++) {
      start[a] = rnd.nextInt(3);
      big[a] = shape[a] + start[a] + rnd.nextInt(3);
    }
    int[] perm = IntStream.range(0, rank).toArray();
    for (int a = rank - 1; a > 0; a--) {
      int b = rnd.nextInt(a + 1);
      int x = perm[a];
      perm[a] = perm[b];
      perm[b] = x;
    }
    int[] backing = new int[rank];
    for (int a = 0; a < rank; a++) {
      backing[perm[a]] = big[a];
    }
    Tensor t = Tensor.zeros(dtype, backing);
    long n = t.size();
    for (int e = 0; e < n; e++) {
      t.setAt(e, rnd.nextInt(7) == 0 ? e : rnd.nextGaussian());
    }
    Tensor v = t.permute(perm);
    for (int a = 0; a < rank; a++) {
      v = v.slice(a, start[a], start[a] + shape[a]);
    }
    if (rank > 0 && rnd.nextInt(4) == 0) {
      v = v.unsqueeze(rnd.nextInt(rank + 1));
    }
    return v;
  }

  /** Every index of {@code shape} in C order. */
  private static int[][] indices(int[] shape) {
    long n = Tensor.elementCount(shape);
    int[][] out = new int[(int) n][];
    int[] index = new int[shape.length];
    for (int e = 0; e < n; e++) {
      out[e] = index.clone();
      for (int a = shape.length - 1; a >= 0; a--) {
        if (++index[a] < shape[a]) {
          break;
        }
        index[a] = 0;
      }
    }
    return out;
  }

  private static double[] byIndex(Tensor t) {
    int[][] idx = indices(t.shape());
    double[] out = new double[idx.length];
    for (int e = 0; e < idx.length; e++) {
      out[e] = t.getDouble(idx[e]);
    }
    return out;
  }

  private static DType dtype(SplittableRandom rnd) {
    return DType.values()[rnd.nextInt(DType.values().length)];
  }

  @ParameterizedTest
  @MethodSource("seeds")
  void readsEveryLayoutInCOrder(int seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    Tensor t = randomView(rnd, dtype(rnd));
    double[] want = byIndex(t);
    assertArrayEquals(want, t.toDoubleArray(), t.toString());
    float[] f = t.toFloatArray();
    assertEquals(want.length, f.length);
    for (int e = 0; e < f.length; e++) {
      assertEquals((float) want[e], f[e], t.toString());
    }
  }

  @ParameterizedTest
  @MethodSource("seeds")
  void copiesBetweenAnyTwoLayouts(int seed) {
    SplittableRandom rnd = new SplittableRandom(1000 + seed);
    Tensor src = randomView(rnd, dtype(rnd));
    // a destination of the same shape in another random layout and dtype
    Tensor dst = Tensor.zeros(dtype(rnd), src.shape());
    if (rnd.nextBoolean() && src.rank() > 1) {
      int r = src.rank();
      int[] s = src.shape();
      int[] swapped = s.clone();
      swapped[0] = s[r - 1];
      swapped[r - 1] = s[0];
      int[] axes = IntStream.range(0, r).toArray();
      axes[0] = r - 1;
      axes[r - 1] = 0;
      dst = Tensor.zeros(dtype(rnd), swapped).permute(axes);
    }
    double[] before = byIndex(src);
    dst.copyFrom(src);
    Tensor rounded = Tensor.zeros(dst.dtype(), new int[0]);
    double[] got = byIndex(dst);
    for (int e = 0; e < got.length; e++) {
      rounded.setAt(0, before[e]);
      assertEquals(rounded.getDoubleAt(0), got[e], src + " -> " + dst);
    }
    assertArrayEquals(before, byIndex(src), "the source is unchanged");
  }

  @ParameterizedTest
  @MethodSource("seeds")
  void fillWritesTheViewOnly(int seed) {
    SplittableRandom rnd = new SplittableRandom(2000 + seed);
    Tensor view = randomView(rnd, dtype(rnd));
    // the whole backing array as a flat tensor of the view's dtype
    Tensor flat = view.view(new int[] {view.storageLength()}, new long[] {1}, 0);
    double[] whole = flat.toDoubleArray();
    java.util.Set<Long> inView = new java.util.HashSet<>();
    for (int[] index : indices(view.shape())) {
      inView.add(view.storageIndex(index));
    }
    view.fill(-3.5);
    double[] after = flat.toDoubleArray();
    for (int e = 0; e < after.length; e++) {
      assertEquals(inView.contains((long) e) ? -3.5 : whole[e], after[e], "element " + e);
    }
  }

  @Test
  void copyRejectsAnotherShape() {
    Tensor a = Tensor.zeros(DType.F32, 2, 3);
    Tensor b = Tensor.zeros(DType.F32, 3, 2);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> a.copyFrom(b));
    assertEquals("shape [3, 2] != [2, 3]", e.getMessage());
  }
}
