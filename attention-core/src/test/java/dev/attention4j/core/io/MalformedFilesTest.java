package dev.attention4j.core.io;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Malformed files, each built here byte by byte, must be rejected with a
 * {@link TensorFileException} whose message starts with the file name and contains a specific
 * fragment. The huge-shape cases are tiny files: reading them must fail before allocating.
 */
class MalformedFilesTest {

  @TempDir
  Path dir;

  private static final String F4_2X3 = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";

  /** A .npy file: preamble with a correct header length, header padded as NumPy does, data. */
  static byte[] npy(int major, String header, int dataBytes) {
    byte[] h = header.getBytes(major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
    int lenField = major == 1 ? 2 : 4;
    int hlen = h.length + 1;
    int pad = 64 - ((8 + lenField + hlen) % 64);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', (byte) major, 0});
    out.writeBytes(le(hlen + pad, lenField));
    out.writeBytes(h);
    out.writeBytes(" ".repeat(pad).getBytes(StandardCharsets.US_ASCII));
    out.write('\n');
    out.writeBytes(new byte[dataBytes]);
    return out.toByteArray();
  }

  static byte[] npy(String header, int dataBytes) {
    return npy(1, header, dataBytes);
  }

  static byte[] le(long v, int bytes) {
    ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v);
    return Arrays.copyOf(b.array(), bytes);
  }

  static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return out.toByteArray();
  }

  static String dict(String descr, String shape) {
    return "{'descr': " + descr + ", 'fortran_order': False, 'shape': " + shape + ", }";
  }

  static Stream<Arguments> malformedNpy() {
    byte[] good = npy(F4_2X3, 24);
    byte[] badMagic = good.clone();
    badMagic[5] = 'X';
    byte[] v4 = good.clone();
    v4[6] = 4;
    byte[] pastEof = good.clone();
    pastEof[8] = (byte) 0xE8; // header length 1000 in a 152-byte file
    pastEof[9] = 0x03;
    byte[] v2PastEof = concat(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0},
        le(0xFFFF_FFFFL, 4), "{}".getBytes(StandardCharsets.US_ASCII));
    byte[] badUtf8 = npy(3, F4_2X3, 24);
    badUtf8[13] = (byte) 0xC3; // lone lead byte inside 'descr'
    return Stream.of(
        Arguments.of("empty file", new byte[0], "bad magic (empty file)"),
        Arguments.of("bad magic", badMagic, "not a .npy file: bad magic 93 4e 55 4d 50 58"),
        Arguments.of("truncated preamble", Arrays.copyOf(good, 9),
            "truncated preamble: file is 9 bytes"),
        Arguments.of("truncated v2 preamble", Arrays.copyOf(npy(2, F4_2X3, 24), 11),
            "truncated preamble: file is 11 bytes, version 2.0 needs 12"),
        Arguments.of("unknown version", v4, "unsupported .npy version 4.0"),
        Arguments.of("header length past EOF", pastEof,
            "header length 1000 runs past the end of the file: the header would end at byte "
                + "1010 of 152"),
        Arguments.of("v2 header length past EOF", v2PastEof, "header length 4294967295 runs past"),
        Arguments.of("missing shape",
            npy("{'descr': '<f4', 'fortran_order': False, }", 24), "header has no 'shape' key"),
        Arguments.of("missing descr", npy("{'fortran_order': False, 'shape': (2, 3), }", 24),
            "header has no 'descr' key"),
        Arguments.of("extra key", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,),"
            + " 'foo': 1}", 8), "unexpected key 'foo'"),
        Arguments.of("object dtype", npy(dict("'|O'", "(2,)"), 16), "object arrays"),
        Arguments.of("unknown descr", npy(dict("'<c8'", "(2,)"), 16),
            "unsupported descr '<c8'"),
        Arguments.of("unicode descr", npy(dict("'<U5'", "(2,)"), 40),
            "unsupported descr '<U5'"),
        Arguments.of("multi-byte without byte order", npy(dict("'|f4'", "(2,)"), 8),
            "needs an explicit byte order"),
        Arguments.of("structured dtype", npy(dict("[('a', '<f4'), ('b', '<i4')]", "(2,)"), 16),
            "structured dtypes are not supported"),
        Arguments.of("data too short", npy(F4_2X3, 20),
            "data is 20 bytes, shape (2, 3) of <f4 needs 24"),
        Arguments.of("data too long", npy(F4_2X3, 40),
            "data is 40 bytes, shape (2, 3) of <f4 needs 24"),
        Arguments.of("huge shape in a tiny file", npy(dict("'<f4'", "(1000000000, 1000000000)"), 0),
            "data is 0 bytes, shape (1000000000, 1000000000) of <f4 needs 4000000000000000000"),
        Arguments.of("shape overflowing a long",
            npy(dict("'<f8'", "(2147483647, 2147483647, 2147483647)"), 8),
            "needs more than 9223372036854775807 bytes (overflow)"),
        Arguments.of("negative dimension", npy(dict("'<f4'", "(2, -3)"), 0),
            "dimension 1 of shape (2, -3) is negative"),
        Arguments.of("dimension above int", npy(dict("'<f4'", "(3000000000,)"), 0),
            "dimension 0 of shape (3000000000,) is larger than 2147483647"),
        Arguments.of("shape is a list", npy(dict("'<f4'", "[2, 3]"), 24),
            "shape is not a tuple: [2, 3]"),
        Arguments.of("shape is a parenthesised int", npy(dict("'<f4'", "(6)"), 24),
            "shape is not a tuple: 6"),
        Arguments.of("shape holds a string", npy(dict("'<f4'", "(2, '3')"), 24),
            "dimension 1 of shape (2, '3') is not an int"),
        Arguments.of("fortran_order not a bool",
            npy("{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3), }", 24),
            "fortran_order is not True or False: 0"),
        Arguments.of("header not a dict", npy("[1, 2]", 0), "header is not a dict"),
        Arguments.of("unclosed dict",
            npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), ", 24),
            "header is not a Python dict literal"),
        Arguments.of("expression in header",
            npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } + __import__('os')",
                24), "header is not a Python dict literal: unexpected '+' after the literal"),
        Arguments.of("name other than True/False/None",
            npy("{'descr': '<f4', 'fortran_order': false, 'shape': (2, 3), }", 24),
            "unsupported name 'false'"),
        Arguments.of("float in shape", npy(dict("'<f4'", "(2.0, 3)"), 24),
            "unsupported number literal"),
        Arguments.of("deeply nested tuple",
            npy(dict("'<f4'", "(".repeat(100) + ")".repeat(100)), 0), "nested deeper than 32"),
        Arguments.of("duplicate key",
            npy("{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (), }", 8),
            "duplicate key 'descr'"),
        Arguments.of("v3 header not UTF-8", badUtf8, "version 3.0 header is not valid UTF-8"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("malformedNpy")
  void rejectsMalformedNpy(String label, byte[] bytes, String fragment) throws IOException {
    Path file = dir.resolve("bad.npy");
    Files.write(file, bytes);
    TensorFileException e = assertThrows(TensorFileException.class, () -> Npy.read(file),
        label);
    System.out.println(label + " -> " + e.getMessage());
    assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
    assertTrue(e.getMessage().contains(fragment),
        "expected \"" + fragment + "\" in: " + e.getMessage());
  }

  // ---- safetensors

  /** A safetensors file: N, the JSON text as given (no padding), then {@code dataBytes} zeros. */
  static byte[] st(String json, int dataBytes) {
    byte[] h = json.getBytes(StandardCharsets.UTF_8);
    return concat(le(h.length, 8), h, new byte[dataBytes]);
  }

  static String t(String name, String dtype, String shape, long begin, long end) {
    return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape
        + ",\"data_offsets\":[" + begin + "," + end + "]}";
  }

  static Stream<Arguments> malformedSafetensors() {
    String a = t("a", "F32", "[2]", 0, 8);
    byte[] badUtf8 = st("{\"a?\":1}", 0);
    badUtf8[11] = (byte) 0xFF;
    return Stream.of(
        Arguments.of("shorter than 8 bytes", new byte[] {1, 0, 0, 0}, "file is 4 bytes, too short"),
        Arguments.of("N past the end of the file", concat(le(1000, 8), "{}".getBytes()),
            "header length 1000 runs past the end of the file (10 bytes, so at most 2)"),
        Arguments.of("N above 100,000,000", concat(le(100_000_001, 8), "{}".getBytes()),
            "header length 100000001 exceeds the limit of 100000000 bytes"),
        Arguments.of("N as a huge u64", concat(le(-1, 8), "{}".getBytes()),
            "header length 18446744073709551615 exceeds the limit"),
        Arguments.of("not JSON", st("not json", 0), "header is not valid JSON"),
        Arguments.of("truncated JSON", st("{\"a\":", 0), "header is not valid JSON"),
        Arguments.of("JSON array", st("[1,2]", 0), "header is not a JSON object (it starts with "
            + "an array)"),
        Arguments.of("trailing value", st("{} {}", 0), "header has an object after the JSON "
            + "object"),
        Arguments.of("invalid UTF-8", badUtf8, "header is not valid UTF-8"),
        Arguments.of("duplicate tensor names", st("{" + a + "," + t("a", "F32", "[2]", 8, 16)
            + "}", 16), "header has a duplicate key: Duplicate field 'a'"),
        Arguments.of("duplicate key inside an entry",
            st("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[2],"
                + "\"data_offsets\":[0,8]}}", 8), "duplicate key: Duplicate field 'dtype'"),
        Arguments.of("gap between tensors",
            st("{" + a + "," + t("b", "F32", "[2]", 12, 20) + "}", 20),
            "tensor 'b' data_offsets [12, 20] leave a gap of 4 bytes after tensor 'a' [0, 8]"),
        Arguments.of("overlapping tensors",
            st("{" + a + "," + t("b", "F32", "[2]", 4, 12) + "}", 12),
            "tensor 'b' data_offsets [4, 12] overlap tensor 'a' [0, 8] by 4 bytes"),
        Arguments.of("first tensor not at 0", st("{" + t("a", "F32", "[2]", 4, 12) + "}", 12),
            "the first tensor must begin at 0 (a gap of 4 bytes)"),
        Arguments.of("last end before file end", st("{" + a + "}", 12),
            "tensor data ends at byte 8 of the data buffer, but the buffer is 12 bytes"),
        Arguments.of("last end after file end", st("{" + a + "}", 4),
            "tensor data ends at byte 8 of the data buffer, but the buffer is 4 bytes"),
        Arguments.of("length mismatch", st("{" + t("a", "F32", "[2,3]", 0, 20) + "}", 20),
            "tensor 'a' data_offsets [0, 20] span 20 bytes, but shape [2, 3] of F32 needs 24"),
        Arguments.of("end before begin", st("{" + t("a", "U8", "[0]", 8, 4) + "}", 8),
            "data_offsets [8, 4] with end before begin"),
        Arguments.of("unknown dtype", st("{" + t("a", "F128", "[1]", 0, 16) + "}", 16),
            "tensor 'a' has unknown dtype \"F128\""),
        Arguments.of("unsupported sub-byte dtype", st("{" + t("a", "F4", "[2]", 0, 1) + "}", 1),
            "tensor 'a' has unsupported dtype \"F4\""),
        Arguments.of("metadata value not a string",
            st("{\"__metadata__\":{\"k\":\"v\",\"n\":1}}", 0),
            "__metadata__ value for key 'n' is a number, not a string"),
        Arguments.of("metadata not an object", st("{\"__metadata__\":\"x\"}", 0),
            "__metadata__ is a string, not an object of strings"),
        Arguments.of("tensor entry not an object", st("{\"a\":3}", 0),
            "tensor 'a' is a number, not an object"),
        Arguments.of("missing data_offsets", st("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8),
            "tensor 'a' has no \"data_offsets\""),
        Arguments.of("missing dtype", st("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
            "tensor 'a' has no \"dtype\""),
        Arguments.of("three offsets",
            st("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,1,2]}}", 2),
            "tensor 'a' data_offsets has more than 2 numbers"),
        Arguments.of("float in shape", st("{" + t("a", "F32", "[2.0]", 0, 8) + "}", 8),
            "tensor 'a' shape element 0 is a number, not an integer"),
        Arguments.of("negative dimension", st("{" + t("a", "F32", "[2,-1]", 0, 8) + "}", 8),
            "tensor 'a' shape element 1 is negative: -1"),
        Arguments.of("dimension above int", st("{" + t("a", "U8", "[3000000000]", 0, 8) + "}", 8),
            "tensor 'a' shape element 0 is 3000000000, larger than 2147483647"),
        Arguments.of("offset above long",
            st("{" + t("a", "U8", "[1]", 0, 0).replace("[0,0]", "[0,99999999999999999999]")
                + "}", 1), "data_offsets element 1 is 99999999999999999999, larger than"),
        Arguments.of("huge shape in a tiny file",
            st("{" + t("a", "F32", "[1000000000,1000000000]", 0, 8) + "}", 8),
            "span 8 bytes, but shape [1000000000, 1000000000] of F32 needs 4000000000000000000"),
        Arguments.of("shape overflowing a long",
            st("{" + t("a", "F64", "[2147483647,2147483647,2147483647]", 0, 8) + "}", 8),
            "needs more than 9223372036854775807 bytes (overflow)"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("malformedSafetensors")
  void rejectsMalformedSafetensors(String label, byte[] bytes, String fragment)
      throws IOException {
    Path file = dir.resolve("bad.safetensors");
    Files.write(file, bytes);
    TensorFileException e = assertThrows(TensorFileException.class,
        () -> Safetensors.read(file), label);
    System.out.println(label + " -> " + e.getMessage());
    assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
    assertTrue(e.getMessage().contains(fragment),
        "expected \"" + fragment + "\" in: " + e.getMessage());
  }
}
