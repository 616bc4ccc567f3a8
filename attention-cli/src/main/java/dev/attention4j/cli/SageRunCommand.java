package dev.attention4j.cli;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionShape;
import dev.attention4j.core.DType;
import dev.attention4j.core.Tensor;
import dev.attention4j.quant.SageAttention;
import java.util.concurrent.Callable;
import java.util.concurrent.ForkJoinPool;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * {@code run sage}: quantized SageAttention. Validates everything before computing and writes O
 * (and LSE) only at the end, through {@link OutputFiles}. {@code --impl reference} runs the same
 * quantization in the float64-accumulating pipeline and writes float64 results.
 */
@Command(name = "sage", mixinStandardHelpOptions = true, sortOptions = false,
    description = {
        "Quantized SageAttention (sage1, sage2-int8, sage2-int4, sage3-nvfp4): writes O (and",
        "LSE, with the K-smoothing correction); prints nothing on stdout on success.",
        "--impl reference: the same quantization, accumulated in float64."},
    footer = {"", "Exit status: 0 success, 2 bad input (one 'error:' line on stderr, no file"
        + " written), 1 internal failure."})
final class SageRunCommand implements Callable<Integer> {

  @Mixin
  RunIoOptions io;

  @Mixin
  SageOptions sage;

  SageRunCommand(Console console) {
    // run prints nothing on stdout and reports failures through exceptions
  }

  @Override
  public Integer call() {
    int threads = io.threads();
    OptionValues.Impl impl = io.impl();
    OptionValues.OutDType outDtype = io.outDtype();
    OutputFiles outputs = OutputFiles.check("--out", io.out, "--lse", io.lse);
    sage.variant();
    AttentionOptions.Builder b = AttentionOptions.builder().returnLse(io.lse != null);
    if (io.scale != null) {
      b.scale(OptionValues.scale(io.scale));
    }
    SoftmaxRunCommand.invalidArgument(() -> sage.applyTo(b));
    Tensor q = TensorFiles.readTensor("--q", io.q, io.bf16);
    Tensor k = TensorFiles.readTensor("--k", io.k, io.bf16);
    Tensor v = TensorFiles.readTensor("--v", io.v, io.bf16);
    AttentionOptions options = SoftmaxRunCommand.invalidArgument(b::build);
    AttentionShape s = SoftmaxRunCommand.invalidArgument(
        () -> AttentionShape.of(q, k, v, null, null, options));
    SoftmaxRunCommand.invalidArgument(() -> options.scale(s.headDim()));
    ForkJoinPool pool = new ForkJoinPool(threads);
    try {
      SageAttention kernel = sage.kernel(impl, pool);
      DType dt = impl == OptionValues.Impl.REFERENCE ? DType.F64 : DType.F32;
      Tensor out = SoftmaxRunCommand.allocate("--out", dt, s.batch(), s.qHeads(), s.qLen(),
          s.valueDim());
      Tensor lse = io.lse == null ? null
          : SoftmaxRunCommand.allocate("--lse", dt, s.batch(), s.qHeads(), s.qLen());
      // the kernel's pool does the work; run the call itself inside it too
      SoftmaxRunCommand.invalidArgument(() -> pool.submit(
          () -> kernel.forward(q, k, v, out, lse, options)).join());
      outputs.write(outDtype.descr, out, lse);
    } finally {
      pool.shutdownNow();
    }
    return Main.OK;
  }
}
