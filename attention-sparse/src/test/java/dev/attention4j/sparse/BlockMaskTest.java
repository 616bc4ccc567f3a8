package dev.attention4j.sparse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.core.Alignment;
import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionResult;
import dev.attention4j.core.Mask;
import dev.attention4j.core.MaskMod;
import dev.attention4j.core.Tensor;
import dev.attention4j.core.TileClass;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** BlockMask construction, composition and BlockSparseAttention against the float64 reference. */
class BlockMaskTest {

  static Stream<Arguments> blockSizes() {
    return Stream.of(Arguments.of(16, 16), Arguments.of(64, 32), Arguments.of(128, 128),
        Arguments.of(7, 13), Arguments.of(48, 200));
  }

  /** Causal sliding window, bottom-right with Sq < Sk, GQA: any block size gives the same result. */
  @ParameterizedTest(name = "blocks {0}x{1}")
  @MethodSource("blockSizes")
  void bandMasksMatchTheReferenceForAnyBlockSize(int qBlock, int kBlock) {
    long seed = 1000L * qBlock + kBlock;
    System.out.println("bandMasks seed " + seed);
    SplittableRandom rnd = new SplittableRandom(seed);
    Tensor q = Support.gaussian(rnd, 1, 2, 4, 150, 16);
    Tensor k = Support.gaussian(rnd, 1, 2, 2, 230, 16);
    Tensor v = Support.gaussian(rnd, 1, 2, 2, 230, 8);
    AttentionOptions maskOpts = AttentionOptions.builder().causal(true).window(37, -1).build();
    BlockMask bm = BlockMask.of(maskOpts, 2, 1, 150, 230, qBlock, kBlock);
    AttentionResult got = new BlockSparseAttention().forward(q, k, v, bm,
        AttentionOptions.defaults());
    // SEMANTICS: bottom-right off = Sk - Sq; visible iff i + off - 37 <= j <= i + off
    MaskMod m = (b, h, i, j) -> j <= i + 80 && j >= i + 80 - 37;
    Support.assertClose(Support.reference(q, k, v, m, AttentionOptions.defaults()), got.out(),
        got.lse(), "causal window " + qBlock + "x" + kBlock);
    // the band's tiles are visited only near the diagonal: O(listed) blocks
    long listed = bm.counts()[0];
    assertTrue(listed <= 2L * bm.qBlocks() * (2 + (37 + qBlock) / kBlock + 1), bm.toString());
  }

  @Test
  void topLeftAlignmentAndEmptyRows() {
    SplittableRandom rnd = new SplittableRandom(3);
    System.out.println("topLeftAlignmentAndEmptyRows seed 3");
    Tensor q = Support.gaussian(rnd, 1, 1, 2, 90, 8);
    Tensor k = Support.gaussian(rnd, 1, 1, 2, 40, 8);
    Tensor v = Support.gaussian(rnd, 1, 1, 2, 40, 8);
    // bottom-right causal with Sq > Sk: the first 50 rows see nothing (O = 0, LSE = -inf)
    BlockMask bm = BlockMask.of(AttentionOptions.builder().causal(true).build(), 1, 1, 90, 40, 32,
        16);
    AttentionResult got = new BlockSparseAttention().forward(q, k, v, bm,
        AttentionOptions.defaults());
    Support.assertClose(Support.reference(q, k, v, (b, h, i, j) -> j <= i - 50,
        AttentionOptions.defaults()), got.out(), got.lse(), "bottom-right Sq > Sk");
    // the options' alignment moves the band: top-left, run with top-left options too
    AttentionOptions tl = AttentionOptions.builder().alignment(Alignment.TOP_LEFT).build();
    BlockMask bt = BlockMask.of(tl.toBuilder().causal(true).build(), 1, 1, 90, 40, 32, 16);
    AttentionResult got2 = new BlockSparseAttention().forward(q, k, v, bt, tl);
    Support.assertClose(Support.reference(q, k, v, (b, h, i, j) -> j <= i, tl), got2.out(),
        got2.lse(), "top-left");
  }

  @Test
  void documentsAndCustomMasksAndComposition() {
    SplittableRandom rnd = new SplittableRandom(4);
    System.out.println("documentsAndCustomMasksAndComposition seed 4");
    int n = 120;
    Tensor q = Support.gaussian(rnd, 1, 1, 3, n, 16);
    Tensor k = Support.gaussian(rnd, 1, 1, 3, n, 16);
    Tensor v = Support.gaussian(rnd, 1, 1, 3, n, 16);
    int[][] docs = new int[1][n];
    for (int t = 0; t < n; t++) {
      docs[0][t] = t < 30 ? 0 : (t < 95 ? 1 : 2);
    }
    BlockMask doc = BlockMask.of(AttentionOptions.builder().documentIds(docs).causal(true)
        .build(), 1, 1, n, n, 16, 16);
    MaskMod stripes = (b, h, i, j) -> (i + 2 * j + h) % 5 != 0;
    BlockMask custom = BlockMask.of(Mask.custom(stripes), 1, 3, n, n, 16, 16);
    MaskMod docCausal = (b, h, i, j) -> j <= i && docs[0][i] == docs[0][j];
    BlockSparseAttention kernel = new BlockSparseAttention();
    AttentionOptions o = AttentionOptions.defaults();
    AttentionResult a = kernel.forward(q, k, v, doc.and(custom), o);
    Support.assertClose(Support.reference(q, k, v,
        (b, h, i, j) -> docCausal.allows(b, h, i, j) && stripes.allows(b, h, i, j), o), a.out(),
        a.lse(), "and");
    AttentionResult u = kernel.forward(q, k, v, doc.or(custom), o);
    Support.assertClose(Support.reference(q, k, v,
        (b, h, i, j) -> docCausal.allows(b, h, i, j) || stripes.allows(b, h, i, j), o), u.out(),
        u.lse(), "or");
    // and(causal, noop) == causal; or(m, not m) == noop (kernel-notes §2.4)
    BlockMask noop = BlockMask.of(Mask.custom((b, h, i, j) -> true), 1, 1, n, n, 16, 16);
    BlockMask not = BlockMask.of(Mask.custom((b, h, i, j) -> !stripes.allows(b, h, i, j)), 1, 3,
        n, n, 16, 16);
    assertEquals(noop.qBlocks() * noop.kBlocks(), noop.counts()[1]);
    BlockMask all = custom.or(not);
    for (int h = 0; h < 3; h++) {
      for (int qb = 0; qb < all.qBlocks(); qb++) {
        for (int kb = 0; kb < all.kBlocks(); kb++) {
          assertEquals(TileClass.PARTIAL, all.classOf(0, h, qb, kb));
        }
      }
    }
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < n; j++) {
        assertTrue(all.allows(0, 1, i, j));
        assertEquals(doc.allows(0, 0, i, j), doc.and(noop).allows(0, 0, i, j));
      }
    }
  }

  @Test
  void explicitBlocksWithAnElementMask() {
    SplittableRandom rnd = new SplittableRandom(5);
    System.out.println("explicitBlocksWithAnElementMask seed 5");
    int n = 100;
    Tensor q = Support.gaussian(rnd, 1, 1, 2, n, 8);
    Tensor k = Support.gaussian(rnd, 1, 1, 2, n, 8);
    Tensor v = Support.gaussian(rnd, 1, 1, 2, n, 8);
    MaskMod even = (b, h, i, j) -> (i + j) % 2 == 0;
    BlockMask.Builder builder = BlockMask.builder(1, 2, n, n, 20, 25).elementMask(even);
    builder.add(0, 0, 0, 0).add(0, 0, 1, 3, TileClass.PARTIAL).add(0, 1, 4, 2)
        .add(0, 1, 4, 2, TileClass.PARTIAL).add(0, 1, 2, 1).add(0, 0, 3, 0, TileClass.EMPTY);
    BlockMask bm = builder.build();
    assertEquals(TileClass.PARTIAL, bm.classOf(0, 1, 4, 2), "PARTIAL wins over FULL");
    MaskMod expected = (b, h, i, j) -> {
      int qb = i / 20;
      int kb = j / 25;
      if (h == 0) {
        return (qb == 0 && kb == 0) || (qb == 1 && kb == 3 && even.allows(b, h, i, j));
      }
      return (qb == 4 && kb == 2 && even.allows(b, h, i, j)) || (qb == 2 && kb == 1);
    };
    AttentionResult got = new BlockSparseAttention().forward(q, k, v, bm,
        AttentionOptions.defaults());
    Support.assertClose(Support.reference(q, k, v, expected, AttentionOptions.defaults()),
        got.out(), got.lse(), "explicit blocks");
    assertThrows(IllegalStateException.class, () -> BlockMask.builder(1, 1, 10, 10, 5, 5)
        .add(0, 0, 0, 0, TileClass.PARTIAL).build());
  }

  @Test
  void asMaskClassifierIsSound() {
    SplittableRandom rnd = new SplittableRandom(6);
    System.out.println("asMaskClassifierIsSound seed 6");
    BlockMask bm = BlockMask.of(AttentionOptions.builder().causal(true).window(20, -1).build(), 1,
        1, 200, 200, 16, 32);
    Mask m = bm.asMask();
    for (int t = 0; t < 300; t++) {
      int i0 = rnd.nextInt(200);
      int i1 = Math.min(200, i0 + 1 + rnd.nextInt(20));
      int j0 = rnd.nextInt(200);
      int j1 = Math.min(200, j0 + 1 + rnd.nextInt(40));
      TileClass c = m.classify(0, 0, i0, i1, j0, j1, 0);
      boolean all = true;
      boolean any = false;
      for (int i = i0; i < i1; i++) {
        for (int j = j0; j < j1; j++) {
          boolean a = j <= i && j >= i - 20;
          assertEquals(a, m.allows(0, 0, i, j, 0));
          all &= a;
          any |= a;
        }
      }
      assertTrue(c != TileClass.FULL || all, "FULL claim");
      assertTrue(c != TileClass.EMPTY || !any, "EMPTY claim");
    }
  }

  @Test
  void rejectsMismatchedGeometryAndOptionMasks() {
    Tensor q = Tensor.zeros(dev.attention4j.core.DType.F32, 1, 2, 10, 4);
    BlockMask bm = BlockMask.of(Mask.custom((b, h, i, j) -> true), 1, 1, 12, 10, 4, 4);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new BlockSparseAttention().forward(q, q, q, bm, AttentionOptions.defaults()));
    assertTrue(e.getMessage().contains("12"), e.getMessage());
    BlockMask ok = BlockMask.of(Mask.custom((b, h, i, j) -> true), 1, 1, 10, 10, 4, 4);
    e = assertThrows(IllegalArgumentException.class, () -> new BlockSparseAttention().forward(q,
        q, q, ok, AttentionOptions.builder().causal(true).build()));
    assertTrue(e.getMessage().contains("BlockMask.of"), e.getMessage());
  }
}
