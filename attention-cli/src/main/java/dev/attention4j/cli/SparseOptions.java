package dev.attention4j.cli;

import dev.attention4j.core.AttentionKernel;
import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionShape;
import dev.attention4j.core.MaskMod;
import dev.attention4j.core.Tensor;
import dev.attention4j.sparse.BlockMask;
import dev.attention4j.sparse.MobaAttention;
import dev.attention4j.sparse.MobaRouting;
import dev.attention4j.sparse.NablaAttention;
import dev.attention4j.sparse.Neighborhood;
import dev.attention4j.sparse.NeighborhoodAttention;
import dev.attention4j.sparse.NeighborhoodMask;
import java.util.Arrays;
import picocli.CommandLine.Option;

/** The options of the sparse kernels (CLI.md), shared by {@code run} and {@code bench}. */
final class SparseOptions {

  private SparseOptions() {
  }

  /** {@code neighborhood}: grid, kernel size, dilation, stride, causal axes. */
  static final class NeighborhoodOptions {

    @Option(names = "--grid", required = true, paramLabel = "X[,Y[,Z]]",
        description = "token grid, first axis outermost; product = Sq = Sk")
    String grid;

    @Option(names = "--kernel-size", required = true, paramLabel = "k[,k[,k]]",
        description = "kernel size per axis (>= 2, odd or even; one value for all axes)")
    String kernel;

    @Option(names = "--dilation", paramLabel = "d[,..]", defaultValue = "1",
        description = "dilation per axis (default 1)")
    String dilation;

    @Option(names = "--stride", paramLabel = "s[,..]", defaultValue = "1",
        description = "stride per axis, 1 <= s <= k (default 1)")
    String stride;

    @Option(names = "--causal-axes", paramLabel = "c[,..]", defaultValue = "0",
        description = "1 = causal on that axis (default 0)")
    String causalAxes;

    /** The grid alone (for bench, before the kernel is built). */
    int[] grid() {
      return SparseSpec.intList("--grid", grid, 1, 3);
    }

    Neighborhood neighborhood() {
      int[] g = grid();
      int[] k = axes("--kernel-size", kernel, g.length, 1);
      int[] d = axes("--dilation", dilation, g.length, 1);
      int[] s = axes("--stride", stride, g.length, 1);
      int[] c = axes("--causal-axes", causalAxes, g.length, 0);
      boolean[] causal = new boolean[c.length];
      for (int a = 0; a < c.length; a++) {
        if (c[a] > 1) {
          throw new UsageException("--causal-axes '" + causalAxes + "': values must be 0 or 1");
        }
        causal[a] = c[a] == 1;
      }
      return SoftmaxRunCommand.invalidArgument(() -> Neighborhood.of(g, k, s, d, causal));
    }

    private static int[] axes(String option, String value, int rank, int min) {
      int[] r = SparseSpec.intList(option, value, min, 3);
      if (r.length != 1 && r.length != rank) {
        throw new UsageException(option + " '" + value + "': expected 1 or " + rank
            + " values (one per grid axis)");
      }
      return r;
    }

    SparseSpec spec() {
      SparseSpec.requireSimd("neighborhood");
      Neighborhood nb = neighborhood();
      NeighborhoodAttention kernel = new NeighborhoodAttention(nb);
      NeighborhoodMask mask = kernel.mask();
      return new SparseSpec() {
        @Override
        public AttentionKernel fast() {
          return kernel;
        }

        @Override
        public AttentionKernel reference() {
          return kernel.reference();
        }

        @Override
        public void validate(AttentionShape s) {
          NeighborhoodAttention.checkLengths(nb, s.qLen(), s.kvLen());
        }

        @Override
        public MaskMod mask(Tensor q, Tensor k, AttentionOptions options) {
          return mask;
        }

        @Override
        public long pairs(Tensor q, Tensor k, AttentionOptions options) {
          long perHead = 0;
          for (int i = 0; i < nb.tokens(); i++) {
            perHead += mask.visibleKeys(i);
          }
          return perHead * q.dim(0) * q.dim(1);
        }

        @Override
        public String[] describe() {
          return new String[] {"grid", join(nb.grid()), "kernel_size", join(nb.kernel()),
              "dilation", join(nb.dilation()), "stride", join(nb.stride()), "causal_axes",
              joinB(nb.causal())};
        }

        @Override
        public boolean causal() {
          for (boolean c : nb.causal()) {
            if (c) {
              return true;
            }
          }
          return false;
        }
      };
    }
  }

  /** {@code moba}: block size and top-k. */
  static final class MobaOptions {

    @Option(names = "--block-size", required = true, paramLabel = "B",
        description = "key block size (>= 1)")
    int blockSize;

    @Option(names = "--topk", required = true, paramLabel = "K",
        description = "blocks per query including its own (>= 1)")
    int topk;

    SparseSpec spec() {
      OptionValues.atLeast("--block-size", blockSize, 1);
      OptionValues.atLeast("--topk", topk, 1);
      SparseSpec.requireSimd("moba");
      MobaAttention kernel = new MobaAttention(blockSize, topk);
      return new SparseSpec() {
        @Override
        public AttentionKernel fast() {
          return kernel;
        }

        @Override
        public AttentionKernel reference() {
          return kernel.reference();
        }

        @Override
        public void validate(AttentionShape s) {
          if (s.qLen() > s.kvLen()) {
            throw new IllegalArgumentException("moba needs Sq <= Sk (Sq == Sk for prefill), got"
                + " Sq " + s.qLen() + ", Sk " + s.kvLen());
          }
        }

        @Override
        public MaskMod mask(Tensor q, Tensor k, AttentionOptions options) {
          return kernel.route(q, k, options);
        }

        @Override
        public long pairs(Tensor q, Tensor k, AttentionOptions options) {
          MobaRouting r = kernel.route(q, k, options);
          long p = 0;
          for (int b = 0; b < q.dim(0); b++) {
            p += r.visiblePairs(b);
          }
          return p;
        }

        @Override
        public String[] describe() {
          return new String[] {"block_size", Integer.toString(blockSize), "topk",
              Integer.toString(topk)};
        }

        @Override
        public boolean causal() {
          return true;
        }
      };
    }
  }

  /** {@code nabla}: block size and threshold. */
  static final class NablaOptions {

    @Option(names = "--block-size", paramLabel = "B", defaultValue = "64",
        description = "block size of the pooled map (default 64)")
    int blockSize;

    @Option(names = "--threshold", required = true, paramLabel = "T",
        description = "probability mass to keep per row, 0 < T <= 1")
    double threshold;

    SparseSpec spec() {
      OptionValues.atLeast("--block-size", blockSize, 1);
      if (!(threshold > 0 && threshold <= 1)) {
        throw new UsageException("--threshold " + threshold + ": must be in (0, 1]");
      }
      SparseSpec.requireSimd("nabla");
      NablaAttention kernel = new NablaAttention(blockSize, threshold);
      return new SparseSpec() {
        @Override
        public AttentionKernel fast() {
          return kernel;
        }

        @Override
        public AttentionKernel reference() {
          return kernel.reference();
        }

        @Override
        public void validate(AttentionShape s) {
          if (s.qLen() != s.kvLen()) {
            throw new IllegalArgumentException("nabla needs Sq == Sk, got Sq " + s.qLen()
                + ", Sk " + s.kvLen());
          }
        }

        @Override
        public MaskMod mask(Tensor q, Tensor k, AttentionOptions options) {
          BlockMask bm = kernel.blockMask(q, k, options);
          return bm::allows;
        }

        @Override
        public long pairs(Tensor q, Tensor k, AttentionOptions options) {
          BlockMask bm = kernel.blockMask(q, k, options);
          long p = 0;
          int s = q.dim(2);
          for (int b = 0; b < q.dim(0); b++) {
            for (int h = 0; h < q.dim(1); h++) {
              for (int x = 0; x < bm.qBlocks(); x++) {
                int rows = Math.min(s, (x + 1) * blockSize) - x * blockSize;
                for (int n = 0; n < bm.numBlocks(b, h, x); n++) {
                  int y = bm.keyBlock(b, h, x, n);
                  p += (long) rows * (Math.min(s, (y + 1) * blockSize) - y * blockSize);
                }
              }
            }
          }
          return p;
        }

        @Override
        public String[] describe() {
          return new String[] {"block_size", Integer.toString(blockSize), "threshold",
              Double.toString(threshold)};
        }

        @Override
        public boolean causal() {
          return false;
        }
      };
    }
  }

  static String join(int[] x) {
    return Arrays.stream(x).mapToObj(Integer::toString).reduce((a, b) -> a + "," + b).orElse("");
  }

  static String joinB(boolean[] x) {
    StringBuilder sb = new StringBuilder();
    for (int a = 0; a < x.length; a++) {
      sb.append(a == 0 ? "" : ",").append(x[a] ? 1 : 0);
    }
    return sb.toString();
  }
}
