package dev.attention4j.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LseMergeTest {

  @Test
  void logAddExpHandlesInfinities() {
    double ninf = Double.NEGATIVE_INFINITY;
    assertEquals(ninf, LseMerge.logAddExp(ninf, ninf));
    assertEquals(2.5, LseMerge.logAddExp(ninf, 2.5));
    assertEquals(2.5, LseMerge.logAddExp(2.5, ninf));
    assertEquals(Math.log(Math.exp(1.0) + Math.exp(3.0)), LseMerge.logAddExp(1.0, 3.0), 1e-15);
    // no overflow for large values
    assertEquals(1000 + Math.log(2), LseMerge.logAddExp(1000, 1000), 1e-12);
    assertTrue(Double.isNaN(LseMerge.logAddExp(Double.NaN, 1)));
  }

  @Test
  void twoEmptyPartialsMergeToZero() {
    double[] a = {Double.NaN, 1};
    double[] b = {2, Double.NaN};
    double[] o = new double[2];
    double l = LseMerge.mergeRow(a, 0, Double.NEGATIVE_INFINITY, b, 0, Double.NEGATIVE_INFINITY,
        o, 0, 2);
    assertEquals(Double.NEGATIVE_INFINITY, l);
    assertArrayEquals(new double[] {0, 0}, o);
  }

  @Test
  void anEmptyPartialIsTheIdentityEvenIfItsOutputIsGarbage() {
    double[] a = {1.5, -2};
    double[] b = {Double.NaN, Double.POSITIVE_INFINITY};
    double[] o = new double[2];
    double l = LseMerge.mergeRow(a, 0, 0.75, b, 0, Double.NEGATIVE_INFINITY, o, 0, 2);
    assertEquals(0.75, l);
    assertArrayEquals(a, o);
  }

  @Test
  void weightsFollowTheLses() {
    // partial a over one key with logit 0 and value 1; partial b over one key with logit ln 3
    // and value 5: the whole is (1 * 1 + 3 * 5) / 4 = 4, LSE ln 4
    double[] o = new double[1];
    double l = LseMerge.mergeRow(new double[] {1}, 0, 0.0, new double[] {5}, 0, Math.log(3), o, 0,
        1);
    assertEquals(Math.log(4), l, 1e-15);
    assertEquals(4.0, o[0], 1e-14);
    float[] of = new float[1];
    float lf = LseMerge.mergeRow(new float[] {1}, 0, 0f, new float[] {5}, 0, (float) Math.log(3),
        of, 0, 1);
    assertEquals(Math.log(4), lf, 1e-6);
    assertEquals(4.0, of[0], 1e-5);
  }
}
