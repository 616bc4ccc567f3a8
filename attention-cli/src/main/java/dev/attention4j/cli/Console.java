package dev.attention4j.cli;

import java.io.PrintStream;

/**
 * The two output streams of a command: {@code out} for results only (tables or JSON lines),
 * {@code err} for progress notes and the single {@code error:} line of a failure.
 */
record Console(PrintStream out, PrintStream err) {

  /** Prints {@code error: <message>} as exactly one line on stderr. */
  void error(String message) {
    err.println("error: " + oneLine(message));
    err.flush();
  }

  /** A progress or warm-up note on stderr. */
  void note(String message) {
    err.println(oneLine(message));
    err.flush();
  }

  /** The message with line breaks folded into spaces (never empty). */
  static String oneLine(String message) {
    if (message == null || message.isBlank()) {
      return "(no message)";
    }
    return message.strip().replaceAll("\\s*[\\r\\n]+\\s*", " ");
  }
}
