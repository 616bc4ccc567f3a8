package dev.attention4j.cli;

import dev.attention4j.cli.OptionValues.Impl;
import dev.attention4j.cli.OptionValues.OutDType;
import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionShape;
import dev.attention4j.core.DType;
import dev.attention4j.core.Tensor;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;

/**
 * {@code run neighborhood|moba|nabla}: the flow of {@link SoftmaxRunCommand} (check the options
 * and output paths, read Q, K, V, validate every shape, compute, only then write O and LSE through
 * {@link OutputFiles}) for a {@link SparseSpec}. {@code --impl reference} runs the kernel's float64
 * oracle with float64 outputs. Prints nothing on stdout.
 */
abstract class SparseRunCommand implements Callable<Integer> {

  @Mixin
  RunIoOptions io;

  /** The kernel from its options (UsageException for bad values). */
  abstract SparseSpec spec();

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
    SparseSpec spec = spec();
    Tensor q = TensorFiles.readTensor("--q", io.q, io.bf16);
    Tensor k = TensorFiles.readTensor("--k", io.k, io.bf16);
    Tensor v = TensorFiles.readTensor("--v", io.v, io.bf16);
    AttentionOptions options = SoftmaxRunCommand.invalidArgument(b::build);
    AttentionShape s = SoftmaxRunCommand.invalidArgument(
        () -> AttentionShape.of(q, k, v, null, null, options));
    SoftmaxRunCommand.invalidArgument(() -> options.scale(s.headDim()));
    SoftmaxRunCommand.invalidArgument(() -> spec.validate(s));
    boolean reference = impl == Impl.REFERENCE;
    try (KernelRunner kernel = KernelRunner.fast(reference ? spec.reference() : spec.fast(),
        threads)) {
      DType dt = reference ? DType.F64 : DType.F32;
      Tensor out = SoftmaxRunCommand.allocate("--out", dt, s.batch(), s.qHeads(), s.qLen(),
          s.valueDim());
      Tensor lse = io.lse == null ? null
          : SoftmaxRunCommand.allocate("--lse", dt, s.batch(), s.qHeads(), s.qLen());
      SoftmaxRunCommand.invalidArgument(() -> kernel.forward(q, k, v, out, lse, options));
      outputs.write(outDtype.descr, out, lse);
    }
    return Main.OK;
  }
}
