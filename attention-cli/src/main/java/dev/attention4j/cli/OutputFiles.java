package dev.attention4j.cli;

import dev.attention4j.core.Tensor;
import dev.attention4j.core.io.Npy;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The output files of {@code run}: checked before any computation, and written only after it
 * succeeded. Every file goes to a temporary sibling first; only when all of them are complete are
 * they renamed over their targets, so a failure leaves no new file and every existing target as it
 * was.
 */
final class OutputFiles {

  /** One output: the option that named it and its absolute path. */
  record Target(String option, Path path) {}

  private final List<Target> targets;

  private OutputFiles(List<Target> targets) {
    this.targets = targets;
  }

  /**
   * Checks the outputs (alternating option name and path; a null path is skipped): each parent
   * directory exists, no target is a directory or a special file, and no two targets are the same.
   */
  static OutputFiles check(Object... optionsAndPaths) {
    List<Target> list = new ArrayList<>();
    for (int i = 0; i < optionsAndPaths.length; i += 2) {
      String option = (String) optionsAndPaths[i];
      Path given = (Path) optionsAndPaths[i + 1];
      if (given == null) {
        continue;
      }
      Path abs = given.toAbsolutePath().normalize();
      if (abs.getFileName() == null) {
        throw new UsageException(option + " " + given + ": not a file name");
      }
      if (Files.isDirectory(abs)) {
        throw new UsageException(option + " " + given + ": is a directory");
      }
      if (Files.exists(abs) && !Files.isRegularFile(abs)) {
        throw new UsageException(option + " " + given + ": exists and is not a regular file");
      }
      Path dir = abs.getParent();
      if (!Files.isDirectory(dir)) {
        throw new UsageException(option + " " + given + ": directory " + dir
            + " does not exist");
      }
      if (!Files.isWritable(dir)) {
        throw new UsageException(option + " " + given + ": directory " + dir
            + " is not writable");
      }
      for (Target t : list) {
        if (t.path().equals(abs) || sameFile(t.path(), abs)) {
          throw new UsageException(t.option() + " and " + option + " name the same file "
              + given);
        }
      }
      list.add(new Target(option, abs));
    }
    return new OutputFiles(List.copyOf(list));
  }

  /**
   * Writes {@code tensors[i]} to target {@code i} with the given {@code .npy} descriptor (null
   * tensors are skipped, in step with the null paths given to {@link #check}).
   *
   * @throws UsageException if a file cannot be written; then no target has changed
   */
  void write(String descr, Tensor... tensors) {
    List<Tensor> present = new ArrayList<>();
    for (Tensor t : tensors) {
      if (t != null) {
        present.add(t);
      }
    }
    if (present.size() != targets.size()) {
      throw new IllegalStateException(present.size() + " tensors for " + targets.size()
          + " output files");
    }
    List<Path> temps = new ArrayList<>();
    int renamed = 0;
    try {
      for (int i = 0; i < targets.size(); i++) {
        Target t = targets.get(i);
        Path tmp = createTemp(t);
        temps.add(tmp);
        try {
          Npy.write(tmp, present.get(i), descr);
        } catch (IOException e) {
          throw new UsageException("cannot write " + t.option() + " " + t.path() + ": " + e, e);
        }
      }
      for (int i = 0; i < targets.size(); i++) {
        Target t = targets.get(i);
        try {
          move(temps.get(i), t.path());
        } catch (IOException e) {
          throw new UsageException("cannot write " + t.option() + " " + t.path() + ": " + e, e);
        }
        renamed++;
      }
    } finally {
      for (int i = renamed; i < temps.size(); i++) {
        try {
          Files.deleteIfExists(temps.get(i));
        } catch (IOException suppressed) {
          // the original failure is the one to report
        }
      }
    }
  }

  /** An empty, uniquely named hidden sibling of the target (default permissions). */
  private static Path createTemp(Target t) {
    Path dir = t.path().getParent();
    String name = t.path().getFileName().toString();
    for (int attempt = 0; ; attempt++) {
      String r = Long.toString(ThreadLocalRandom.current().nextLong() >>> 1, 36);
      Path tmp = dir.resolve("." + name + "." + r + ".part");
      try {
        return Files.createFile(tmp);
      } catch (FileAlreadyExistsException e) {
        if (attempt >= 100) {
          throw new UsageException("cannot write " + t.option() + " " + t.path()
              + ": cannot create a temporary file in " + dir, e);
        }
      } catch (IOException e) {
        throw new UsageException("cannot write " + t.option() + " " + t.path() + ": " + e, e);
      }
    }
  }

  private static void move(Path from, Path to) throws IOException {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  private static boolean sameFile(Path a, Path b) {
    try {
      return Files.exists(a, LinkOption.NOFOLLOW_LINKS) && Files.exists(b)
          && Files.isSameFile(a, b);
    } catch (IOException e) {
      return false;
    }
  }
}
