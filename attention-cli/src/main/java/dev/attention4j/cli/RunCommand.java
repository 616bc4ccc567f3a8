package dev.attention4j.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code attention run KERNEL ...}: the kernels are added by {@link KernelCatalog}. */
@Command(name = "run", mixinStandardHelpOptions = true,
    description = {
        "Runs a kernel on .npy files and writes its output (and LSE).",
        "Inputs Q [B,Hq,Sq,D], K [B,Hkv,Sk,D], V [B,Hkv,Sk,Dv]; output O [B,Hq,Sq,Dv], LSE",
        "[B,Hq,Sq] with --lse. Prints nothing on stdout on success."})
final class RunCommand implements Callable<Integer>, KernelGroup {

  @Override
  public Integer call() {
    throw new UsageException("missing kernel: run KERNEL --q Q.npy --k K.npy --v V.npy --out O.npy"
        + " (kernels: " + KernelCatalog.names(false) + ")");
  }
}
