package dev.attention4j.sparse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionResult;
import dev.attention4j.core.DType;
import dev.attention4j.core.MaskMod;
import dev.attention4j.core.Tensor;
import dev.attention4j.core.TileClass;
import dev.attention4j.simd.SimdAttention;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Neighborhood attention against the float64 reference under an independent NATTEN predicate. */
class NeighborhoodTest {

  /**
   * SEMANTICS.md "Neighborhood attention", written out directly (no code shared with the kernel):
   * per axis, dilation groups, the shifted non-causal window, the truncated causal window.
   */
  static boolean visible1d(int len, int k, int s, int d, boolean causal, int x, int y) {
    if (x % d != y % d) {
      return false;
    }
    int g = x % d;
    int xg = x / d;
    int yg = y / d;
    int lg = len / d + (g < len % d ? 1 : 0);
    if (causal) {
      int lead = Math.min((xg / s) * s + s - 1, lg - 1);
      return yg <= xg && lead - yg < k;
    }
    int wl = k / 2;
    int wr = k / 2 + k % 2 - 1;
    int lead = Math.min((xg / s) * s + s / 2, lg - 1);
    int centre = Math.min(Math.max(lead, wl), lg - 1 - wr);
    return centre - wl <= yg && yg <= centre + wr;
  }

  static MaskMod oracle(int[] grid, int[] k, int[] s, int[] d, boolean[] c) {
    return (b, h, i, j) -> {
      int ri = i;
      int rj = j;
      for (int a = grid.length - 1; a >= 0; a--) {
        int x = ri % grid[a];
        int y = rj % grid[a];
        ri /= grid[a];
        rj /= grid[a];
        if (!visible1d(grid[a], k[a], s[a], d[a], c[a], x, y)) {
          return false;
        }
      }
      return true;
    };
  }

  static Stream<Arguments> cases() {
    return Stream.of(
        Arguments.of("1-D k7", new int[] {100}, new int[] {7}, new int[] {1}, new int[] {1},
            new boolean[] {false}),
        Arguments.of("1-D even k6 stride 4 dilation 3", new int[] {97}, new int[] {6},
            new int[] {4}, new int[] {3}, new boolean[] {false}),
        Arguments.of("1-D causal k9 stride 3", new int[] {130}, new int[] {9}, new int[] {3},
            new int[] {1}, new boolean[] {true}),
        Arguments.of("1-D causal dilation 2", new int[] {77}, new int[] {5}, new int[] {2},
            new int[] {2}, new boolean[] {true}),
        Arguments.of("2-D 7x5", new int[] {20, 23}, new int[] {7, 5}, new int[] {1},
            new int[] {1}, new boolean[] {false}),
        Arguments.of("2-D even 4x6 stride 2x3 dilation 2x1", new int[] {17, 30},
            new int[] {4, 6}, new int[] {2, 3}, new int[] {2, 1}, new boolean[] {false}),
        Arguments.of("2-D causal rows", new int[] {12, 40}, new int[] {5, 9},
            new int[] {1, 2}, new int[] {1, 2}, new boolean[] {true, false}),
        Arguments.of("2-D wide lines (tiles inside lines)", new int[] {5, 130}, new int[] {3, 11},
            new int[] {1}, new int[] {1}, new boolean[] {false}),
        Arguments.of("2-D windows, stride = kernel (Swin)", new int[] {16, 24}, new int[] {8},
            new int[] {8}, new int[] {1}, new boolean[] {false}),
        Arguments.of("3-D", new int[] {5, 6, 7}, new int[] {3, 4, 3}, new int[] {1, 2, 3},
            new int[] {1, 1, 2}, new boolean[] {false, true, false}),
        Arguments.of("3-D causal time", new int[] {4, 8, 8}, new int[] {2, 3, 3},
            new int[] {2, 1, 1}, new int[] {1, 2, 2}, new boolean[] {true, false, false}));
  }

  /**
   * The cases above run both ways of reading K and V on the permuted path: through the token
   * order a key tile at a time (plans that visit each key only a few times, like Swin windows)
   * and from scratch copies in the plan's order (dense neighborhoods).
   */
  @Test
  void theCasesCoverBothWaysOfReadingKeys() {
    int through = 0;
    int copied = 0;
    for (Arguments a : cases().toList()) {
      Object[] x = a.get();
      Neighborhood nb = Neighborhood.of((int[]) x[1], (int[]) x[2], (int[]) x[3], (int[]) x[4],
          (boolean[]) x[5]);
      double visits = new NeighborhoodPatches(nb, 48).visitsPerKey;
      assertTrue(visits >= 1, x[0] + ": every key is visited at least once, got " + visits);
      if (visits <= NeighborhoodAttention.GATHER_MAX_VISITS) {
        through++;
      } else {
        copied++;
      }
    }
    assertTrue(through > 0 && copied > 0, through + " cases read keys through the order, "
        + copied + " from copies");
    Neighborhood swin = Neighborhood.of(new int[] {64, 64}, new int[] {8}, new int[] {8},
        new int[] {1}, new boolean[] {false});
    assertTrue(new NeighborhoodPatches(swin, 48).visitsPerKey
        <= NeighborhoodAttention.GATHER_MAX_VISITS);
    Neighborhood dense = Neighborhood.of(new int[] {64, 64}, 13);
    assertTrue(new NeighborhoodPatches(dense, 48).visitsPerKey
        > NeighborhoodAttention.GATHER_MAX_VISITS);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void matchesTheReference(String name, int[] grid, int[] k, int[] s, int[] d, boolean[] c) {
    long seed = Arrays.hashCode(grid) * 31L + Arrays.hashCode(k);
    System.out.println("NeighborhoodTest " + name + " seed " + seed);
    SplittableRandom rnd = new SplittableRandom(seed);
    Neighborhood nb = Neighborhood.of(grid, k, s, d, c);
    int n = nb.tokens();
    Tensor q = Support.gaussian(rnd, 1, 1, 4, n, 16);
    Tensor kk = Support.gaussian(rnd, 1, 1, 2, n, 16);
    Tensor v = Support.gaussian(rnd, 1, 1, 2, n, 8);
    AttentionOptions o = AttentionOptions.builder().scale(0.4).build();
    AttentionResult got = new NeighborhoodAttention(nb).forward(q, kk, v, o);
    int[] sFull = expand(s, grid.length);
    AttentionResult ref = Support.reference(q, kk, v,
        oracle(grid, expand(k, grid.length), sFull, expand(d, grid.length), expandB(c,
            grid.length)), o);
    Support.assertClose(ref, got.out(), got.lse(), name);
  }

  /**
   * The fused plan against the exact mask, in original coordinates: every FULL key range is
   * visible to every query of its tile, the ranges of a tile are disjoint, and every key a query
   * sees lies in a range of its tile; the query tiles cover every token once. For the engine
   * widths' tile sizes (48, 24 and 12 rows).
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void fusedPlanIsExact(String name, int[] grid, int[] k, int[] s, int[] d, boolean[] c) {
    Neighborhood nb = Neighborhood.of(grid, k, s, d, c);
    NeighborhoodMask m = nb.mask();
    int n = nb.tokens();
    for (int tileRows : new int[] {48, 24, 12}) {
      NeighborhoodPatches plan = new NeighborhoodPatches(nb, tileRows);
      int[] order = plan.order;
      assertEquals(n, plan.starts[plan.keys.length], name);
      boolean[] inRange = new boolean[n];
      for (int t = 0; t < plan.keys.length; t++) {
        int r0 = plan.starts[t];
        int r1 = plan.starts[t + 1];
        assertTrue(r1 > r0 && r1 - r0 <= tileRows, name + " tile " + t + " rows " + r0 + ".." + r1);
        Arrays.fill(inRange, false);
        var tiles = plan.keys[t];
        for (int x = 0; x < tiles.size(); x++) {
          for (int j = tiles.start(x); j < tiles.end(x); j++) {
            assertTrue(!inRange[j], name + ": key " + j + " listed twice for tile " + t);
            inRange[j] = true;
            if (tiles.isFull(x)) {
              for (int r = r0; r < r1; r++) {
                assertTrue(m.allows(0, 0, order[r], order[j]), name + ": FULL range of tile " + t
                    + " holds key " + order[j] + " that query " + order[r] + " does not see");
              }
            }
          }
        }
        for (int r = r0; r < r1; r++) {
          for (int j = 0; j < n; j++) {
            if (m.allows(0, 0, order[r], order[j])) {
              assertTrue(inRange[j], name + ": query " + order[r] + " sees key " + order[j]
                  + " outside the ranges of tile " + t);
            }
          }
        }
      }
    }
  }

  /**
   * The permuted layout: inputs permuted by the kernel's own {@link TokenPermutation}, run in
   * place, outputs permuted back, equal bit for bit to the natural-layout call (the same plan,
   * the same engine arithmetic) and so to the reference; float16 K/V and strided views included.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void permutedLayoutEqualsTheNaturalOne(String name, int[] grid, int[] k, int[] s, int[] d,
      boolean[] c) {
    long seed = Arrays.hashCode(grid) * 17L + Arrays.hashCode(s);
    SplittableRandom rnd = new SplittableRandom(seed);
    Neighborhood nb = Neighborhood.of(grid, k, s, d, c);
    int n = nb.tokens();
    Tensor q = Support.gaussian(rnd, 1, 2, 4, n, 24);
    Tensor kk = Support.gaussian(rnd, 1, 2, 2, n, 24);
    Tensor v = Support.gaussian(rnd, 1, 2, 2, n, 8);
    AttentionOptions o = AttentionOptions.builder().softcap(7).build();
    NeighborhoodAttention na = new NeighborhoodAttention(nb);
    AttentionResult natural = na.forward(q, kk, v, o);
    TokenPermutation p = na.permutation();
    Tensor out = Tensor.zeros(DType.F32, 2, 4, n, 8);
    Tensor lse = Tensor.zeros(DType.F32, 2, 4, n);
    na.forwardPermuted(p.permute(q), p.permute(kk), p.permute(v), out, lse, o);
    Tensor o1 = p.unpermute(out);
    Tensor l1 = p.unpermute(lse.reshape(2, 4, n, 1));
    for (int b = 0; b < 2; b++) {
      for (int h = 0; h < 4; h++) {
        for (int i = 0; i < n; i++) {
          assertEquals(natural.lse().getDouble(b, h, i), l1.getDouble(b, h, i, 0),
              name + " lse " + b + "," + h + "," + i);
          for (int e = 0; e < 8; e++) {
            assertEquals(natural.out().getDouble(b, h, i, e), o1.getDouble(b, h, i, e),
                name + " out " + b + "," + h + "," + i + "," + e);
          }
        }
      }
    }
    AttentionResult ref = na.reference().forward(q, kk, v, o);
    Support.assertClose(ref, natural.out(), natural.lse(), name + " (natural)");
    // float16 K/V through strided views take the natural path's conversion
    Tensor k16 = Tensor.zeros(DType.F16, 2, n, 2, 24).permute(0, 2, 1, 3);
    k16.copyFrom(kk);
    Tensor v16 = Tensor.zeros(DType.F16, 2, 2, n, 8);
    v16.copyFrom(v);
    AttentionResult half = na.forward(q, k16, v16, o);
    Support.assertClose(na.reference().forward(q, k16, v16, o), half.out(), half.lse(),
        name + " (f16 K/V, strided)");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void predicateMatchesTheOracleAndCountsAreExact(String name, int[] grid, int[] k, int[] s,
      int[] d, boolean[] c) {
    Neighborhood nb = Neighborhood.of(grid, k, s, d, c);
    NeighborhoodMask m = nb.mask();
    MaskMod o = oracle(grid, expand(k, grid.length), expand(s, grid.length),
        expand(d, grid.length), expandB(c, grid.length));
    int n = nb.tokens();
    boolean anyCausal = false;
    for (boolean x : c) {
      anyCausal |= x;
    }
    long product = 1;
    for (int a = 0; a < grid.length; a++) {
      product *= expand(k, grid.length)[a];
    }
    for (int i = 0; i < n; i++) {
      int count = 0;
      for (int j = 0; j < n; j++) {
        boolean want = o.allows(0, 0, i, j);
        assertEquals(want, m.allows(0, 0, i, j), name + " i=" + i + " j=" + j);
        count += want ? 1 : 0;
      }
      assertEquals(count, m.visibleKeys(i), name + " count of row " + i);
      if (!anyCausal) {
        // invariant 2: every non-causal query sees exactly prod(k) keys
        assertEquals(product, count, name + " row " + i);
      }
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void classifierIsSound(String name, int[] grid, int[] k, int[] s, int[] d, boolean[] c) {
    Neighborhood nb = Neighborhood.of(grid, k, s, d, c);
    NeighborhoodMask m = nb.mask();
    int n = nb.tokens();
    long seed = 17L * n + name.length();
    System.out.println("classifierIsSound " + name + " seed " + seed);
    SplittableRandom rnd = new SplittableRandom(seed);
    int full = 0;
    int empty = 0;
    for (int t = 0; t < 400; t++) {
      int i0 = rnd.nextInt(n);
      int i1 = Math.min(n, i0 + 1 + rnd.nextInt(t % 2 == 0 ? 4 : 48));
      int j0 = rnd.nextInt(n);
      int j1 = Math.min(n, j0 + 1 + rnd.nextInt(t % 3 == 0 ? 3 : 64));
      TileClass cls = m.classify(0, 0, i0, i1, j0, j1);
      boolean all = true;
      boolean any = false;
      for (int i = i0; i < i1; i++) {
        for (int j = j0; j < j1; j++) {
          boolean a = m.allows(0, 0, i, j);
          all &= a;
          any |= a;
        }
      }
      if (cls == TileClass.FULL) {
        assertTrue(all, name + " FULL claim wrong for " + i0 + ".." + i1 + " x " + j0 + ".." + j1);
        full++;
      } else if (cls == TileClass.EMPTY) {
        assertTrue(!any, name + " EMPTY claim wrong for " + i0 + ".." + i1 + " x " + j0 + ".."
            + j1);
        empty++;
      }
    }
    System.out.println("  FULL " + full + ", EMPTY " + empty + " of 400");
  }

  @Test
  void kernelEqualToTheGridIsDenseAttention() {
    SplittableRandom rnd = new SplittableRandom(5);
    System.out.println("kernelEqualToTheGridIsDenseAttention seed 5");
    Tensor q = Support.gaussian(rnd, 1, 1, 2, 12 * 9, 16);
    Tensor k = Support.gaussian(rnd, 1, 1, 2, 12 * 9, 16);
    Tensor v = Support.gaussian(rnd, 1, 1, 2, 12 * 9, 16);
    AttentionOptions o = AttentionOptions.defaults();
    AttentionResult na = new NeighborhoodAttention(Neighborhood.of(new int[] {12, 9}, 12, 9))
        .forward(q, k, v, o);
    Support.assertClose(Support.reference(q, k, v, null, o), na.out(), na.lse(), "k == grid");
    // with causal on a 1-D axis, k = L is top-left causal attention
    Neighborhood causal = Neighborhood.of(new int[] {108}, new int[] {108}, new int[] {1},
        new int[] {1}, new boolean[] {true});
    AttentionResult c = new NeighborhoodAttention(causal).forward(q, k, v, o);
    Support.assertClose(Support.reference(q, k, v, (b, h, i, j) -> j <= i, o), c.out(), c.lse(),
        "causal k == L");
  }

  @Test
  void strideEqualToKernelIsWindowAttention() {
    SplittableRandom rnd = new SplittableRandom(6);
    System.out.println("strideEqualToKernelIsWindowAttention seed 6");
    int[] grid = {12, 16};
    Tensor q = Support.gaussian(rnd, 1, 1, 2, 192, 16);
    Tensor k = Support.gaussian(rnd, 1, 1, 2, 192, 16);
    Tensor v = Support.gaussian(rnd, 1, 1, 2, 192, 16);
    Neighborhood swin = Neighborhood.of(grid, new int[] {4, 8}, new int[] {4, 8}, new int[] {1},
        new boolean[] {false});
    AttentionResult got = new NeighborhoodAttention(swin).forward(q, k, v,
        AttentionOptions.defaults());
    MaskMod windows = (b, h, i, j) -> i / 16 / 4 == j / 16 / 4 && i % 16 / 8 == j % 16 / 8;
    Support.assertClose(Support.reference(q, k, v, windows, AttentionOptions.defaults()),
        got.out(), got.lse(), "stride == kernel");
    // every visited run of a window-aligned permuted layout is FULL
    TokenPermutation p = TokenPermutation.tiles(grid, new int[] {4, 8});
    assertEquals(192, p.size());
  }

  @Test
  void extraKeysEqualAttentionOverTheConcatenation() {
    SplittableRandom rnd = new SplittableRandom(7);
    System.out.println("extraKeysEqualAttentionOverTheConcatenation seed 7");
    int n = 64;
    int e = 5;
    Tensor q = Support.gaussian(rnd, 1, 2, 4, n, 16);
    Tensor k = Support.gaussian(rnd, 1, 2, 2, n, 16);
    Tensor v = Support.gaussian(rnd, 1, 2, 2, n, 8);
    Tensor ek = Support.gaussian(rnd, 1, 2, 2, e, 16);
    Tensor ev = Support.gaussian(rnd, 1, 2, 2, e, 8);
    Neighborhood nb = Neighborhood.of(new int[] {8, 8}, 3, 5);
    Tensor out = Tensor.zeros(DType.F32, 2, 4, n, 8);
    Tensor lse = Tensor.zeros(DType.F32, 2, 4, n);
    new NeighborhoodAttention(nb).forward(q, k, v, ek, ev, out, lse, AttentionOptions.defaults());
    Tensor kc = concat(k, ek);
    Tensor vc = concat(v, ev);
    MaskMod base = oracle(new int[] {8, 8}, new int[] {3, 5}, new int[] {1, 1},
        new int[] {1, 1}, new boolean[] {false, false});
    MaskMod m = (b, h, i, j) -> j >= n || base.allows(b, h, i, j);
    Support.assertClose(Support.reference(q, kc, vc, m, AttentionOptions.defaults()), out, lse,
        "extra KV");
  }

  @Test
  void invalidParametersNameTheAxis() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Neighborhood.of(new int[] {16, 10}, new int[] {3, 6}, new int[] {1},
            new int[] {1, 2}, new boolean[] {false}));
    assertTrue(e.getMessage().contains("axis 1") && e.getMessage().contains("12")
        && e.getMessage().contains("10"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Neighborhood.of(new int[] {16},
        new int[] {3}, new int[] {4}, new int[] {1}, new boolean[] {false}));
    assertTrue(e.getMessage().contains("axis 0") && e.getMessage().contains("stride 4"),
        e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Neighborhood.of(new int[] {16, 16},
        1, 3));
    assertTrue(e.getMessage().contains("axis 0") && e.getMessage().contains("kernel size 1"),
        e.getMessage());
    Neighborhood nb = Neighborhood.of(new int[] {4, 4}, 3);
    Tensor q = Tensor.zeros(DType.F32, 1, 1, 15, 8);
    e = assertThrows(IllegalArgumentException.class,
        () -> new NeighborhoodAttention(nb).forward(q, q, q, AttentionOptions.defaults()));
    assertTrue(e.getMessage().contains("16") && e.getMessage().contains("15"), e.getMessage());
    Tensor k = Tensor.zeros(DType.F32, 1, 1, 16, 8);
    e = assertThrows(IllegalArgumentException.class,
        () -> new NeighborhoodAttention(nb).forward(q, k, k, AttentionOptions.defaults()));
    assertTrue(e.getMessage().contains("Sq == Sk"), e.getMessage());
    // the permuted layout has no row-major positions for ALiBi
    Tensor t = Tensor.zeros(DType.F32, 1, 1, 16, 8);
    AttentionOptions alibi = AttentionOptions.builder().alibiSlopes(new double[] {0.5}).build();
    e = assertThrows(IllegalArgumentException.class, () -> new NeighborhoodAttention(nb)
        .forwardPermuted(t, t, t, Tensor.zeros(DType.F32, 1, 1, 16, 8), null, alibi));
    assertTrue(e.getMessage().contains("ALiBi"), e.getMessage());
  }

  @Test
  void permutationRoundTrips() {
    TokenPermutation p = TokenPermutation.tiles(new int[] {5, 7, 9}, new int[] {2, 3, 4});
    int[] fwd = p.order();
    boolean[] seen = new boolean[fwd.length];
    for (int t = 0; t < fwd.length; t++) {
      seen[fwd[t]] = true;
      assertEquals(t, p.inverse()[fwd[t]]);
    }
    for (boolean b : seen) {
      assertTrue(b);
    }
    SplittableRandom rnd = new SplittableRandom(8);
    Tensor x = Support.gaussian(rnd, 1, 2, 3, 315, 4);
    Tensor y = p.permute(x);
    assertEquals(x.getDouble(1, 2, fwd[10], 3), y.getDouble(1, 2, 10, 3));
    Tensor back = p.unpermute(y);
    assertTrue(Arrays.equals(x.floatData(), back.floatData()));
    // the first tile is the 2x3x4 box at the origin
    for (int t = 0; t < 24; t++) {
      int tok = fwd[t];
      assertTrue(tok / 63 < 2 && tok / 9 % 7 < 3 && tok % 9 < 4, "token " + tok);
    }
  }

  @Tag("long")
  @Test
  void randomSweep() {
    SplittableRandom rnd = new SplittableRandom(99);
    for (int t = 0; t < 60; t++) {
      int n = 1 + rnd.nextInt(3);
      int[] grid = new int[n];
      int[] k = new int[n];
      int[] s = new int[n];
      int[] d = new int[n];
      boolean[] c = new boolean[n];
      for (int a = 0; a < n; a++) {
        grid[a] = 2 + rnd.nextInt(n == 1 ? 200 : (n == 2 ? 24 : 9));
        d[a] = 1 + rnd.nextInt(Math.max(1, grid[a] / 4));
        k[a] = 2 + rnd.nextInt(Math.max(1, grid[a] / d[a] - 1));
        s[a] = 1 + rnd.nextInt(k[a]);
        c[a] = rnd.nextInt(3) == 0;
      }
      matchesTheReference("sweep " + t, grid, k, s, d, c);
    }
  }

  private static int[] expand(int[] x, int n) {
    return x.length == n ? x : LongStream.range(0, n).mapToInt(a -> x[0]).toArray();
  }

  private static boolean[] expandB(boolean[] x, int n) {
    boolean[] r = new boolean[n];
    for (int a = 0; a < n; a++) {
      r[a] = x[x.length == 1 ? 0 : a];
    }
    return r;
  }

  private static Tensor concat(Tensor a, Tensor b) {
    int[] sa = a.shape();
    int[] shape = {sa[0], sa[1], sa[2] + b.dim(2), sa[3]};
    Tensor c = Tensor.zeros(DType.F32, shape);
    c.slice(2, 0, sa[2]).copyFrom(a);
    c.slice(2, sa[2], shape[2]).copyFrom(b);
    return c;
  }
}
