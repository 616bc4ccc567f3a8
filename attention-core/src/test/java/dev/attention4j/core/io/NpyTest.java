package dev.attention4j.core.io;

import static dev.attention4j.core.io.Fixtures.ramp;
import static dev.attention4j.core.io.Fixtures.toFloats;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.core.DType;
import dev.attention4j.core.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class NpyTest {

  @TempDir
  Path dir;

  // ---- byte-for-byte equality with numpy.save

  interface Writer {
    void write(Path file) throws IOException;
  }

  static Stream<Arguments> numpyWrittenFiles() {
    double[] bf16Values = ramp(8, 0.5, -1.75);
    short[] bf16 = new short[8];
    for (int i = 0; i < 8; i++) {
      bf16[i] = DType.floatToBf16((float) bf16Values[i]);
    }
    long[] i4 = new long[10];
    for (int i = 0; i < 10; i++) {
      i4[i] = i - 5;
    }
    long[] i8 = new long[6];
    for (int i = 0; i < 6; i++) {
      i8[i] = i * 1_000_000_007L - (1L << 40);
    }
    return Stream.of(
        Arguments.of("f4_2x3.npy", (Writer) f -> Npy.write(f,
            Tensor.of(toFloats(ramp(6, 0.25, -3)), 2, 3), "<f4")),
        Arguments.of("f8_3x4.npy", (Writer) f -> Npy.write(f,
            Tensor.of(ramp(12, 0.125, -1), 3, 4), "<f8")),
        Arguments.of("f8_7.npy", (Writer) f -> Npy.write(f, Tensor.of(ramp(7, 0.125, -1), 7),
            "<f8")),
        Arguments.of("f2_2x2x3.npy", (Writer) f -> Npy.write(f,
            Tensor.of(toFloats(ramp(12, 0.5, -2)), 2, 2, 3), "<f2")),
        Arguments.of("u2_bf16_2x4.npy", (Writer) f -> Npy.write(f,
            Tensor.ofBits(DType.BF16, bf16, 2, 4), "<u2")),
        Arguments.of("f4_scalar.npy", (Writer) f -> Npy.write(f, Tensor.of(new float[] {1.5f}),
            "<f4")),
        Arguments.of("f4_rank15.npy", (Writer) f -> Npy.write(f,
            Tensor.of(new float[] {0.5f, -0.25f}, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2),
            "<f4")),
        Arguments.of("f4_0x3.npy", (Writer) f -> Npy.write(f, Tensor.zeros(DType.F32, 0, 3),
            "<f4")),
        Arguments.of("i4_2x5.npy", (Writer) f -> Npy.writeLongs(f, i4, new int[] {2, 5}, "<i4")),
        Arguments.of("i8_6.npy", (Writer) f -> Npy.writeLongs(f, i8, new int[] {6}, "<i8")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("numpyWrittenFiles")
  void writerMatchesNumpyByteForByte(String fixture, Writer writer) throws IOException {
    Path out = dir.resolve(fixture);
    writer.write(out);
    byte[] expected = Files.readAllBytes(Fixtures.path(fixture));
    byte[] actual = Files.readAllBytes(out);
    assertEquals(new String(expected, 0, Math.min(expected.length, 128),
        java.nio.charset.StandardCharsets.ISO_8859_1),
        new String(actual, 0, Math.min(actual.length, 128),
            java.nio.charset.StandardCharsets.ISO_8859_1), "preamble");
    assertArrayEquals(expected, actual, "bytes of " + fixture);
    assertEquals(List.of(), Fixtures.strayFiles(dir, fixture), "temporary files left behind");
  }

  @Test
  void headerPreambleIsAMultipleOf64ForManyShapes() {
    for (int rank = 0; rank <= 8; rank++) {
      int[] shape = new int[rank];
      Arrays.fill(shape, 1_000_003);
      byte[] h = Npy.header("<f4", shape);
      assertEquals(0, h.length % 64, "rank " + rank);
      assertEquals('\n', h[h.length - 1]);
      assertEquals(h.length - 10, (h[8] & 0xFF) | (h[9] & 0xFF) << 8);
    }
  }

  // ---- reading NumPy-written files

  static Stream<Arguments> floatFixtures() {
    return Stream.of(
        Arguments.of("f4_2x3.npy", "<f4", new int[] {2, 3}, ramp(6, 0.25, -3)),
        Arguments.of("f8_3x4.npy", "<f8", new int[] {3, 4}, ramp(12, 0.125, -1)),
        Arguments.of("f8_7.npy", "<f8", new int[] {7}, ramp(7, 0.125, -1)),
        Arguments.of("f2_2x2x3.npy", "<f2", new int[] {2, 2, 3}, ramp(12, 0.5, -2)),
        Arguments.of("f4_scalar.npy", "<f4", new int[] {}, new double[] {1.5}),
        Arguments.of("f4_0x3.npy", "<f4", new int[] {0, 3}, new double[0]),
        Arguments.of("f4_rank15.npy", "<f4",
            new int[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2}, new double[] {0.5, -0.25}),
        Arguments.of("f4_fortran_2x3x4.npy", "<f4", new int[] {2, 3, 4}, ramp(24, 0.25, -3)),
        Arguments.of("f8_be_2x3.npy", "<f8", new int[] {2, 3}, ramp(6, 0.25, -3)),
        Arguments.of("f4_be_fortran_3x2.npy", "<f4", new int[] {3, 2}, ramp(6, 0.25, -3)),
        Arguments.of("f2_be_5.npy", "<f2", new int[] {5}, ramp(5, 0.5, -2)),
        Arguments.of("f4_v2_2x3.npy", "<f4", new int[] {2, 3}, ramp(6, 0.25, -3)),
        Arguments.of("f8_v3_4.npy", "<f8", new int[] {4}, ramp(4, 0.125, -1)));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("floatFixtures")
  void readsNumpyFloatFiles(String fixture, String descr, int[] shape, double[] values)
      throws IOException {
    NpyArray a = Npy.read(Fixtures.path(fixture));
    assertEquals(descr, a.descr());
    assertArrayEquals(shape, a.shape());
    assertArrayEquals(values, a.toDoubleArray(), 0.0);
    Tensor t = a.toTensor(false);
    assertArrayEquals(shape, t.shape());
    assertEquals(switch (descr) {
      case "<f4" -> DType.F32;
      case "<f8" -> DType.F64;
      default -> DType.F16;
    }, t.dtype());
    assertArrayEquals(values, t.toDoubleArray(), 0.0);
    // C order: element (i, j, ...) is values[flat C index]
    if (shape.length == 3 && values.length > 0) {
      int i = shape[0] - 1;
      int j = shape[1] - 2;
      int k = shape[2] - 1;
      assertEquals(values[(i * shape[1] + j) * shape[2] + k], t.getDouble(i, j, k), 0.0);
    }
  }

  static Stream<Arguments> integerFixtures() {
    long[] i4 = new long[10];
    for (int i = 0; i < 10; i++) {
      i4[i] = i - 5;
    }
    long[] i8 = new long[6];
    for (int i = 0; i < 6; i++) {
      i8[i] = i * 1_000_000_007L - (1L << 40);
    }
    return Stream.of(
        Arguments.of("i4_2x5.npy", "<i4", new int[] {2, 5}, i4),
        Arguments.of("i8_6.npy", "<i8", new int[] {6}, i8),
        Arguments.of("i4_be_2x3.npy", "<i4", new int[] {2, 3}, new long[] {-3, -2, -1, 0, 1, 2}),
        Arguments.of("i8_be_fortran_2x3.npy", "<i8", new int[] {2, 3},
            new long[] {-3, -2, -1, 0, 1, 2}),
        Arguments.of("i1_6.npy", "|i1", new int[] {6}, new long[] {-3, -2, -1, 0, 1, 2}),
        Arguments.of("u1_4.npy", "|u1", new int[] {4}, new long[] {0, 1, 128, 255}),
        Arguments.of("b1_3.npy", "|b1", new int[] {3}, new long[] {1, 0, 1}));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("integerFixtures")
  void readsNumpyIntegerFiles(String fixture, String descr, int[] shape, long[] values)
      throws IOException {
    NpyArray a = Npy.read(Fixtures.path(fixture));
    assertEquals(descr, a.descr());
    assertArrayEquals(shape, a.shape());
    assertArrayEquals(values, a.toLongArray());
    TensorFileException e = assertThrows(TensorFileException.class, () -> a.toTensor(true));
    assertTrue(e.getMessage().contains(descr) && e.getMessage().contains(fixture),
        e.getMessage());
    e = assertThrows(TensorFileException.class, a::toDoubleArray);
    assertTrue(e.getMessage().contains("not a float type"), e.getMessage());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("floatFixtures")
  void floatFilesAreNotIntegers(String fixture, String descr, int[] shape, double[] values)
      throws IOException {
    NpyArray a = Npy.read(Fixtures.path(fixture));
    TensorFileException e = assertThrows(TensorFileException.class, a::toLongArray);
    assertTrue(e.getMessage().contains(descr + " is not an integer type"), e.getMessage());
  }

  static Stream<Arguments> bf16Fixtures() {
    return Stream.of(
        Arguments.of("u2_bf16_2x4.npy", new int[] {2, 4}, ramp(8, 0.5, -1.75)),
        Arguments.of("u2_be_4.npy", new int[] {4}, ramp(4, 0.5, -1)));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("bf16Fixtures")
  void readsU2AsBf16OnlyWhenAsked(String fixture, int[] shape, double[] values)
      throws IOException {
    NpyArray a = Npy.read(Fixtures.path(fixture));
    assertEquals("<u2", a.descr());
    Tensor t = a.toTensor(true);
    assertEquals(DType.BF16, t.dtype());
    assertArrayEquals(shape, t.shape());
    assertArrayEquals(values, t.toDoubleArray(), 0.0);
    long[] bits = a.toLongArray();
    for (int i = 0; i < values.length; i++) {
      assertEquals(Float.floatToIntBits((float) values[i]) >>> 16, bits[i], "bits of " + i);
    }
    TensorFileException e = assertThrows(TensorFileException.class, () -> a.toTensor(false));
    assertTrue(e.getMessage().startsWith(Fixtures.path(fixture) + ": dtype <u2"),
        e.getMessage());
  }

  // ---- round trips

  static Stream<Arguments> floatRoundTrips() {
    List<Arguments> out = new ArrayList<>();
    int[][] shapes = {{}, {0}, {1}, {7}, {2, 0, 3}, {3, 4}, {2, 3, 5}};
    for (String descr : List.of("<f4", "<f8", "<f2", "<u2")) {
      for (int[] shape : shapes) {
        out.add(Arguments.of(descr, shape));
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("floatRoundTrips")
  void floatRoundTrip(String descr, int[] shape) throws IOException {
    long seed = 0x5EED_0000L + 31L * descr.hashCode() + Arrays.hashCode(shape);
    System.out.println("floatRoundTrip " + descr + " " + Arrays.toString(shape) + " seed "
        + seed);
    Random rnd = new Random(seed);
    int n = (int) Tensor.elementCount(shape);
    double[] values = new double[n];
    for (int i = 0; i < n; i++) {
      values[i] = rnd.nextGaussian() * 10;
    }
    Tensor src = Tensor.of(values, shape);
    Path file = dir.resolve("x.npy");
    Npy.write(file, src, descr);
    NpyArray a = Npy.read(file);
    assertEquals(descr, a.descr());
    assertArrayEquals(shape, a.shape());
    Tensor back = a.toTensor(true);
    assertArrayEquals(shape, back.shape());
    double[] got = back.toDoubleArray();
    for (int i = 0; i < n; i++) {
      float f = (float) values[i];
      double expected = switch (descr) {
        case "<f8" -> values[i];
        case "<f4" -> f;
        case "<f2" -> Float.float16ToFloat(Float.floatToFloat16(f));
        default -> DType.bf16ToFloat(DType.floatToBf16(f));
      };
      assertEquals(expected, got[i], 0.0, "element " + i);
    }
    assertEquals(Npy.header(descr, shape).length + (long) n * a.itemSize(), Files.size(file));
  }

  @Test
  void sixteenBitTensorsKeepTheirBitsIncludingNanPayloads() throws IOException {
    short[] f16 = {(short) 0x7E01, (short) 0xFC00, 0x0001, (short) 0x8000, 0x3C00};
    Path file = dir.resolve("h.npy");
    Npy.write(file, Tensor.ofBits(DType.F16, f16, 5), "<f2");
    assertArrayEquals(f16, Npy.read(file).toTensor().shortData());
    short[] bf16 = {(short) 0x7FC1, (short) 0xFF80, 0x0001, (short) 0x8000, 0x3F80};
    Npy.write(file, Tensor.ofBits(DType.BF16, bf16, 5), "<u2");
    assertArrayEquals(bf16, Npy.read(file).toTensor(true).shortData());
  }

  @Test
  void stridedViewsAreWrittenInCOrder() throws IOException {
    Tensor base = Tensor.of(toFloats(ramp(24, 1, 0)), 2, 3, 4);
    Tensor view = base.permute(2, 0, 1).slice(0, 1, 3);
    Path file = dir.resolve("v.npy");
    Npy.write(file, view, "<f4");
    NpyArray a = Npy.read(file);
    assertArrayEquals(new int[] {2, 2, 3}, a.shape());
    assertArrayEquals(view.toDoubleArray(), a.toDoubleArray(), 0.0);
    assertEquals(1.0 + 4 * (1 * 3 + 2), a.toTensor().getDouble(0, 1, 2), 0.0);
  }

  static Stream<Arguments> integerRoundTrips() {
    return Stream.of(
        Arguments.of("<i4", new int[] {}, new long[] {-7}),
        Arguments.of("<i4", new int[] {0, 5}, new long[0]),
        Arguments.of("<i4", new int[] {4},
            new long[] {Integer.MIN_VALUE, -1, 0, Integer.MAX_VALUE}),
        Arguments.of("<i4", new int[] {2, 3}, new long[] {1, 2, 3, 4, 5, 6}),
        Arguments.of("<i8", new int[] {}, new long[] {1L << 50}),
        Arguments.of("<i8", new int[] {3, 0}, new long[0]),
        Arguments.of("<i8", new int[] {2, 2}, new long[] {Long.MIN_VALUE, -1, 0, Long.MAX_VALUE}));
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("integerRoundTrips")
  void integerRoundTrip(String descr, int[] shape, long[] values) throws IOException {
    Path file = dir.resolve("i.npy");
    Npy.writeLongs(file, values, shape, descr);
    NpyArray a = Npy.read(file);
    assertEquals(descr, a.descr());
    assertArrayEquals(shape, a.shape());
    assertArrayEquals(values, a.toLongArray());
  }

  @Test
  void rejectsBadWriteArguments() {
    Path file = dir.resolve("bad.npy");
    Tensor t = Tensor.zeros(DType.F32, 2);
    assertTrue(assertThrows(IllegalArgumentException.class, () -> Npy.write(file, t, "<i4"))
        .getMessage().contains("'<i4'"));
    assertTrue(assertThrows(IllegalArgumentException.class,
        () -> Npy.writeLongs(file, new long[3], new int[] {2, 2}, "<i8"))
        .getMessage().contains("3 values do not fill shape (2, 2)"));
    assertTrue(assertThrows(IllegalArgumentException.class,
        () -> Npy.writeLongs(file, new long[1], new int[] {1}, "<f4"))
        .getMessage().contains("'<f4'"));
    assertTrue(Files.notExists(file));
  }

  // ---- atomic writes

  @Test
  void failedWriteLeavesExistingTargetUntouched() throws IOException {
    Path target = dir.resolve("keep.npy");
    Npy.write(target, Tensor.of(toFloats(ramp(6, 0.25, -3)), 2, 3), "<f4");
    byte[] before = Files.readAllBytes(target);
    // A value that does not fit <i4: the write is refused and the target stays as it was.
    long[] values = {1, 2, 3, 1L << 40};
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Npy.writeLongs(target, values, new int[] {4}, "<i4"));
    assertTrue(e.getMessage().contains("1099511627776 at index 3"), e.getMessage());
    assertArrayEquals(before, Files.readAllBytes(target));
    assertEquals(List.of(), Fixtures.strayFiles(dir, "keep.npy"));
  }

  @Test
  void failedRenameLeavesNoTemporaryFile() throws IOException {
    // The target is a non-empty directory: the data is written, the rename fails.
    Path target = dir.resolve("occupied.npy");
    Files.createDirectory(target);
    Files.writeString(target.resolve("inside.txt"), "unchanged");
    assertThrows(IOException.class,
        () -> Npy.write(target, Tensor.zeros(DType.F64, 3), "<f8"));
    assertTrue(Files.isDirectory(target));
    assertEquals("unchanged", Files.readString(target.resolve("inside.txt")));
    assertEquals(List.of(), Fixtures.strayFiles(dir, "occupied.npy"));
  }

  @Test
  void failureWhileWritingDeletesTheTemporaryFile() throws IOException {
    Path target = dir.resolve("t.bin");
    Files.writeString(target, "old content");
    IOException e = assertThrows(IOException.class, () -> AtomicFiles.write(target, out -> {
      out.write(new byte[100_000]); // more than the buffer, so the temporary file has data
      throw new IOException("disk full (simulated)");
    }));
    assertEquals("disk full (simulated)", e.getMessage());
    assertEquals("old content", Files.readString(target));
    assertEquals(List.of(), Fixtures.strayFiles(dir, "t.bin"));
    AtomicFiles.write(target, out -> out.write("new".getBytes()));
    assertEquals("new", Files.readString(target));
    assertEquals(List.of(), Fixtures.strayFiles(dir, "t.bin"));
  }

  @Test
  void missingFileIsATensorFileException() {
    Path missing = dir.resolve("nope.npy");
    TensorFileException e = assertThrows(TensorFileException.class, () -> Npy.read(missing));
    assertEquals(missing + ": no such file", e.getMessage());
  }
}
