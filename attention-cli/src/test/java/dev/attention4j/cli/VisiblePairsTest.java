package dev.attention4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.attention4j.core.Alignment;
import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.Mask;
import org.junit.jupiter.api.Test;

/** The analytic pair count against enumerating every (query, key) pair with the mask. */
class VisiblePairsTest {

  private static long bruteForce(int batch, int qHeads, int qLen, int kvLen, AttentionOptions o) {
    Mask mask = o.mask();
    long n = 0;
    for (int b = 0; b < batch; b++) {
      int valid = o.kvLen(b, kvLen);
      long diag = o.diagonal(b, qLen, kvLen);
      for (int h = 0; h < qHeads; h++) {
        for (int i = 0; i < qLen; i++) {
          for (int j = 0; j < valid; j++) {
            if (mask == null || mask.allows(b, h, i, j, diag)) {
              n++;
            }
          }
        }
      }
    }
    return n;
  }

  @Test
  void matchesEnumerationOverManyMasks() {
    int[] lengths = {1, 2, 5, 13, 31};
    int[][] windows = {{-1, -1}, {0, 0}, {3, -1}, {-1, 2}, {2, 5}, {0, -1}, {40, 1}};
    int checked = 0;
    for (int sq : lengths) {
      for (int sk : lengths) {
        for (boolean causal : new boolean[] {false, true}) {
          for (Alignment a : Alignment.values()) {
            for (int[] w : windows) {
              for (int[] lens : new int[][] {null, {0, sk}, {sk / 2, Math.max(0, sk - 1)}}) {
                int batch = lens == null ? 2 : lens.length;
                AttentionOptions o = AttentionOptions.builder().causal(causal).alignment(a)
                    .window(w[0], w[1]).kvLens(lens).build();
                assertEquals(bruteForce(batch, 3, sq, sk, o), VisiblePairs.count(batch, 3, sq, sk,
                    o), () -> "Sq " + sq + " Sk " + sk + " " + o);
                checked++;
              }
            }
          }
        }
      }
    }
    assertEquals(5 * 5 * 2 * 2 * 7 * 3, checked);
  }
}
