package dev.attention4j.core.io;

import java.io.IOException;
import java.io.Serial;
import java.nio.file.Path;

/**
 * A tensor file ({@code .npy} or safetensors) is malformed, unsupported, or does not hold what the
 * caller asked for. The message always starts with the file name and names the numbers involved,
 * for example {@code Q.npy: data is 40 bytes, shape (2, 3) of <f4 needs 24}.
 */
public final class TensorFileException extends IOException {

  @Serial
  private static final long serialVersionUID = 1L;

  /** An exception with a message that should already name the file. */
  public TensorFileException(String message) {
    super(message);
  }

  /** An exception with a message that should already name the file, and its cause. */
  public TensorFileException(String message, Throwable cause) {
    super(message, cause);
  }

  /** An exception whose message is {@code "<file>: <problem>"}. */
  static TensorFileException of(Path file, String problem) {
    return new TensorFileException(file + ": " + problem);
  }

  /** An exception whose message is {@code "<file>: <problem>"}, with a cause. */
  static TensorFileException of(Path file, String problem, Throwable cause) {
    return new TensorFileException(file + ": " + problem, cause);
  }
}
