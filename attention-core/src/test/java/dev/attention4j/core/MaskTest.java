package dev.attention4j.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.util.SplittableRandom;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Analytic block classification agrees with element-wise evaluation. */
class MaskTest {

  static Stream<Arguments> seeds() {
    return IntStream.range(0, 40).mapToObj(c -> Arguments.of(0xB10CL + c));
  }

  /** What an element-wise scan says about a block. */
  static TileClass scan(Mask m, int i0, int i1, int j0, int j1, long diag) {
    boolean any = false;
    boolean all = true;
    for (int i = i0; i < i1; i++) {
      for (int j = j0; j < j1; j++) {
        boolean a = m.allows(0, 0, i, j, diag);
        any |= a;
        all &= a;
      }
    }
    return all ? TileClass.FULL : any ? TileClass.PARTIAL : TileClass.EMPTY;
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void bandClassificationIsExact(long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    for (int t = 0; t < 200; t++) {
      Mask m = new Mask.Band(rnd.nextInt(40) - 1, rnd.nextInt(40) - 1);
      int i0 = rnd.nextInt(100);
      int j0 = rnd.nextInt(100);
      int i1 = i0 + 1 + rnd.nextInt(20);
      int j1 = j0 + 1 + rnd.nextInt(20);
      long diag = rnd.nextInt(60) - 30;
      // a band's visible set per row is an interval moving right, so the analytic answer is exact
      assertEquals(scan(m, i0, i1, j0, j1, diag), m.classify(0, 0, i0, i1, j0, j1, diag),
          m + " block " + i0 + ".." + i1 + " x " + j0 + ".." + j1 + " diag " + diag);
    }
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void documentClassificationIsSafe(long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    int n = 120;
    int[] ids = new int[n];
    boolean sorted = rnd.nextBoolean();
    for (int t = 1; t < n; t++) {
      ids[t] = sorted ? ids[t - 1] + (rnd.nextInt(15) == 0 ? 1 : 0) : rnd.nextInt(3);
    }
    Mask m = new Mask.Documents(new int[][] {ids});
    for (int t = 0; t < 200; t++) {
      int i0 = rnd.nextInt(n);
      int j0 = rnd.nextInt(n);
      int i1 = Math.min(n, i0 + 1 + rnd.nextInt(20));
      int j1 = Math.min(n, j0 + 1 + rnd.nextInt(20));
      TileClass exact = scan(m, i0, i1, j0, j1, 0);
      TileClass got = m.classify(0, 0, i0, i1, j0, j1, 0);
      // PARTIAL is always allowed; FULL and EMPTY must be exact
      if (got != TileClass.PARTIAL) {
        assertEquals(exact, got);
      }
      if (sorted && exact != TileClass.PARTIAL) {
        assertEquals(exact, got, "sorted ids classify exactly");
      }
    }
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void intersectionNeverClaimsTooMuch(long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    Mask m = new Mask.And(java.util.List.of(new Mask.Band(rnd.nextInt(30) - 1, 0),
        Mask.custom((b, h, i, j) -> (i ^ j) % 3 != 1)));
    for (int t = 0; t < 100; t++) {
      int i0 = rnd.nextInt(80);
      int j0 = rnd.nextInt(80);
      int i1 = i0 + 1 + rnd.nextInt(12);
      int j1 = j0 + 1 + rnd.nextInt(12);
      TileClass exact = scan(m, i0, i1, j0, j1, 3);
      TileClass got = m.classify(0, 0, i0, i1, j0, j1, 3);
      if (got != TileClass.PARTIAL) {
        assertEquals(exact, got);
      } else {
        assertNotEquals(TileClass.FULL, exact == TileClass.FULL ? TileClass.PARTIAL : exact);
      }
    }
  }
}
