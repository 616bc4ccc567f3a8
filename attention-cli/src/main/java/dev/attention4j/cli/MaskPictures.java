package dev.attention4j.cli;

import dev.attention4j.core.Alignment;
import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.Mask;
import dev.attention4j.core.TileClass;
import dev.attention4j.core.Tensor;
import dev.attention4j.sparse.BlockMask;
import dev.attention4j.sparse.MobaAttention;
import dev.attention4j.sparse.MobaRouting;
import dev.attention4j.sparse.NablaAttention;
import dev.attention4j.sparse.Neighborhood;
import dev.attention4j.sparse.NeighborhoodMask;
import dev.attention4j.sparse.TokenPermutation;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import javax.imageio.ImageIO;

/**
 * Pictures of the masks and block patterns, drawn from the library's own mask, block-mask and
 * routing code (never re-implemented here): every pixel asks {@link Mask#allows},
 * {@link BlockMask#classOf}, {@link NeighborhoodMask#allows} or {@link MobaRouting#allows}.
 *
 * <p>Pixels are set directly in a {@link BufferedImage} (no fonts, no {@code Graphics2D}), so the
 * pictures render on a headless machine and come out byte-identical on every run with the same
 * seed. Labels belong in the captions of the pages that embed the pictures.
 */
final class MaskPictures {

  // palette
  static final int BACKGROUND = 0xFFFFFF;
  static final int GRID = 0xFFFFFF;
  static final int HIDDEN = 0xE6E9EE;
  static final int VISIBLE = 0x2B5C8A;
  static final int QUERY = 0xD1495B;
  static final int FULL = 0x2E7D32;
  static final int PARTIAL_VISIBLE = 0xE08E0B;
  static final int PARTIAL_HIDDEN = 0xF8E1B5;
  static final int EMPTY = 0xF2F3F5;
  static final int BLOCK_LINE = 0x9AA3AE;

  /** One written picture: the file name and what it shows. */
  record Picture(String file, String description) {}

  private MaskPictures() {
  }

  /**
   * Renders every picture into {@code dir} (which must exist), each written to a temporary file
   * first and renamed over its target.
   */
  static List<Picture> writeAll(Path dir, long seed) throws IOException {
    List<Picture> done = new ArrayList<>();
    // ---- dense masks: query rows down, key columns across
    write(dir, done, "causal-bottom-right.png", "causal, bottom-right (default), Sq 8, Sk 14",
        tokenMask(AttentionOptions.builder().causal(true).build(), 8, 14, 20));
    write(dir, done, "causal-top-left.png", "causal, top-left, Sq 8, Sk 14",
        tokenMask(AttentionOptions.builder().causal(true).alignment(Alignment.TOP_LEFT).build(),
            8, 14, 20));
    write(dir, done, "sliding-window.png", "causal sliding window (5, 0), Sq = Sk = 20",
        tokenMask(AttentionOptions.builder().causal(true).window(5, 0).build(), 20, 20, 14));
    write(dir, done, "sliding-window-two-sided.png", "sliding window (3, 2), Sq = Sk = 20",
        tokenMask(AttentionOptions.builder().window(3, 2).build(), 20, 20, 14));
    write(dir, done, "documents.png", "documents of 7, 5 and 12 tokens, causal, S = 24",
        tokenMask(AttentionOptions.builder().causal(true)
            .documentIds(new int[][] {documents(7, 5, 12)}).build(), 24, 24, 12));

    // ---- 2-D neighborhoods: one panel per query, query red, its keys blue
    int[] grid = {12, 12};
    write(dir, done, "neighborhood-2d.png",
        "2-D neighborhood, grid 12x12, kernel 5x5: queries (0,0), (1,6), (6,6), (11,10)",
        neighborhood(Neighborhood.of(grid, 5, 5), new int[][] {{0, 0}, {1, 6}, {6, 6}, {11, 10}}));
    write(dir, done, "neighborhood-2d-stride.png",
        "2-D neighborhood, kernel 5x5, stride 3: queries (3,3), (4,5), (5,4) share one window;"
            + " (6,7) is in the next stride group",
        neighborhood(Neighborhood.of(grid, new int[] {5}, new int[] {3}, new int[] {1},
            new boolean[] {false}), new int[][] {{3, 3}, {4, 5}, {5, 4}, {6, 7}}));
    write(dir, done, "neighborhood-2d-dilation.png",
        "2-D neighborhood, kernel 3x3, dilation 2: queries (0,0), (5,6), (11,11)",
        neighborhood(Neighborhood.of(grid, new int[] {3}, new int[] {1}, new int[] {2},
            new boolean[] {false}), new int[][] {{0, 0}, {5, 6}, {11, 11}}));
    write(dir, done, "neighborhood-2d-causal.png",
        "2-D neighborhood, kernel 5x5, causal on axis 0 (rows): queries (0,5), (6,6), (11,0)",
        neighborhood(Neighborhood.of(grid, new int[] {5}, new int[] {1}, new int[] {1},
            new boolean[] {true, false}), new int[][] {{0, 5}, {6, 6}, {11, 0}}));
    write(dir, done, "neighborhood-tiles.png",
        "the 2-D neighborhood (12x12, kernel 5x5) as a token mask, queries down, keys across;"
            + " left: query tiles of one grid row (12 queries, row-major); right: query tiles of"
            + " 4x4 patches (TokenPermutation.tiles); per tile, a key is FULL if every query of"
            + " the tile sees it",
        neighborhoodTiles(Neighborhood.of(grid, 5, 5), new int[] {4, 4}, 3));

    // ---- block masks: per-block class, visible tokens inside
    write(dir, done, "blockmask-causal-window.png",
        "BlockMask of causal + window (100, 0), S = 512, blocks 32x32",
        blockMask(BlockMask.of(AttentionOptions.builder().causal(true).window(100, 0).build(),
            1, 1, 512, 512, 32, 32), 1));
    write(dir, done, "blockmask-documents.png",
        "BlockMask of causal documents of 100, 60, 180 and 172 tokens, S = 512, blocks 32x32",
        blockMask(BlockMask.of(AttentionOptions.builder().causal(true)
            .documentIds(new int[][] {documents(100, 60, 180, 172)}).build(),
            1, 1, 512, 512, 32, 32), 1));

    // ---- routers on random data
    write(dir, done, "moba.png",
        "MoBA block 64, top-3 on Gaussian Q, K (S = 512, D = 64): two query heads",
        moba(seed));
    write(dir, done, "nabla.png",
        "NABLA blocks of 64 (8x8 patches of a 32x32 latent), thr 0.7: kept blocks; right: union"
            + " with a 3x3 sliding-tile window",
        nabla(seed));
    return done;
  }

  // ---- pictures

  /** The combined mask of {@code options} for one (batch, head): cell (i, j) = allows(i, j). */
  static BufferedImage tokenMask(AttentionOptions options, int sq, int sk, int cell) {
    Mask m = options.mask();
    long diag = options.diagonal(0, sq, sk);
    Canvas c = Canvas.cells(sq, sk, cell, 1);
    for (int i = 0; i < sq; i++) {
      for (int j = 0; j < sk; j++) {
        c.cell(i, j, m.allows(0, 0, i, j, diag) ? VISIBLE : HIDDEN);
      }
    }
    return c.image();
  }

  /** One panel per query: the grid, the query in red, the keys it sees in blue. */
  static BufferedImage neighborhood(Neighborhood nb, int[][] queries) {
    NeighborhoodMask m = nb.mask();
    int rows = nb.grid()[0];
    int cols = nb.grid()[1];
    int cell = 14;
    int gap = 3 * cell / 2;
    int panelW = cols * cell + 1;
    int panelH = rows * cell + 1;
    Canvas c = new Canvas(queries.length * panelW + (queries.length - 1) * gap, panelH);
    for (int p = 0; p < queries.length; p++) {
      int qi = queries[p][0] * cols + queries[p][1];
      int x0 = p * (panelW + gap);
      c.fill(x0, 0, panelW, panelH, GRID);
      for (int y = 0; y < rows; y++) {
        for (int x = 0; x < cols; x++) {
          int t = y * cols + x;
          int color = t == qi ? QUERY : m.allows(0, 0, qi, t) ? VISIBLE : HIDDEN;
          c.fill(x0 + x * cell + 1, y * cell + 1, cell - 1, cell - 1, color);
        }
      }
    }
    return c.image();
  }

  /**
   * The token mask of a neighborhood twice: queries in row-major order cut into tiles of one grid
   * line, and queries in patch order ({@link TokenPermutation#tiles}) cut into tiles of one patch.
   * Keys stay row-major. Per (query tile, key) the column is FULL (every query of the tile sees
   * the key), EMPTY (none does) or PARTIAL, counted from {@link NeighborhoodMask#allows}.
   */
  static BufferedImage neighborhoodTiles(Neighborhood nb, int[] patch, int px) {
    NeighborhoodMask m = nb.mask();
    int s = nb.tokens();
    int line = nb.grid()[nb.rank() - 1];
    int[] rowMajor = new int[s];
    for (int t = 0; t < s; t++) {
      rowMajor[t] = t;
    }
    int[] patched = TokenPermutation.tiles(nb.grid(), patch).order();
    int patchSize = Arrays.stream(patch).reduce(1, (a, b) -> a * b);
    int gap = 24;
    Canvas c = new Canvas(2 * s * px + gap, s * px);
    int[][] orders = {rowMajor, patched};
    int[] tiles = {line, patchSize};
    for (int panel = 0; panel < 2; panel++) {
      int x0 = panel * (s * px + gap);
      int[] order = orders[panel];
      int tile = tiles[panel];
      for (int r0 = 0; r0 < s; r0 += tile) {
        int r1 = Math.min(s, r0 + tile);
        for (int j = 0; j < s; j++) {
          int seen = 0;
          for (int r = r0; r < r1; r++) {
            seen += m.allows(0, 0, order[r], j) ? 1 : 0;
          }
          TileClass cls = seen == 0 ? TileClass.EMPTY
              : seen == r1 - r0 ? TileClass.FULL : TileClass.PARTIAL;
          for (int r = r0; r < r1; r++) {
            c.fill(x0 + j * px, r * px, px, px, color(cls, m.allows(0, 0, order[r], j)));
          }
        }
        if (r0 > 0) {
          c.fill(x0, r0 * px, s * px, 1, BLOCK_LINE);
        }
      }
    }
    return c.image();
  }

  /** The blocks of one (batch, head) of a block mask, visible tokens drawn inside. */
  static BufferedImage blockMask(BlockMask bm, int px) {
    Canvas c = new Canvas(bm.kvLen() * px, bm.qLen() * px);
    for (int i = 0; i < bm.qLen(); i++) {
      for (int j = 0; j < bm.kvLen(); j++) {
        TileClass cls = bm.classOf(0, 0, i / bm.qBlock(), j / bm.kBlock());
        c.fill(j * px, i * px, px, px, color(cls, bm.allows(0, 0, i, j)));
      }
    }
    c.blockLines(bm.kBlock() * px, bm.qBlock() * px);
    return c.image();
  }

  /** MoBA's routing of two query heads (different KV heads) on seeded Gaussian data. */
  static BufferedImage moba(long seed) {
    int s = 512;
    int d = 64;
    int block = 64;
    SplittableRandom rng = new SplittableRandom(seed);
    Tensor q = RandomTensors.gaussian(rng, 1, 2, s, d);
    Tensor k = RandomTensors.gaussian(rng, 1, 2, s, d);
    MobaRouting r = new MobaAttention(block, 3).route(q, k, AttentionOptions.defaults());
    int gap = 24;
    Canvas c = new Canvas(2 * s + gap, s);
    for (int h = 0; h < 2; h++) {
      int x0 = h * (s + gap);
      for (int i = 0; i < s; i++) {
        for (int j = 0; j < s; j++) {
          c.fill(x0 + j, i, 1, 1, r.allows(0, h, i, j) ? VISIBLE : HIDDEN);
        }
      }
      c.blockLines(x0, s, block, block);
    }
    return c.image();
  }

  /**
   * NABLA's kept blocks for one head of a 32x32 latent in 8x8 patches
   * ({@link TokenPermutation#videoPatches}): 16 blocks, drawn as a 16 x 16 block grid. Q and K are
   * one spatially smooth field (random low-frequency plane waves per channel) plus independent
   * noise each, so that nearby patches look alike, as in a video latent.
   */
  static final double THRESHOLD = 0.7;

  static BufferedImage nabla(long seed) {
    int side = 32;
    int d = 32;
    int s = side * side;
    SplittableRandom rng = new SplittableRandom(seed);
    float[] field = smooth(rng, side, d);
    Tensor q = Tensor.of(noisy(rng, field), 1, 1, s, d);
    Tensor k = Tensor.of(noisy(rng, field), 1, 1, s, d);
    TokenPermutation p = TokenPermutation.videoPatches(1, side, side);
    Tensor pq = p.permute(q);
    Tensor pk = p.permute(k);
    AttentionOptions o = AttentionOptions.defaults();
    BlockMask kept = new NablaAttention(64, THRESHOLD).blockMask(pq, pk, o);
    BlockMask window = new NablaAttention(64, THRESHOLD, new int[] {4, 4}, new int[] {3, 3},
        new dev.attention4j.simd.SimdAttention()).blockMask(pq, pk, o);
    int nb = s / 64;
    int cell = 20;
    int gap = 30;
    int w = nb * cell + 1;
    Canvas c = new Canvas(2 * w + gap, w);
    BlockMask[] both = {kept, window};
    for (int panel = 0; panel < 2; panel++) {
      int x0 = panel * (w + gap);
      c.fill(x0, 0, w, w, GRID);
      for (int qb = 0; qb < nb; qb++) {
        for (int kb = 0; kb < nb; kb++) {
          boolean on = both[panel].classOf(0, 0, qb, kb) != TileClass.EMPTY;
          c.fill(x0 + kb * cell + 1, qb * cell + 1, cell - 1, cell - 1, on ? FULL : HIDDEN);
        }
      }
    }
    return c.image();
  }

  // ---- helpers

  private static int color(TileClass cls, boolean visible) {
    return switch (cls) {
      case FULL -> FULL;
      case PARTIAL -> visible ? PARTIAL_VISIBLE : PARTIAL_HIDDEN;
      case EMPTY -> EMPTY;
    };
  }

  static int[] documents(int... lengths) {
    int[] ids = new int[Arrays.stream(lengths).sum()];
    int at = 0;
    for (int doc = 0; doc < lengths.length; doc++) {
      Arrays.fill(ids, at, at + lengths[doc], doc);
      at += lengths[doc];
    }
    return ids;
  }

  /** {@code [side*side, d]}: per channel a random plane wave over the grid. */
  private static float[] smooth(SplittableRandom rng, int side, int d) {
    float[] x = new float[side * side * d];
    for (int c = 0; c < d; c++) {
      double fy = rng.nextDouble(-1, 1) * 2 * Math.PI / side;
      double fx = rng.nextDouble(-1, 1) * 2 * Math.PI / side;
      double phase = rng.nextDouble(2 * Math.PI);
      for (int y = 0; y < side; y++) {
        for (int xx = 0; xx < side; xx++) {
          x[(y * side + xx) * d + c] = (float) Math.cos(fy * y + fx * xx + phase);
        }
      }
    }
    return x;
  }

  /** {@code field} plus independent Gaussian noise of standard deviation 0.5. */
  private static float[] noisy(SplittableRandom rng, float[] field) {
    float[] x = field.clone();
    for (int i = 0; i < x.length; i++) {
      x[i] += (float) (0.5 * gaussian(rng));
    }
    return x;
  }

  private static double gaussian(SplittableRandom rng) {
    // Box-Muller, as RandomTensors does not expose single draws
    double u = 1 - rng.nextDouble();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.nextDouble());
  }

  private static void write(Path dir, List<Picture> done, String file, String what,
      BufferedImage image) throws IOException {
    Path target = dir.resolve(file);
    Path tmp = Files.createTempFile(dir, "." + file, ".tmp");
    try {
      if (!ImageIO.write(image, "png", tmp.toFile())) {
        throw new IOException("no PNG writer in this JVM");
      }
      try {
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING,
            StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
    done.add(new Picture(file, what));
  }

  /** An RGB pixel buffer. */
  static final class Canvas {
    final int width;
    final int height;
    final int[] rgb;
    private int cell;
    private int line;

    Canvas(int width, int height) {
      this.width = width;
      this.height = height;
      this.rgb = new int[width * height];
      Arrays.fill(rgb, BACKGROUND);
    }

    /** A {@code rows x cols} grid of square cells separated by {@code line}-pixel grid lines. */
    static Canvas cells(int rows, int cols, int cell, int line) {
      Canvas c = new Canvas(cols * cell + line, rows * cell + line);
      c.fill(0, 0, c.width, c.height, GRID);
      c.cell = cell;
      c.line = line;
      return c;
    }

    void cell(int row, int col, int color) {
      fill(col * cell + line, row * cell + line, cell - line, cell - line, color);
    }

    void fill(int x, int y, int w, int h, int color) {
      for (int yy = Math.max(0, y); yy < Math.min(height, y + h); yy++) {
        Arrays.fill(rgb, yy * width + Math.max(0, x), yy * width + Math.min(width, x + w), color);
      }
    }

    /** One-pixel lines on block boundaries over the whole canvas. */
    void blockLines(int bw, int bh) {
      blockLines(0, width, bw, bh);
    }

    /** One-pixel lines on block boundaries in columns {@code [x0, x0 + w)}. */
    void blockLines(int x0, int w, int bw, int bh) {
      for (int x = x0 + bw; x < x0 + w; x += bw) {
        fill(x, 0, 1, height, BLOCK_LINE);
      }
      for (int y = bh; y < height; y += bh) {
        fill(x0, y, w, 1, BLOCK_LINE);
      }
    }

    BufferedImage image() {
      BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
      img.setRGB(0, 0, width, height, rgb, 0, width);
      return img;
    }
  }
}
