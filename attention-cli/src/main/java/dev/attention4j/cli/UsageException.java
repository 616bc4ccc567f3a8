package dev.attention4j.cli;

import java.io.Serial;

/**
 * Bad input: an argument, a file, a shape or a dtype. The command exits with status 2 and prints
 * the message, which names the problem, as its one {@code error:} line.
 */
final class UsageException extends RuntimeException {

  @Serial
  private static final long serialVersionUID = 1L;

  UsageException(String message) {
    super(message);
  }

  UsageException(String message, Throwable cause) {
    super(message, cause);
  }
}
