package dev.attention4j.cli;

import dev.attention4j.cli.OptionValues.Impl;
import dev.attention4j.core.AttentionShape;
import dev.attention4j.core.DType;
import dev.attention4j.core.Tensor;
import dev.attention4j.linear.FeatureMap;
import dev.attention4j.linear.LinearAttention;
import dev.attention4j.linear.LinearOptions;
import dev.attention4j.linear.ReferenceLinearAttention;
import java.util.concurrent.Callable;
import java.util.concurrent.ForkJoinPool;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code run linear}: linear attention (feature maps, causal chunked, decay, LoLCATs hybrid). */
@Command(name = "linear", mixinStandardHelpOptions = true, sortOptions = false,
    description = {
        "Linear attention: writes O; prints nothing on stdout on success. No LSE.",
        "Inputs: <f4, <f2, <f8, or <u2 read as bfloat16 with --bf16; any byte order and layout.",
        "--scale is the softmax scale of the hybrid window (default 1/sqrt(D))."},
    footer = {"", "Exit status: 0 success, 2 bad input (one 'error:' line on stderr, no file"
        + " written), 1 internal failure."})
final class LinearRunCommand implements Callable<Integer> {

  @Mixin
  RunIoOptions io;

  @Mixin
  LinearKernelOptions linear;

  LinearRunCommand(Console console) {
    // run prints nothing on stdout and reports failures through exceptions
  }

  @Override
  public Integer call() {
    int threads = io.threads();
    Impl impl = io.impl();
    OptionValues.OutDType outDtype = io.outDtype();
    if (io.lse != null) {
      throw new UsageException("kernel 'linear' does not take option '--lse' (linear attention"
          + " has no LSE)");
    }
    OutputFiles outputs = OutputFiles.check("--out", io.out);
    FeatureMap.Kind kind = linear.kind();
    if (kind.needsWeights() && linear.featureWeights == null) {
      throw new UsageException("--feature-map " + kind.label() + " needs --feature-weights"
          + " WQ.npy,WK.npy or W.safetensors (wq [Hq, D, F], wk [Hkv, D, F])");
    }
    FeatureMap map = SoftmaxRunCommand.invalidArgument(
        () -> FeatureMap.of(kind, linear.weights(kind, io.bf16)));
    Tensor q = TensorFiles.readTensor("--q", io.q, io.bf16);
    Tensor k = TensorFiles.readTensor("--k", io.k, io.bf16);
    Tensor v = TensorFiles.readTensor("--v", io.v, io.bf16);
    LinearOptions o = linear.options(map, io.scale, q.rank() == 4 ? q.dim(1) : 0);
    AttentionShape s = SoftmaxRunCommand.invalidArgument(
        () -> LinearAttention.check(q, k, v, null, o));
    DType dt = impl == Impl.REFERENCE ? DType.F64 : DType.F32;
    Tensor out = SoftmaxRunCommand.allocate("--out", dt, s.batch(), s.qHeads(), s.qLen(),
        s.valueDim());
    if (impl == Impl.REFERENCE) {
      ReferenceLinearAttention.forward(q, k, v, out, o);
    } else {
      try (ForkJoinPool pool = new ForkJoinPool(threads)) {
        LinearAttention.forward(q, k, v, out, o, pool);
      }
    }
    outputs.write(outDtype.descr, out);
    return Main.OK;
  }
}
