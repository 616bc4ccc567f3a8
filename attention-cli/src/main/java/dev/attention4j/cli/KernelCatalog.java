package dev.attention4j.cli;

import java.util.List;
import java.util.function.Function;
import java.util.stream.Collectors;
import picocli.CommandLine;

/**
 * The kernel names of {@code run KERNEL} and {@code bench KERNEL}, and the command class of each.
 * Adding a kernel family is one command class per verb and one line here; names without a class
 * answer {@code error: kernel 'NAME' is not available in this build}.
 */
final class KernelCatalog {

  /**
   * One kernel name.
   *
   * @param name the KERNEL argument
   * @param options the kernel's own options (CLI.md), to name the kernel an option belongs to
   *     when another kernel is given it
   * @param run the {@code run} command, or null when not available yet
   * @param bench the {@code bench} command, or null when not available yet
   */
  record Entry(String name, List<String> options, Function<Console, Object> run,
      Function<Console, Object> bench) {}

  static final List<Entry> ENTRIES = List.of(
      new Entry("dense", List.of("--causal", "--align", "--window", "--softcap", "--alibi",
          "--kv-lens"), DenseRunCommand::new, DenseBenchCommand::new),
      new Entry("neighborhood", List.of("--grid", "--kernel-size", "--dilation", "--stride",
          "--causal-axes"), NeighborhoodRunCommand::new, NeighborhoodBenchCommand::new),
      new Entry("moba", List.of("--block-size", "--topk"), MobaRunCommand::new,
          MobaBenchCommand::new),
      new Entry("nabla", List.of("--block-size", "--threshold"), NablaRunCommand::new,
          NablaBenchCommand::new),
      new Entry("linear", List.of("--feature-map", "--feature-weights", "--causal",
          "--no-normalize", "--decay", "--hybrid-window", "--mix", "--chunk-size"),
          LinearRunCommand::new, LinearBenchCommand::new),
      new Entry("sage", List.of("--variant", "--causal", "--align"), SageRunCommand::new,
          SageBenchCommand::new));

  /** {@code bench decode}: one decode step against a KV cache (bench only). */
  static final Entry DECODE = new Entry("decode", List.of("--kv-dtype", "--page-size"), null,
      DecodeBenchCommand::new);

  private KernelCatalog() {
  }

  static void addRunCommands(CommandLine run, Console console) {
    for (Entry e : ENTRIES) {
      run.addSubcommand(e.name(), command(e.name(), e.run(), console));
    }
  }

  static void addBenchCommands(CommandLine bench, Console console) {
    for (Entry e : ENTRIES) {
      bench.addSubcommand(e.name(), command(e.name(), e.bench(), console));
    }
    bench.addSubcommand(DECODE.name(), command(DECODE.name(), DECODE.bench(), console));
  }

  /** The kernel names, comma separated (with {@code decode} for bench). */
  static String names(boolean bench) {
    String names = ENTRIES.stream().map(Entry::name).collect(Collectors.joining(", "));
    return bench ? names + ", " + DECODE.name() : names;
  }

  /** The kernels (other than {@code except}) that take {@code option}, comma separated. */
  static String owners(String option, String except) {
    return java.util.stream.Stream.concat(ENTRIES.stream(), java.util.stream.Stream.of(DECODE))
        .filter(e -> !e.name().equals(except) && e.options().contains(option))
        .map(Entry::name).collect(Collectors.joining(", "));
  }

  private static CommandLine command(String name, Function<Console, Object> factory,
      Console console) {
    return new CommandLine(factory == null ? new UnavailableKernelCommand(name)
        : factory.apply(console));
  }
}
