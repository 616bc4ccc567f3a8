package dev.attention4j.cli;

import dev.attention4j.core.Alignment;

/**
 * Parsing and checking of option values that picocli leaves as strings or numbers. Every failure
 * is a {@link UsageException} whose message names the option and the value.
 */
final class OptionValues {

  /** The most threads a command accepts (the limit of {@link java.util.concurrent.ForkJoinPool}). */
  static final int MAX_THREADS = 32767;

  private OptionValues() {
  }

  /** Which implementation computes: the fast kernel or the float64 reference. */
  enum Impl {
    FAST, REFERENCE;

    static Impl parse(String s) {
      return switch (s) {
        case "fast" -> FAST;
        case "reference" -> REFERENCE;
        default -> throw new UsageException("--impl '" + s + "': expected fast or reference");
      };
    }
  }

  /** The dtype of the written {@code .npy} files. */
  enum OutDType {
    F4("<f4"), F8("<f8");

    final String descr;

    OutDType(String descr) {
      this.descr = descr;
    }

    static OutDType parse(String s) {
      return switch (s) {
        case "f4" -> F4;
        case "f8" -> F8;
        default -> throw new UsageException("--out-dtype '" + s + "': expected f4 or f8");
      };
    }
  }

  /** {@code bottom-right} or {@code top-left}. */
  static Alignment alignment(String s) {
    return switch (s) {
      case "bottom-right" -> Alignment.BOTTOM_RIGHT;
      case "top-left" -> Alignment.TOP_LEFT;
      default -> throw new UsageException("--align '" + s + "': expected bottom-right or top-left");
    };
  }

  /** The name of an alignment as the command line spells it. */
  static String alignmentName(Alignment a) {
    return a == Alignment.BOTTOM_RIGHT ? "bottom-right" : "top-left";
  }

  /** {@code LEFT,RIGHT}: two integers, each {@code >= 0} or {@code -1} (unbounded). */
  static int[] window(String s) {
    String[] parts = s.split(",", -1);
    if (parts.length != 2) {
      throw new UsageException("--window '" + s + "': expected LEFT,RIGHT (two integers, -1 ="
          + " unbounded)");
    }
    int[] w = new int[2];
    for (int i = 0; i < 2; i++) {
      try {
        w[i] = Integer.parseInt(parts[i].strip());
      } catch (NumberFormatException e) {
        throw new UsageException("--window '" + s + "': '" + parts[i].strip()
            + "' is not an integer (expected LEFT,RIGHT, -1 = unbounded)");
      }
      if (w[i] < -1) {
        throw new UsageException("--window '" + s + "': " + (i == 0 ? "LEFT" : "RIGHT") + " is "
            + w[i] + "; each bound must be >= 0, or -1 for unbounded");
      }
    }
    return w;
  }

  /** A thread count: {@code null} gives {@code dflt}; otherwise 1 to {@value #MAX_THREADS}. */
  static int threads(Integer n, int dflt) {
    if (n == null) {
      return dflt;
    }
    if (n < 1 || n > MAX_THREADS) {
      throw new UsageException("--threads " + n + ": must be between 1 and " + MAX_THREADS);
    }
    return n;
  }

  /** All cores of this machine. */
  static int allCores() {
    return Math.max(1, Runtime.getRuntime().availableProcessors());
  }

  /** {@code --scale}: any finite value (SEMANTICS.md puts no bound on it; 0 and negative too). */
  static double scale(double s) {
    if (!Double.isFinite(s)) {
      throw new UsageException("--scale " + s + ": must be finite");
    }
    return s;
  }

  /** {@code --softcap}: finite and {@code >= 0} (0 = off). */
  static double softcap(double c) {
    if (!Double.isFinite(c) || c < 0) {
      throw new UsageException("--softcap " + c + ": must be finite and >= 0 (0 = off)");
    }
    return c;
  }

  /** An integer option that must be at least {@code min}. */
  static int atLeast(String option, int value, int min) {
    if (value < min) {
      throw new UsageException(option + " " + value + ": must be >= " + min);
    }
    return value;
  }
}
