package dev.attention4j.sparse;

import java.util.Arrays;

/**
 * The parameters of neighborhood attention (NATTEN / GNA, SEMANTICS.md "Neighborhood attention"):
 * a 1-, 2- or 3-D token grid {@code (X1[, X2[, X3]])} flattened row-major (first axis outermost)
 * and, per axis, kernel size {@code k >= 2} (odd or even), stride {@code 1 <= s <= k}, dilation
 * {@code d >= 1} with {@code k * d <= X}, and a causal flag. Arrays of length 1 apply to every
 * axis. Validated on construction; immutable.
 *
 * <p>Special cases: {@code s == 1} is classic NA, {@code d > 1} dilated NA (DiNAT),
 * {@code s == k} with {@code X % k == 0} Swin-style window attention, {@code k == X} (d = 1,
 * non-causal) full attention on that axis.
 */
public final class Neighborhood {

  private final int[] grid;
  private final int[] kernel;
  private final int[] stride;
  private final int[] dilation;
  private final boolean[] causal;

  private Neighborhood(int[] grid, int[] kernel, int[] stride, int[] dilation, boolean[] causal) {
    this.grid = grid;
    this.kernel = kernel;
    this.stride = stride;
    this.dilation = dilation;
    this.causal = causal;
  }

  /** Classic non-causal neighborhood attention: stride 1, dilation 1. */
  public static Neighborhood of(int[] grid, int... kernel) {
    return of(grid, kernel, new int[] {1}, new int[] {1}, new boolean[] {false});
  }

  /**
   * Every parameter; each array has one entry per axis, or one entry for all axes.
   *
   * @throws IllegalArgumentException naming the axis and the numbers, for a grid of rank other
   *     than 1 to 3, an axis length below 1, {@code k < 2}, {@code s < 1}, {@code s > k},
   *     {@code d < 1}, or {@code k * d > X}
   */
  public static Neighborhood of(int[] grid, int[] kernel, int[] stride, int[] dilation,
      boolean[] causal) {
    if (grid == null || grid.length < 1 || grid.length > 3) {
      throw new IllegalArgumentException("grid must have 1 to 3 axes, got "
          + (grid == null ? "null" : Arrays.toString(grid)));
    }
    int n = grid.length;
    int[] g = grid.clone();
    int[] k = perAxis("kernel size", kernel, n);
    int[] s = perAxis("stride", stride, n);
    int[] d = perAxis("dilation", dilation, n);
    boolean[] c = new boolean[n];
    if (causal == null || (causal.length != 1 && causal.length != n)) {
      throw new IllegalArgumentException("causal flags: expected 1 or " + n + " values, got "
          + (causal == null ? "null" : Arrays.toString(causal)));
    }
    for (int a = 0; a < n; a++) {
      c[a] = causal[causal.length == 1 ? 0 : a];
      if (g[a] < 1) {
        throw new IllegalArgumentException("axis " + a + ": grid length " + g[a] + " < 1");
      }
      if (k[a] < 2) {
        throw new IllegalArgumentException("axis " + a + ": kernel size " + k[a]
            + " < 2 (kernel sizes must be >= 2)");
      }
      if (s[a] < 1) {
        throw new IllegalArgumentException("axis " + a + ": stride " + s[a] + " < 1");
      }
      if (s[a] > k[a]) {
        throw new IllegalArgumentException("axis " + a + ": stride " + s[a]
            + " > kernel size " + k[a]);
      }
      if (d[a] < 1) {
        throw new IllegalArgumentException("axis " + a + ": dilation " + d[a] + " < 1");
      }
      if ((long) k[a] * d[a] > g[a]) {
        throw new IllegalArgumentException("axis " + a + ": kernel size " + k[a]
            + " * dilation " + d[a] + " = " + ((long) k[a] * d[a])
            + " exceeds the grid length " + g[a]);
      }
    }
    long tokens = 1;
    for (int x : g) {
      tokens *= x;
    }
    if (tokens > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("grid " + Arrays.toString(g) + " has " + tokens
          + " tokens, more than " + Integer.MAX_VALUE);
    }
    return new Neighborhood(g, k, s, d, c);
  }

  private static int[] perAxis(String what, int[] values, int n) {
    if (values == null || (values.length != 1 && values.length != n)) {
      throw new IllegalArgumentException(what + ": expected 1 or " + n + " values, got "
          + (values == null ? "null" : Arrays.toString(values)));
    }
    int[] r = new int[n];
    for (int a = 0; a < n; a++) {
      r[a] = values[values.length == 1 ? 0 : a];
    }
    return r;
  }

  /** Number of axes. */
  public int rank() {
    return grid.length;
  }

  /** Tokens of the grid: the product of the axis lengths. */
  public int tokens() {
    int t = 1;
    for (int x : grid) {
      t *= x;
    }
    return t;
  }

  public int[] grid() {
    return grid.clone();
  }

  public int[] kernel() {
    return kernel.clone();
  }

  public int[] stride() {
    return stride.clone();
  }

  public int[] dilation() {
    return dilation.clone();
  }

  public boolean[] causal() {
    return causal.clone();
  }

  int grid(int a) {
    return grid[a];
  }

  int kernel(int a) {
    return kernel[a];
  }

  int stride(int a) {
    return stride[a];
  }

  int dilation(int a) {
    return dilation[a];
  }

  boolean causal(int a) {
    return causal[a];
  }

  /**
   * The visible key interval on one axis for query coordinate {@code x}, in in-group
   * coordinates: {@code {lo', hi'}} (SEMANTICS.md, exactly).
   */
  int[] window(int a, int x) {
    int d = dilation[a];
    int len = grid[a];
    int group = x % d;
    int xg = x / d;
    int lg = len / d + (group < len % d ? 1 : 0);
    int k = kernel[a];
    int s = stride[a];
    if (causal[a]) {
      int lead = Math.min((xg / s) * s + s - 1, lg - 1);
      return new int[] {Math.max(lead - k + 1, 0), xg};
    }
    int wl = k / 2;
    int wr = k / 2 + k % 2 - 1;
    int lead = Math.min((xg / s) * s + s / 2, lg - 1);
    int centre = Math.max(wl, Math.min(lead, lg - 1 - wr));
    return new int[] {centre - wl, centre + wr};
  }

  /** The exact mask of these parameters, with its analytic block classifier. */
  public NeighborhoodMask mask() {
    return new NeighborhoodMask(this);
  }

  @Override
  public String toString() {
    return "Neighborhood[grid=" + Arrays.toString(grid) + ", kernel=" + Arrays.toString(kernel)
        + ", stride=" + Arrays.toString(stride) + ", dilation=" + Arrays.toString(dilation)
        + ", causal=" + Arrays.toString(causal) + "]";
  }
}
