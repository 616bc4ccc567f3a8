package dev.attention4j.cli;

import dev.attention4j.core.AttentionKernel;
import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionShape;
import dev.attention4j.core.MaskMod;
import dev.attention4j.core.Tensor;

/**
 * A sparse kernel (neighborhood, MoBA, NABLA) configured from its command-line options: the fast
 * kernel, its float64 oracle, the shape checks, and the token mask it applied to given inputs
 * (for pair counts and sampled accuracy checks). Implementations load the SIMD classes, so they
 * are only created after {@link #requireSimd}.
 */
interface SparseSpec {

  /** The kernel on the SIMD engine (run inside the runner's pool). */
  AttentionKernel fast();

  /** The float64 oracle of the same computation. */
  AttentionKernel reference();

  /** Checks the shapes beyond {@link AttentionShape#of}; throws IllegalArgumentException. */
  void validate(AttentionShape s);

  /** The mask the fast kernel applies to these inputs (routing included). */
  MaskMod mask(Tensor q, Tensor k, AttentionOptions options);

  /** Visible pairs of the fast kernel on these inputs (all batches and heads). */
  long pairs(Tensor q, Tensor k, AttentionOptions options);

  /** The kernel's parameters, for tables and JSON: name/value pairs. */
  String[] describe();

  /** Whether the kernel masks keys after the query (the JSON {@code causal} key). */
  boolean causal();

  /** Sparse kernels run on the SIMD engine only. */
  static void requireSimd(String kernel) {
    if (!SimdKernels.inUse()) {
      throw new UsageException("kernel '" + kernel + "' needs the Vector API (run with"
          + " --add-modules jdk.incubator.vector, as bin/attention does)");
    }
  }

  /** {@code a,b,c}: 1 to {@code max} integers, each at least {@code min}. */
  static int[] intList(String option, String value, int min, int max) {
    String[] parts = value.split(",", -1);
    if (parts.length < 1 || parts.length > max) {
      throw new UsageException(option + " '" + value + "': expected 1 to " + max
          + " comma-separated integers");
    }
    int[] r = new int[parts.length];
    for (int a = 0; a < parts.length; a++) {
      try {
        r[a] = Integer.parseInt(parts[a].strip());
      } catch (NumberFormatException e) {
        throw new UsageException(option + " '" + value + "': '" + parts[a].strip()
            + "' is not an integer");
      }
      if (r[a] < min) {
        throw new UsageException(option + " '" + value + "': " + r[a] + " must be >= " + min);
      }
    }
    return r;
  }
}
