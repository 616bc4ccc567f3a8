package dev.attention4j.cli;

import dev.attention4j.cli.OptionValues.Impl;
import dev.attention4j.cli.OptionValues.OutDType;
import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionShape;
import dev.attention4j.core.DType;
import dev.attention4j.core.Tensor;
import java.util.Objects;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;

/**
 * {@code run KERNEL} for softmax kernels: read Q, K, V; let the kernel add its options; validate
 * everything (the shapes with {@link AttentionShape#of}); compute; and only then write O (and LSE)
 * through {@link OutputFiles}. Prints nothing on stdout.
 */
abstract class SoftmaxRunCommand implements Callable<Integer> {

  @Mixin
  RunIoOptions io;

  /** Checks the kernel's own options and sets them on {@code b}; may read auxiliary files. */
  abstract void configure(AttentionOptions.Builder b);

  /** The kernel that computes, for an implementation choice. */
  abstract KernelRunner kernel(Impl impl, int threads);

  @Override
  public Integer call() {
    int threads = io.threads();
    Impl impl = io.impl();
    OutDType outDtype = io.outDtype();
    OutputFiles outputs = OutputFiles.check("--out", io.out, "--lse", io.lse);
    AttentionOptions.Builder b = AttentionOptions.builder().returnLse(io.lse != null);
    if (io.scale != null) {
      b.scale(OptionValues.scale(io.scale));
    }
    invalidArgument(() -> configure(b));
    Tensor q = TensorFiles.readTensor("--q", io.q, io.bf16);
    Tensor k = TensorFiles.readTensor("--k", io.k, io.bf16);
    Tensor v = TensorFiles.readTensor("--v", io.v, io.bf16);
    AttentionOptions options = invalidArgument(b::build);
    AttentionShape s = invalidArgument(() -> AttentionShape.of(q, k, v, null, null, options));
    invalidArgument(() -> options.scale(s.headDim()));
    try (KernelRunner kernel = kernel(impl, threads)) {
      DType dt = kernel.outputDType();
      Tensor out = allocate("--out", dt, s.batch(), s.qHeads(), s.qLen(), s.valueDim());
      Tensor lse = io.lse == null ? null : allocate("--lse", dt, s.batch(), s.qHeads(), s.qLen());
      kernel.forward(q, k, v, out, lse, options);
      outputs.write(outDtype.descr, out, lse);
    }
    return Main.OK;
  }

  static Tensor allocate(String what, DType dtype, int... shape) {
    try {
      return Tensor.zeros(dtype, shape);
    } catch (IllegalArgumentException e) {
      throw new UsageException(what + ": " + e.getMessage(), e);
    }
  }

  /** Runs a check whose {@link IllegalArgumentException} is bad input. */
  static <T> T invalidArgument(java.util.function.Supplier<T> check) {
    try {
      return check.get();
    } catch (IllegalArgumentException e) {
      throw new UsageException(message(e), e);
    }
  }

  /**
   * The message of a check, without the {@code java.lang.IllegalArgumentException: } that a
   * fork/join task puts in front when it rethrows a worker's exception as a copy with it as cause.
   */
  static String message(IllegalArgumentException e) {
    Throwable t = e;
    while (t.getCause() instanceof IllegalArgumentException c
        && Objects.equals(t.getMessage(), c.toString())) {
      t = c;
    }
    return t.getMessage();
  }

  static void invalidArgument(Runnable check) {
    invalidArgument(() -> {
      check.run();
      return null;
    });
  }
}
