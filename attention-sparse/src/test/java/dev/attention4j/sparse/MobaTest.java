package dev.attention4j.sparse;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionResult;
import dev.attention4j.core.DType;
import dev.attention4j.core.MaskMod;
import dev.attention4j.core.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** MoBA against the float64 reference under independently computed routing. */
class MobaTest {

  /**
   * SEMANTICS.md "MoBA" written out in float64: block means over real tokens, unscaled gates for
   * strictly past blocks, the current block always, top min(topk, n) with ties to the lower
   * index; visible iff selected and j <= t. Also returns the smallest gate margin at the cut.
   */
  static MaskMod oracle(Tensor q, Tensor k, int bk, int topk, double[] minMargin) {
    int b0 = q.dim(0);
    int hq = q.dim(1);
    int sq = q.dim(2);
    int sk = k.dim(2);
    int d = q.dim(3);
    int groups = hq / k.dim(1);
    int n = (sk + bk - 1) / bk;
    boolean[][][][] sel = new boolean[b0][hq][sq][n];
    minMargin[0] = Double.POSITIVE_INFINITY;
    for (int b = 0; b < b0; b++) {
      for (int h = 0; h < hq; h++) {
        int g = h / groups;
        double[][] kbar = new double[n][d];
        for (int j = 0; j < sk; j++) {
          for (int e = 0; e < d; e++) {
            kbar[j / bk][e] += k.getDouble(b, g, j, e) / (Math.min(sk, (j / bk + 1) * bk)
                - j / bk * bk);
          }
        }
        for (int i = 0; i < sq; i++) {
          int t = i + sk - sq;
          int cur = t / bk;
          List<double[]> past = new ArrayList<>();
          for (int c = 0; c < n; c++) {
            if ((c + 1) * bk <= t) {
              double s = 0;
              for (int e = 0; e < d; e++) {
                s += q.getDouble(b, h, i, e) * kbar[c][e];
              }
              past.add(new double[] {s, c});
            }
          }
          past.sort((x, y) -> x[0] != y[0] ? Double.compare(y[0], x[0])
              : Double.compare(x[1], y[1]));
          sel[b][h][i][cur] = true;
          int want = Math.min(topk, n) - 1;
          for (int r = 0; r < Math.min(want, past.size()); r++) {
            sel[b][h][i][(int) past.get(r)[1]] = true;
          }
          if (want > 0 && want < past.size()) {
            minMargin[0] = Math.min(minMargin[0], past.get(want - 1)[0] - past.get(want)[0]);
          }
        }
      }
    }
    return (b, h, i, j) -> j <= i + sk - sq && sel[b][h][i][j / bk];
  }

  static Stream<Arguments> cases() {
    return Stream.of(
        Arguments.of("prefill bk32 topk3", 1, 2, 2, 200, 200, 32, 3),
        Arguments.of("prefill GQA bk64 topk2 short tail", 2, 4, 2, 300, 300, 64, 2),
        Arguments.of("prefill bk16 topk5", 1, 2, 1, 260, 260, 16, 5),
        Arguments.of("prefill bk7 topk4 (blocks shorter than tiles)", 1, 1, 1, 150, 150, 7, 4),
        Arguments.of("decode Sq 3", 1, 8, 2, 3, 333, 32, 3),
        Arguments.of("decode Sq 1 MQA", 2, 4, 1, 1, 250, 50, 2));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void matchesTheReference(String name, int b, int hq, int hkv, int sq, int sk, int bk,
      int topk) {
    long seed = 31L * sk + 7L * bk + topk + sq;
    System.out.println("MobaTest " + name + " seed " + seed);
    SplittableRandom rnd = new SplittableRandom(seed);
    Tensor q = Support.gaussian(rnd, 1, b, hq, sq, 16);
    Tensor k = Support.gaussian(rnd, 1, b, hkv, sk, 16);
    Tensor v = Support.gaussian(rnd, 1, b, hkv, sk, 12);
    double[] margin = new double[1];
    MaskMod m = oracle(q, k, bk, topk, margin);
    assertTrue(margin[0] > 1e-4, "gate margin " + margin[0] + " too small for seed " + seed);
    AttentionOptions o = AttentionOptions.defaults();
    MobaAttention moba = new MobaAttention(bk, topk);
    AttentionResult got = moba.forward(q, k, v, o);
    AttentionResult ref = Support.reference(q, k, v, m, o);
    Support.assertClose(ref, got.out(), got.lse(), name);
    AttentionResult oracle = moba.reference().forward(q, k, v, o);
    Support.assertClose(ref, oracle.out(), oracle.lse(), name + " (library oracle)");
  }

  @Test
  void topkCoveringAllBlocksIsCausalAndTopkOneIsBlockDiagonal() {
    SplittableRandom rnd = new SplittableRandom(11);
    System.out.println("topkCoveringAllBlocksIsCausal seed 11");
    Tensor q = Support.gaussian(rnd, 1, 1, 2, 190, 16);
    Tensor k = Support.gaussian(rnd, 1, 1, 2, 190, 16);
    Tensor v = Support.gaussian(rnd, 1, 1, 2, 190, 16);
    AttentionOptions o = AttentionOptions.defaults();
    AttentionResult all = new MobaAttention(32, 6).forward(q, k, v, o);
    Support.assertClose(Support.reference(q, k, v, (b, h, i, j) -> j <= i, o), all.out(),
        all.lse(), "topk >= n");
    AttentionResult one = new MobaAttention(32, 1).forward(q, k, v, o);
    Support.assertClose(Support.reference(q, k, v, (b, h, i, j) -> j <= i && j / 32 == i / 32, o),
        one.out(), one.lse(), "topk 1");
    AttentionResult single = new MobaAttention(500, 2).forward(q, k, v, o);
    Support.assertClose(Support.reference(q, k, v, (b, h, i, j) -> j <= i, o), single.out(),
        single.lse(), "one block");
  }

  @Test
  void blockSizesUpToIntMaxAreOneBlock() {
    // the block count is ceil(Sk / Bk) without overflow: Bk near Integer.MAX_VALUE is one block
    SplittableRandom rnd = new SplittableRandom(12);
    System.out.println("blockSizesUpToIntMax seed 12");
    Tensor q = Support.gaussian(rnd, 1, 1, 2, 70, 16);
    Tensor k = Support.gaussian(rnd, 1, 1, 2, 70, 16);
    Tensor v = Support.gaussian(rnd, 1, 1, 2, 70, 16);
    AttentionOptions o = AttentionOptions.defaults();
    AttentionResult causal = Support.reference(q, k, v, (b, h, i, j) -> j <= i, o);
    for (int bk : new int[] {Integer.MAX_VALUE, Integer.MAX_VALUE - 1, (1 << 30) + 1}) {
      for (int topk : new int[] {1, Integer.MAX_VALUE}) {
        AttentionResult r = new MobaAttention(bk, topk).forward(q, k, v, o);
        Support.assertClose(causal, r.out(), r.lse(), "block size " + bk + " topk " + topk);
      }
      MobaKvState state = new MobaKvState(1, 2, 16, bk);
      state.append(k);
      assertArrayEquals(MobaAttention.blockMeans(k, bk), state.means());
    }
  }

  @Test
  void decodeWithIncrementalStateEqualsForward() {
    SplittableRandom rnd = new SplittableRandom(12);
    System.out.println("decodeWithIncrementalStateEqualsForward seed 12");
    int len = 230;
    Tensor q = Support.gaussian(rnd, 1, 1, 4, len, 16);
    Tensor k = Support.gaussian(rnd, 1, 1, 2, len, 16);
    Tensor v = Support.gaussian(rnd, 1, 1, 2, len, 16);
    AttentionOptions o = AttentionOptions.defaults();
    MobaAttention moba = new MobaAttention(32, 3);
    AttentionResult full = moba.forward(q, k, v, o);
    MobaKvState state = new MobaKvState(1, 2, 16, 32);
    state.append(k.slice(2, 0, 150));
    for (int t = 150; t < len; t += 40) {
      int end = Math.min(len, t + 40);
      state.append(k.slice(2, t, end));
      assertArrayEquals(MobaAttention.blockMeans(k.slice(2, 0, end), 32), state.means());
      // the last query of this step, routed with the state
      Tensor qi = q.slice(2, end - 1, end);
      Tensor out = Tensor.zeros(DType.F32, 1, 4, 1, 16);
      Tensor lse = Tensor.zeros(DType.F32, 1, 4, 1);
      moba.decode(qi, k.slice(2, 0, end), v.slice(2, 0, end), state, out, lse, o);
      AttentionResult pre = moba.forward(q.slice(2, 0, end), k.slice(2, 0, end),
          v.slice(2, 0, end), o);
      Support.assertSame(pre.out().slice(2, end - 1, end), out, 2e-6, "decode at " + end);
      if (end == len) {
        Support.assertSame(full.out().slice(2, len - 1, len), out, 2e-6, "decode vs forward");
      }
    }
    assertThrows(IllegalArgumentException.class, () -> moba.decode(q.slice(2, 0, 1),
        k.slice(2, 0, 100), v.slice(2, 0, 100), state, Tensor.zeros(DType.F32, 1, 4, 1, 16), null,
        o));
  }

  /**
   * A NaN key makes its block's gate NaN, which ranks above every number: every later query
   * whose top-k has room for a past block chooses that block, sees the NaN key and is NaN; so is
   * the NaN key's own block from the key on. The fast router, the library's float64 oracle and
   * the decode step agree on it, and nothing else is NaN.
   */
  @Test
  void aNanKeyRanksItsBlockFirstInEveryRouter() {
    SplittableRandom rnd = new SplittableRandom(14);
    System.out.println("aNanKeyRanksItsBlockFirst seed 14");
    int len = 40;
    int bk = 8;
    int bad = 25;
    Tensor q = Support.gaussian(rnd, 1, 1, 2, len, 8);
    Tensor k = Support.gaussian(rnd, 1, 1, 1, len, 8);
    Tensor v = Support.gaussian(rnd, 1, 1, 1, len, 4);
    k.set(Double.NaN, 0, 0, bad, 3);
    AttentionOptions o = AttentionOptions.defaults();
    for (int topk : new int[] {1, 2, 3}) {
      MobaAttention moba = new MobaAttention(bk, topk);
      AttentionResult got = moba.forward(q, k, v, o);
      AttentionResult oracle = moba.reference().forward(q, k, v, o);
      MobaKvState state = new MobaKvState(1, 1, 8, bk);
      state.append(k);
      Tensor step = Tensor.zeros(DType.F32, 1, 2, 1, 4);
      moba.decode(q.slice(2, len - 1, len), k, v, state, step, Tensor.zeros(DType.F32, 1, 2, 1),
          o);
      for (int h = 0; h < 2; h++) {
        for (int i = 0; i < len; i++) {
          boolean seesBad = i >= bad && (i / bk == bad / bk || topk >= 2);
          for (int e = 0; e < 4; e++) {
            String at = "topk " + topk + ", head " + h + ", row " + i + ", column " + e;
            assertEquals(seesBad, Double.isNaN(got.out().getDouble(0, h, i, e)), at);
            assertEquals(seesBad, Double.isNaN(oracle.out().getDouble(0, h, i, e)), at
                + " (oracle)");
          }
          assertEquals(seesBad, Double.isNaN(got.lse().getDouble(0, h, i)), "LSE row " + i);
        }
        assertEquals(topk >= 2, Double.isNaN(step.getDouble(0, h, 0, 0)), "decode, topk " + topk);
      }
    }
  }

  @Test
  void eachQueryAttendsToAtMostTopkBlocksIncludingItsOwn() {
    SplittableRandom rnd = new SplittableRandom(13);
    System.out.println("atMostTopkBlocks seed 13");
    Tensor q = Support.gaussian(rnd, 1, 1, 2, 300, 8);
    Tensor k = Support.gaussian(rnd, 1, 1, 2, 300, 8);
    MobaRouting r = new MobaAttention(20, 4).route(q, k, AttentionOptions.defaults());
    for (int h = 0; h < 2; h++) {
      for (int i = 0; i < 300; i++) {
        int[] s = r.selected(0, h, i);
        assertTrue(s.length <= 4 && s.length >= 1);
        assertEquals(i / 20, s[s.length - 1], "current block selected and last");
        assertEquals(Math.min(4, i / 20 + 1), s.length);
      }
    }
    assertThrows(IllegalArgumentException.class, () -> new MobaAttention(0, 2));
    assertThrows(IllegalArgumentException.class, () -> new MobaAttention(16, 0));
  }
}
