package dev.attention4j.core.io;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Atomic file replacement: the content goes to a temporary file in the target's directory, which
 * is forced to disk and then renamed over the target ({@code ATOMIC_MOVE, REPLACE_EXISTING}). On
 * any failure the temporary file is deleted, so the target is either the complete new content or
 * exactly what it was before.
 */
final class AtomicFiles {

  private AtomicFiles() {}

  /** Writes the body of a file to a stream; the stream is closed by {@link #write}. */
  @FunctionalInterface
  interface Body {
    void writeTo(OutputStream out) throws IOException;
  }

  /** Replaces {@code target} with the bytes {@code body} writes, or leaves it untouched. */
  static void write(Path target, Body body) throws IOException {
    Path abs = target.toAbsolutePath();
    Path dir = abs.getParent();
    String name = abs.getFileName().toString();
    Path tmp = createTemp(dir, name);
    boolean done = false;
    try {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE,
              StandardOpenOption.TRUNCATE_EXISTING);
          OutputStream out = new BufferedOutputStream(Channels.newOutputStream(ch), 1 << 16)) {
        body.writeTo(out);
        out.flush();
        ch.force(true);
      }
      try {
        Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
      }
      done = true;
    } finally {
      if (!done) {
        try {
          Files.deleteIfExists(tmp);
        } catch (IOException suppressed) {
          // the original failure is the one to report
        }
      }
    }
  }

  /**
   * Creates an empty, uniquely named sibling of the target. Unlike {@link Files#createTempFile},
   * which makes the file owner-only (0600), this keeps the default permissions (umask), so the
   * renamed file ends up with the permissions a plain write would give it.
   */
  private static Path createTemp(Path dir, String name) throws IOException {
    for (int attempt = 0; ; attempt++) {
      long r = ThreadLocalRandom.current().nextLong() >>> 1;
      Path tmp = dir.resolve("." + name + "." + Long.toString(r, 36) + ".tmp");
      try {
        return Files.createFile(tmp);
      } catch (FileAlreadyExistsException e) {
        if (attempt >= 100) {
          throw e;
        }
      }
    }
  }
}
