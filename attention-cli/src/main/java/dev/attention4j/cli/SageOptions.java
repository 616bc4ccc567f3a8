package dev.attention4j.cli;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.quant.SageAttention;
import dev.attention4j.quant.SageVariant;
import java.util.concurrent.ForkJoinPool;
import picocli.CommandLine.Option;

/** The options of {@code run sage} and {@code bench sage}. */
final class SageOptions {

  @Option(names = "--variant", required = true,
      paramLabel = "sage1|sage2-int8|sage2-int4|sage3-nvfp4",
      description = "quantized variant (SEMANTICS.md, Quantized)")
  String variant;

  @Option(names = "--causal", description = "causal mask (key j visible iff j <= i + off)")
  boolean causal;

  @Option(names = "--align", paramLabel = "bottom-right|top-left", defaultValue = "bottom-right",
      description = "diagonal of the causal mask (default bottom-right)")
  String align;

  SageVariant variant() {
    return SoftmaxRunCommand.invalidArgument(() -> SageVariant.byId(variant));
  }

  void applyTo(AttentionOptions.Builder b) {
    b.causal(causal);
    b.alignment(OptionValues.alignment(align));
  }

  /** The kernel of an implementation choice on {@code pool}. */
  SageAttention kernel(OptionValues.Impl impl, ForkJoinPool pool) {
    return SageAttention.builder(variant())
        .impl(impl == OptionValues.Impl.REFERENCE ? SageAttention.Impl.REFERENCE
            : SageAttention.Impl.FAST)
        .pool(pool).build();
  }
}
