package dev.attention4j.cli;

import dev.attention4j.cli.OptionValues.Impl;
import dev.attention4j.cli.OptionValues.OutDType;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The options every {@code run KERNEL} takes: files, scale, threads, implementation, dtypes. */
final class RunIoOptions {

  @Option(names = "--q", required = true, paramLabel = "Q.npy",
      description = "queries [B, Hq, Sq, D]: <f4, <f2, <f8, or <u2 with --bf16")
  Path q;

  @Option(names = "--k", required = true, paramLabel = "K.npy", description = "keys [B, Hkv, Sk, D]")
  Path k;

  @Option(names = "--v", required = true, paramLabel = "V.npy",
      description = "values [B, Hkv, Sk, Dv]")
  Path v;

  @Option(names = "--out", required = true, paramLabel = "O.npy",
      description = "output [B, Hq, Sq, Dv] (replaced atomically)")
  Path out;

  @Option(names = "--lse", paramLabel = "LSE.npy",
      description = "also write the log-sum-exp [B, Hq, Sq] (-inf for rows that see no key)")
  Path lse;

  @Option(names = "--scale", paramLabel = "S", description = "softmax scale (default 1/sqrt(D))")
  Double scale;

  @Option(names = "--threads", paramLabel = "N", description = "threads (default: all cores)")
  Integer threads;

  @Option(names = "--impl", paramLabel = "fast|reference", defaultValue = "fast",
      description = "fast kernel (default) or the float64 reference")
  String impl;

  @Option(names = "--bf16", description = "read every <u2 input as bfloat16 bits")
  boolean bf16;

  @Option(names = "--out-dtype", paramLabel = "f4|f8", defaultValue = "f4",
      description = "dtype of the written files (default f4)")
  String outDtype;

  int threads() {
    return OptionValues.threads(threads, OptionValues.allCores());
  }

  Impl impl() {
    return Impl.parse(impl);
  }

  OutDType outDtype() {
    return OutDType.parse(outDtype);
  }
}
