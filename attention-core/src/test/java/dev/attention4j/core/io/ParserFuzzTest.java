package dev.attention4j.core.io;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Seeded random mutation of valid {@code .npy} and safetensors files: every mutant is either read
 * (and then converts without error) or rejected with {@link TensorFileException}; nothing else is
 * thrown, nothing hangs. The default pass runs a few thousand mutants per seed file; the
 * {@code long} pass runs for {@code -Dattention4j.fuzz.seconds} (default 60) per format. A failing
 * mutant is written next to the temporary directory's name in the message, to become a fixture.
 */
class ParserFuzzTest {

  static final String[] NPY_SEEDS = {"f4_2x3.npy", "f2_be_5.npy", "f4_fortran_2x3x4.npy",
      "f8_v3_4.npy", "i8_be_fortran_2x3.npy", "u2_bf16_2x4.npy", "f4_v2_2x3.npy", "b1_3.npy"};
  static final String[] ST_SEEDS = {"mixed.safetensors", "mixed_unpadded.safetensors",
      "writer_expected.safetensors"};

  @TempDir
  Path tmp;

  static Stream<String> seeds() {
    return Stream.concat(Stream.of(NPY_SEEDS), Stream.of(ST_SEEDS));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("seeds")
  void shortPass(String seedFile) throws IOException {
    fuzz(seedFile, 1500, Long.MAX_VALUE);
  }

  @Tag("long")
  @Test
  void longPass() throws IOException {
    long seconds = Long.getLong("attention4j.fuzz.seconds", 60);
    long perFile = seconds * 1_000_000_000L / (NPY_SEEDS.length + ST_SEEDS.length);
    for (String s : seeds().toList()) {
      fuzz(s, Integer.MAX_VALUE, perFile);
    }
  }

  private void fuzz(String seedFile, int mutants, long nanos) throws IOException {
    byte[] original = Files.readAllBytes(Fixtures.path(seedFile));
    long seed = seedFile.hashCode() * 0x9E3779B97F4A7C15L;
    System.out.println("fuzzing " + seedFile + " with seed " + seed);
    SplittableRandom rnd = new SplittableRandom(seed);
    Path file = tmp.resolve(seedFile);
    long start = System.nanoTime();
    int rejected = 0;
    int n = 0;
    for (; n < mutants && System.nanoTime() - start < nanos; n++) {
      byte[] mutant = mutate(original, rnd);
      Files.write(file, mutant);
      try {
        readFully(file, seedFile.endsWith(".npy"));
      } catch (TensorFileException expected) {
        rejected++;
        assertTrue(expected.getMessage().startsWith(file.toString()),
            "message names the file: " + expected.getMessage());
      } catch (RuntimeException | OutOfMemoryError | StackOverflowError e) {
        Path keep = Files.write(tmp.resolveSibling("crasher-" + seedFile), mutant);
        fail("mutant " + n + " of " + seedFile + " (seed " + seed + ", saved as " + keep
            + ") threw " + e, e);
      }
    }
    System.out.printf("%s: %d mutants, %d rejected, %d read%n", seedFile, n, rejected,
        n - rejected);
  }

  private static void readFully(Path file, boolean npy) throws TensorFileException {
    if (npy) {
      NpyArray a = Npy.read(file);
      if (a.isFloat()) {
        a.toDoubleArray();
        a.toTensor(true);
      } else {
        a.toLongArray();
      }
      return;
    }
    SafetensorsFile f = Safetensors.read(file);
    for (String name : f.names()) {
      SafetensorsFile.Entry e = f.entry(name);
      if (List.of("F32", "F16", "BF16", "F64").contains(e.dtype())) {
        f.tensor(name).toDoubleArray();
      }
    }
  }

  /** One to four random edits: bit flips, byte overwrites, truncation, insertion, digit edits. */
  static byte[] mutate(byte[] in, SplittableRandom rnd) {
    byte[] b = in.clone();
    int edits = 1 + rnd.nextInt(4);
    for (int e = 0; e < edits && b.length > 0; e++) {
      switch (rnd.nextInt(6)) {
        case 0 -> b[rnd.nextInt(b.length)] ^= (byte) (1 << rnd.nextInt(8));
        case 1 -> b[rnd.nextInt(Math.min(b.length, 160))] = (byte) rnd.nextInt(256);
        case 2 -> b = java.util.Arrays.copyOf(b, rnd.nextInt(b.length));
        case 3 -> {
          int at = rnd.nextInt(b.length + 1);
          byte[] c = new byte[b.length + 1 + rnd.nextInt(8)];
          System.arraycopy(b, 0, c, 0, at);
          for (int i = at; i < at + c.length - b.length; i++) {
            c[i] = (byte) rnd.nextInt(256);
          }
          System.arraycopy(b, at, c, at + c.length - b.length, b.length - at);
          b = c;
        }
        case 4 -> {
          // replace a digit run in the header with a large or odd number
          String head = new String(b, 0, Math.min(b.length, 200), StandardCharsets.ISO_8859_1);
          int d = indexOfDigit(head, rnd.nextInt(Math.max(1, head.length())));
          if (d >= 0) {
            String[] repl = {"0", "9999999999", "2147483647", "-1", "18446744073709551615",
                "4294967296", "3", "65536"};
            byte[] r = repl[rnd.nextInt(repl.length)].getBytes(StandardCharsets.ISO_8859_1);
            int end = d;
            while (end < head.length() && Character.isDigit(head.charAt(end))) {
              end++;
            }
            byte[] c = new byte[b.length - (end - d) + r.length];
            System.arraycopy(b, 0, c, 0, d);
            System.arraycopy(r, 0, c, d, r.length);
            System.arraycopy(b, end, c, d + r.length, b.length - end);
            b = c;
          }
        }
        default -> {
          // swap two bytes in the header
          int lim = Math.min(b.length, 128);
          int i = rnd.nextInt(lim);
          int j = rnd.nextInt(lim);
          byte t = b[i];
          b[i] = b[j];
          b[j] = t;
        }
      }
    }
    return b;
  }

  private static int indexOfDigit(String s, int from) {
    for (int i = 0; i < s.length(); i++) {
      int at = (from + i) % s.length();
      if (Character.isDigit(s.charAt(at))) {
        return at;
      }
    }
    return -1;
  }
}
