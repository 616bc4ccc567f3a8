package dev.attention4j.cli;

import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Unmatched;

/**
 * A kernel name that the command line knows but this build does not implement yet: whatever the
 * arguments, it exits with status 2 and {@code error: kernel 'NAME' is not available in this build}.
 */
@Command(description = "(not available in this build)")
final class UnavailableKernelCommand implements Callable<Integer> {

  private final String name;

  @Unmatched
  @SuppressWarnings("unused") // picocli collects the arguments here; they are ignored
  private List<String> ignored;

  UnavailableKernelCommand(String name) {
    this.name = name;
  }

  @Override
  public Integer call() {
    throw new UsageException("kernel '" + name + "' is not available in this build");
  }
}
