package dev.attention4j.cli;

import dev.attention4j.core.Tensor;
import dev.attention4j.core.io.Npy;
import dev.attention4j.core.io.NpyArray;
import dev.attention4j.core.io.TensorFileException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Reads the {@code .npy} inputs of a command. Byte order and Fortran order are handled by
 * {@link Npy#read}; this class checks the dtype and rank each input needs and turns every problem
 * into a {@link UsageException} naming the option and the file.
 */
final class TensorFiles {

  private TensorFiles() {
  }

  /**
   * A Q, K or V tensor: {@code <f4}, {@code <f2}, {@code <f8}, or {@code <u2} (bfloat16 bits) when
   * {@code bf16} is set. The rank is checked later, with the other tensors.
   */
  static Tensor readTensor(String option, Path path, boolean bf16) {
    NpyArray a = read(option, path);
    String descr = a.descr();
    switch (descr) {
      case "<f4", "<f2", "<f8" -> {
      }
      case "<u2", "|V2" -> {
        if (!bf16) {
          throw problem(option, path, "dtype " + descr + " holds 16-bit integers; pass --bf16 to"
              + " read it as bfloat16");
        }
      }
      default -> throw problem(option, path, "dtype " + descr + " is not supported (expected <f4,"
          + " <f2, <f8, or <u2 with --bf16)");
    }
    try {
      return a.toTensor(bf16);
    } catch (TensorFileException e) {
      throw fileProblem(option, path, e);
    }
  }

  /** ALiBi slopes: {@code [Hq]} float32 or float64. */
  static double[] readSlopes(String option, Path path) {
    NpyArray a = read(option, path);
    if (!a.descr().equals("<f4") && !a.descr().equals("<f8")) {
      throw problem(option, path, "dtype " + a.descr() + " is not supported (slopes are float32"
          + " or float64, [Hq])");
    }
    requireRank1(option, path, a, "[Hq], one slope per query head");
    try {
      return a.toDoubleArray();
    } catch (TensorFileException e) {
      throw fileProblem(option, path, e);
    }
  }

  /** Key lengths: {@code [B]} int32 or int64, each {@code >= 0}. */
  static int[] readLengths(String option, Path path) {
    NpyArray a = read(option, path);
    if (!a.descr().equals("<i4") && !a.descr().equals("<i8")) {
      throw problem(option, path, "dtype " + a.descr() + " is not supported (lengths are int32 or"
          + " int64, [B])");
    }
    requireRank1(option, path, a, "[B], one length per batch");
    long[] values;
    try {
      values = a.toLongArray();
    } catch (TensorFileException e) {
      throw fileProblem(option, path, e);
    }
    int[] out = new int[values.length];
    for (int b = 0; b < values.length; b++) {
      if (values[b] < 0 || values[b] > Integer.MAX_VALUE) {
        throw problem(option, path, "length of batch " + b + " is " + values[b]
            + " (must be >= 0 and at most the key length)");
      }
      out[b] = (int) values[b];
    }
    return out;
  }

  private static void requireRank1(String option, Path path, NpyArray a, String expected) {
    if (a.shape().length != 1) {
      throw problem(option, path, "shape " + Arrays.toString(a.shape()) + " has rank "
          + a.shape().length + ", expected " + expected);
    }
  }

  /** Reads a file, with the file-system problems named plainly. */
  static NpyArray read(String option, Path path) {
    if (!Files.exists(path)) {
      throw problem(option, path, "no such file");
    }
    if (Files.isDirectory(path)) {
      throw problem(option, path, "is a directory, not an .npy file");
    }
    try {
      return Npy.read(path);
    } catch (TensorFileException e) {
      throw fileProblem(option, path, e);
    } catch (IllegalArgumentException e) {
      throw problem(option, path, e.getMessage());
    }
  }

  private static UsageException problem(String option, Path path, String what) {
    return new UsageException(option + " " + path + ": " + what);
  }

  /** The reader's message already starts with the file name; put the option in front. */
  private static UsageException fileProblem(String option, Path path, TensorFileException e) {
    String msg = e.getMessage() == null ? e.toString() : e.getMessage();
    String prefix = path + ": ";
    if (msg.startsWith(prefix)) {
      return new UsageException(option + " " + msg, e);
    }
    return new UsageException(option + " " + path + ": " + msg, e);
  }
}
