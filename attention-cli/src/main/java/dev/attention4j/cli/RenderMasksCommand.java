package dev.attention4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code render-masks}: writes PNG pictures of the masks and block patterns. */
@Command(name = "render-masks", mixinStandardHelpOptions = true, sortOptions = false,
    description = {
        "Draws the masks and block patterns of the library as PNG files into a directory:",
        "causal (both alignments), sliding windows, documents, 2-D neighborhoods (stride,",
        "dilation, causal), BlockMask tile classes, MoBA routing and NABLA kept blocks on",
        "seeded random data. Every pixel comes from the library's own mask and routing code.",
        "Prints one line per file: the path and what it shows."},
    footer = {"", "Exit status: 0 success, 2 bad input (one 'error:' line on stderr),"
        + " 1 internal failure."})
final class RenderMasksCommand implements Callable<Integer> {

  private final Console console;

  @Option(names = "--out", required = true, paramLabel = "DIR",
      description = "output directory (created if missing; files in it are replaced)")
  Path out;

  @Option(names = "--seed", paramLabel = "S", defaultValue = "7",
      description = "seed of the random Q and K for MoBA and NABLA (default 7)")
  long seed;

  RenderMasksCommand(Console console) {
    this.console = console;
  }

  @Override
  public Integer call() {
    Path dir = out.toAbsolutePath().normalize();
    if (Files.exists(dir) && !Files.isDirectory(dir)) {
      throw new UsageException("--out " + out + ": exists and is not a directory");
    }
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UsageException("--out " + out + ": cannot create the directory (" + e + ")", e);
    }
    if (!Files.isWritable(dir)) {
      throw new UsageException("--out " + out + ": directory is not writable");
    }
    try {
      for (MaskPictures.Picture p : MaskPictures.writeAll(dir, seed)) {
        console.out().println(out.resolve(p.file()) + "  " + p.description());
      }
    } catch (IOException e) {
      throw new UsageException("--out " + out + ": cannot write a picture (" + e + ")", e);
    }
    return Main.OK;
  }
}
