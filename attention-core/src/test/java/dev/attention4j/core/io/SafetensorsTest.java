package dev.attention4j.core.io;

import static dev.attention4j.core.io.Fixtures.ramp;
import static dev.attention4j.core.io.Fixtures.toFloats;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.core.DType;
import dev.attention4j.core.Tensor;
import dev.attention4j.core.io.SafetensorsFile.Entry;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class SafetensorsTest {

  @TempDir
  Path dir;

  static final List<String> ALL_DTYPES = List.of("F32", "F16", "BF16", "F64", "I8", "U8", "I32",
      "I64", "F8_E4M3", "F8_E5M2", "I16", "U16", "U32", "U64", "BOOL");

  static int itemSize(String dtype) {
    return switch (dtype) {
      case "F64", "I64", "U64" -> 8;
      case "F32", "I32", "U32" -> 4;
      case "F16", "BF16", "I16", "U16" -> 2;
      default -> 1;
    };
  }

  // ---- round trips

  static Stream<Arguments> dtypesAndShapes() {
    List<Arguments> out = new ArrayList<>();
    int[][] shapes = {{}, {0}, {7}, {2, 0, 3}, {3, 4}};
    for (String dtype : ALL_DTYPES) {
      for (int[] shape : shapes) {
        out.add(Arguments.of(dtype, shape));
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("dtypesAndShapes")
  void rawRoundTrip(String dtype, int[] shape) throws IOException {
    long seed = 0xABCD_0000L + 31L * dtype.hashCode() + Arrays.hashCode(shape);
    System.out.println("rawRoundTrip " + dtype + " " + Arrays.toString(shape) + " seed " + seed);
    Random rnd = new Random(seed);
    byte[] data = new byte[(int) Tensor.elementCount(shape) * itemSize(dtype)];
    rnd.nextBytes(data);
    byte[] other = new byte[3 * itemSize("F32")];
    rnd.nextBytes(other);
    Map<String, Entry> tensors = new HashMap<>();
    tensors.put("t", new Entry(dtype, shape, data));
    tensors.put("other", new Entry("F32", new int[] {3}, other));
    tensors.put("empty", new Entry("U8", new int[] {0}, new byte[0]));
    Path file = dir.resolve("x.safetensors");
    Safetensors.write(file, tensors, Map.of("seed", Long.toString(seed)));

    SafetensorsFile st = Safetensors.read(file);
    assertEquals(Set.of("t", "other", "empty"), st.names());
    assertEquals(Map.of("seed", Long.toString(seed)), st.metadata());
    Entry back = st.entry("t");
    assertEquals(dtype, back.dtype());
    assertArrayEquals(shape, back.shape());
    assertArrayEquals(data, back.data());
    assertEquals(tensors.get("t"), back);
    assertArrayEquals(other, st.entry("other").data());
    // header length is a multiple of 8 and the data is laid out by descending item size
    byte[] bytes = Files.readAllBytes(file);
    long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    assertEquals(0, n % 8);
    assertEquals(8 + n + data.length + other.length, bytes.length);
  }

  static Stream<Arguments> tensorDtypes() {
    List<Arguments> out = new ArrayList<>();
    int[][] shapes = {{}, {0}, {5}, {2, 0}, {2, 3, 4}};
    for (String dtype : List.of("F32", "F16", "BF16", "F64")) {
      for (int[] shape : shapes) {
        out.add(Arguments.of(dtype, shape));
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("tensorDtypes")
  void tensorRoundTrip(String dtype, int[] shape) throws IOException {
    long seed = 0x7E57_0000L + 31L * dtype.hashCode() + Arrays.hashCode(shape);
    System.out.println("tensorRoundTrip " + dtype + " " + Arrays.toString(shape) + " seed "
        + seed);
    Random rnd = new Random(seed);
    int n = (int) Tensor.elementCount(shape);
    double[] values = new double[n];
    for (int i = 0; i < n; i++) {
      values[i] = rnd.nextGaussian() * 100;
    }
    Path file = dir.resolve("t.safetensors");
    Safetensors.write(file, Map.of("w", Entry.of(Tensor.of(values, shape), dtype)), null);
    SafetensorsFile st = Safetensors.read(file);
    assertEquals(Map.of(), st.metadata());
    Tensor t = st.tensor("w");
    assertEquals(DType.valueOf(dtype), t.dtype());
    assertArrayEquals(shape, t.shape());
    double[] got = t.toDoubleArray();
    double[] viaEntry = st.entry("w").toDoubleArray();
    for (int i = 0; i < n; i++) {
      float f = (float) values[i];
      double expected = switch (dtype) {
        case "F64" -> values[i];
        case "F32" -> f;
        case "F16" -> Float.float16ToFloat(Float.floatToFloat16(f));
        default -> DType.bf16ToFloat(DType.floatToBf16(f));
      };
      assertEquals(expected, got[i], 0.0, "element " + i);
      assertEquals(expected, viaEntry[i], 0.0, "element " + i);
    }
  }

  @Test
  void integerEntriesDecode() throws IOException {
    ByteBuffer b = ByteBuffer.allocate(8 * 3).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(Long.MIN_VALUE).putLong(-1).putLong(Long.MAX_VALUE);
    ByteBuffer u = ByteBuffer.allocate(2 * 2).order(ByteOrder.LITTLE_ENDIAN);
    u.putShort((short) 0xFFFF).putShort((short) 7);
    Map<String, Entry> m = new LinkedHashMap<>();
    m.put("i64", new Entry("I64", new int[] {3}, b.array()));
    m.put("u16", new Entry("U16", new int[] {2}, u.array()));
    m.put("bool", new Entry("BOOL", new int[] {3}, new byte[] {0, 1, 2}));
    m.put("u64", new Entry("U64", new int[] {1}, new byte[] {-1, -1, -1, -1, -1, -1, -1, -1}));
    Path file = dir.resolve("ints.safetensors");
    Safetensors.write(file, m, Map.of());
    SafetensorsFile st = Safetensors.read(file);
    assertArrayEquals(new long[] {Long.MIN_VALUE, -1, Long.MAX_VALUE},
        st.entry("i64").toLongArray());
    assertArrayEquals(new long[] {65535, 7}, st.entry("u16").toLongArray());
    assertArrayEquals(new long[] {0, 1, 1}, st.entry("bool").toLongArray());
    assertArrayEquals(new double[] {0x1p64 - 1}, st.entry("u64").toDoubleArray(), 0.0);
    assertTrue(assertThrows(IllegalArgumentException.class, () -> st.entry("u64").toLongArray())
        .getMessage().contains("18446744073709551615"));
  }

  // ---- writer layout and byte equality with the reference convention

  @Test
  void writerMatchesReferenceLayoutByteForByte() throws IOException {
    short[] bf16 = new short[4];
    double[] bfv = ramp(4, 0.5, -1);
    for (int i = 0; i < 4; i++) {
      bf16[i] = DType.floatToBf16((float) bfv[i]);
    }
    // Insertion order deliberately differs from the expected file order.
    Map<String, Entry> m = new LinkedHashMap<>();
    m.put("d_i8", new Entry("I8", new int[] {5}, new byte[] {-2, -1, 0, 1, 2}));
    m.put("c_bf16", Entry.of(Tensor.ofBits(DType.BF16, bf16, 2, 2), "BF16"));
    m.put("b_f16", Entry.of(Tensor.of(toFloats(ramp(4, 0.5, -1)), 4), "F16"));
    m.put("a_f32", Entry.of(Tensor.of(toFloats(ramp(6, 0.25, -3)), 2, 3), "F32"));
    m.put("g_f64", Entry.of(Tensor.of(new double[] {2.5}), "F64"));
    Path file = dir.resolve("w.safetensors");
    Safetensors.write(file, m, Map.of("loss", "0.125"));
    byte[] expected = Files.readAllBytes(Fixtures.path("writer_expected.safetensors"));
    byte[] actual = Files.readAllBytes(file);
    assertEquals(new String(expected, StandardCharsets.ISO_8859_1),
        new String(actual, StandardCharsets.ISO_8859_1));
    assertArrayEquals(expected, actual);
    assertEquals(List.of(), Fixtures.strayFiles(dir, "w.safetensors"));
  }

  // ---- hand-built fixtures

  @ParameterizedTest
  @ValueSource(strings = {"mixed.safetensors", "mixed_unpadded.safetensors"})
  void readsHandBuiltFixtures(String fixture) throws IOException {
    SafetensorsFile st = Safetensors.read(Fixtures.path(fixture));
    assertEquals(Set.of("a_f32", "b_f16", "c_bf16", "d_i8", "e_u8", "f_e4m3", "g_f64", "h_i64",
        "i_i32", "j_e5m2"), st.names());
    assertEquals(fixture.equals("mixed.safetensors")
        ? Map.of("format", "pt", "note", "attention4j fixture") : Map.of(), st.metadata());

    Tensor a = st.tensor("a_f32");
    assertEquals(DType.F32, a.dtype());
    assertArrayEquals(new int[] {2, 3}, a.shape());
    assertArrayEquals(ramp(6, 0.25, -3), a.toDoubleArray(), 0.0);
    Tensor b = st.tensor("b_f16");
    assertEquals(DType.F16, b.dtype());
    assertArrayEquals(ramp(4, 0.5, -1), b.toDoubleArray(), 0.0);
    Tensor c = st.tensor("c_bf16");
    assertEquals(DType.BF16, c.dtype());
    assertArrayEquals(new int[] {2, 2}, c.shape());
    assertArrayEquals(ramp(4, 0.5, -1), c.toDoubleArray(), 0.0);
    Tensor g = st.tensor("g_f64");
    assertArrayEquals(new int[0], g.shape());
    assertEquals(2.5, g.getDouble(), 0.0);

    assertArrayEquals(new long[] {-2, -1, 0, 1, 2}, st.entry("d_i8").toLongArray());
    assertArrayEquals(new long[] {0, 128, 255}, st.entry("e_u8").toLongArray());
    assertArrayEquals(new byte[] {0, (byte) 128, (byte) 255}, st.entry("e_u8").data());
    assertArrayEquals(new long[] {-(1L << 40), (1L << 40) + 3}, st.entry("h_i64").toLongArray());
    Entry i32 = st.entry("i_i32");
    assertArrayEquals(new int[] {0, 4}, i32.shape());
    assertEquals(0, i32.data().length);

    Entry e4m3 = st.entry("f_e4m3");
    assertEquals("F8_E4M3", e4m3.dtype());
    assertArrayEquals(new byte[] {0x00, 0x38, (byte) 0xB8, 0x7E, 0x01, 0x7F}, e4m3.data());
    assertArrayEquals(new double[] {0, 1, -1, 448, 0x1p-9, Double.NaN}, e4m3.toDoubleArray(),
        0.0);
    assertArrayEquals(new double[] {1, Double.POSITIVE_INFINITY, -2},
        st.entry("j_e5m2").toDoubleArray(), 0.0);

    TensorFileException e = assertThrows(TensorFileException.class, () -> st.tensor("d_i8"));
    assertTrue(e.getMessage().contains("tensor 'd_i8' has dtype I8"), e.getMessage());
    e = assertThrows(TensorFileException.class, () -> st.entry("wq"));
    assertTrue(e.getMessage().startsWith(Fixtures.path(fixture) + ": no tensor named 'wq'"),
        e.getMessage());
  }

  @Test
  void e4m3DecodingIsMonotonicAndMatchesTheBitLayout() {
    float previous = -1;
    for (int code = 0; code < 0x7F; code++) {
      float v = StDType.e4m3ToFloat((byte) code);
      assertTrue(v > previous || code == 0, "code " + code);
      assertEquals(-v, StDType.e4m3ToFloat((byte) (code | 0x80)), 0.0f, "negative " + code);
      int exp = code >>> 3;
      int man = code & 7;
      double expected = exp == 0 ? man / 8.0 * Math.pow(2, -6)
          : (1 + man / 8.0) * Math.pow(2, exp - 7);
      assertEquals(expected, v, 0.0, "code " + code);
      previous = v;
    }
    assertTrue(Float.isNaN(StDType.e4m3ToFloat((byte) 0x7F)));
    assertTrue(Float.isNaN(StDType.e4m3ToFloat((byte) 0xFF)));
  }

  // ---- Entry validation and writer arguments

  @Test
  void entryValidatesItsArguments() {
    assertTrue(assertThrows(IllegalArgumentException.class,
        () -> new Entry("F32", new int[] {2, 3}, new byte[20])).getMessage()
        .contains("data is 20 bytes, shape [2, 3] of F32 needs 24"));
    assertTrue(assertThrows(IllegalArgumentException.class,
        () -> new Entry("Q8", new int[] {1}, new byte[1])).getMessage()
        .contains("unknown dtype \"Q8\""));
    assertTrue(assertThrows(IllegalArgumentException.class,
        () -> new Entry("U8", new int[] {-1}, new byte[0])).getMessage().contains("negative"));
    assertTrue(assertThrows(IllegalArgumentException.class,
        () -> Entry.of(Tensor.zeros(DType.F32, 2), "I8")).getMessage().contains("I8"));
    int[] shape = {2};
    Entry e = new Entry("U8", shape, new byte[2]);
    shape[0] = 5;
    assertArrayEquals(new int[] {2}, e.shape());
  }

  @Test
  void writerRejectsReservedNames() {
    Path file = dir.resolve("r.safetensors");
    assertThrows(IllegalArgumentException.class, () -> Safetensors.write(file,
        Map.of("__metadata__", new Entry("U8", new int[] {0}, new byte[0])), null));
    assertTrue(Files.notExists(file));
  }

  @Test
  void failedWriteLeavesExistingTargetUntouched() throws IOException {
    Path target = dir.resolve("keep.safetensors");
    Safetensors.write(target, Map.of("a", new Entry("U8", new int[] {2}, new byte[] {1, 2})),
        Map.of("v", "1"));
    byte[] before = Files.readAllBytes(target);
    Map<String, Entry> bad = new HashMap<>();
    bad.put("a", new Entry("U8", new int[] {1}, new byte[] {9}));
    bad.put("__metadata__", new Entry("U8", new int[] {1}, new byte[] {9}));
    assertThrows(IllegalArgumentException.class, () -> Safetensors.write(target, bad, null));
    assertArrayEquals(before, Files.readAllBytes(target));

    Path occupied = dir.resolve("occupied.safetensors");
    Files.createDirectory(occupied);
    Files.writeString(occupied.resolve("inside.txt"), "unchanged");
    assertThrows(IOException.class, () -> Safetensors.write(occupied,
        Map.of("a", new Entry("U8", new int[] {1}, new byte[] {3})), null));
    assertEquals("unchanged", Files.readString(occupied.resolve("inside.txt")));
    assertEquals(List.of(), Fixtures.strayFiles(dir, "keep.safetensors",
        "occupied.safetensors"));
    assertArrayEquals(before, Files.readAllBytes(target));
  }

  @Test
  void emptyFileWithNoTensorsIsValid() throws IOException {
    Path file = dir.resolve("empty.safetensors");
    Safetensors.write(file, Map.of(), null);
    byte[] bytes = Files.readAllBytes(file);
    assertEquals(16, bytes.length); // 8 + "{}" padded to 8
    SafetensorsFile st = Safetensors.read(file);
    assertEquals(Set.of(), st.names());
    assertEquals(Map.of(), st.metadata());
  }
}
