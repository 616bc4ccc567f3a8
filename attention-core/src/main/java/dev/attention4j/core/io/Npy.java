package dev.attention4j.core.io;

import dev.attention4j.core.Tensor;
import java.io.EOFException;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Reads and writes NumPy {@code .npy} files.
 *
 * <h2>Format</h2>
 *
 * <pre>
 * offset 0 : 6 bytes  magic  0x93 'N' 'U' 'M' 'P' 'Y'
 * offset 6 : 1 byte   major version (1, 2 or 3); offset 7: minor version (0)
 * offset 8 : HEADER_LEN, little-endian: uint16 for 1.0, uint32 for 2.0 and 3.0
 * then     : HEADER_LEN bytes of text (Latin-1 for 1.0/2.0, UTF-8 for 3.0)
 * then     : the raw data, prod(shape) * itemsize bytes, nothing after it
 * </pre>
 *
 * The header is a Python dict literal with exactly the keys {@code 'descr'},
 * {@code 'fortran_order'} and {@code 'shape'}, in any order, followed by any amount of
 * whitespace, for example {@code {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }}.
 * It is parsed by a tiny literal parser (quoted strings, {@code True}/{@code False}, ints,
 * tuples), never evaluated.
 *
 * <h2>Reading</h2>
 *
 * Supported descriptors: {@code <f2 <f4 <f8 <i2 <i4 <i8 <u2 <u4} and their big-endian
 * {@code >} forms (byte-swapped on load), and the one-byte {@code |i1 |u1 |b1} (with any byte-order
 * character), plus {@code |V2} (bfloat16 saved by {@code ml_dtypes}, usable only as bfloat16).
 * {@code fortran_order: True} data is transposed to C order on load. The reader rejects, with a
 * {@link TensorFileException} whose message names the file and the numbers: a bad magic string, an
 * unknown version, a truncated preamble, a header that runs past the end of the file, a header
 * that is not such a dict, missing or extra keys, object ({@code |O}) and structured
 * (list-of-fields) descriptors, unknown descriptors, a shape that is not a tuple of non-negative
 * ints each at most {@link Integer#MAX_VALUE} (64 dimensions at most), and data whose length is
 * not exactly {@code prod(shape) * itemsize} (too short or too long). The byte count is computed
 * with overflow checks and compared with the file size <em>before</em> anything is allocated, so a
 * file can never make the reader allocate more than its own size; data larger than
 * {@link Tensor#MAX_ARRAY_LENGTH} bytes is rejected.
 *
 * <h2>Writing</h2>
 *
 * {@link #write} produces exactly the bytes NumPy 2.x {@code numpy.save} does for a C-order array:
 * version 1.0 (2.0 if the header would not fit in 65535 bytes), keys in sorted order, NumPy's
 * spare space for growing the first axis ({@code 21 - len(str(shape[0]))} spaces), then spaces and
 * a final {@code \n} so that the preamble is a multiple of 64 bytes. Writes are atomic: the file is
 * written next to the target under a temporary name and renamed over it, so a failed write leaves
 * no partial file and an existing target untouched.
 *
 * <p>bfloat16 has no NumPy descriptor; it is written as {@code <u2} raw bits and read back with
 * {@link NpyArray#toTensor(boolean) toTensor(true)}.
 */
public final class Npy {

  /** The magic string at the start of every {@code .npy} file. */
  private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
  /** Preamble alignment used by NumPy ({@code ARRAY_ALIGN}). */
  private static final int ARRAY_ALIGN = 64;
  /** NumPy's spare header room for growing the first axis ({@code GROWTH_AXIS_MAX_DIGITS}). */
  private static final int GROWTH_AXIS_MAX_DIGITS = 21;
  /** NumPy's own limit on the number of dimensions. */
  static final int MAX_RANK = 64;

  private Npy() {}

  // ---- reading

  /**
   * Reads a {@code .npy} file completely.
   *
   * @throws TensorFileException if the file is missing, unreadable, malformed or unsupported;
   *     the message names the file and the problem
   */
  public static NpyArray read(Path file) throws TensorFileException {
    Objects.requireNonNull(file, "file");
    if (Files.isDirectory(file)) {
      throw TensorFileException.of(file, "is a directory, not a .npy file");
    }
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      return read(file, ch);
    } catch (TensorFileException e) {
      throw e;
    } catch (NoSuchFileException e) {
      throw TensorFileException.of(file, "no such file", e);
    } catch (AccessDeniedException e) {
      throw TensorFileException.of(file, "permission denied", e);
    } catch (EOFException e) {
      throw TensorFileException.of(file, "file shrank while it was being read", e);
    } catch (IOException e) {
      throw TensorFileException.of(file, "cannot read: " + e.getMessage(), e);
    }
  }

  private static NpyArray read(Path file, FileChannel ch) throws IOException {
    long fileSize = ch.size();
    byte[] pre = new byte[(int) Math.min(fileSize, 12)];
    readFully(ch, pre, 0);
    for (int i = 0; i < MAGIC.length; i++) {
      if (i >= pre.length || pre[i] != MAGIC[i]) {
        throw TensorFileException.of(file, "not a .npy file: bad magic " + hex(pre, 6)
            + " (expected 93 4e 55 4d 50 59, \"\\x93NUMPY\")");
      }
    }
    if (pre.length < 8) {
      throw TensorFileException.of(file, "truncated preamble: file is " + fileSize
          + " bytes, the version needs bytes 6-7");
    }
    int major = pre[6] & 0xFF;
    int minor = pre[7] & 0xFF;
    if (major < 1 || major > 3 || minor != 0) {
      throw TensorFileException.of(file, "unsupported .npy version " + major + "." + minor
          + " (supported: 1.0, 2.0, 3.0)");
    }
    int lenField = major == 1 ? 2 : 4;
    int preamble = 8 + lenField;
    if (fileSize < preamble) {
      throw TensorFileException.of(file, "truncated preamble: file is " + fileSize
          + " bytes, version " + major + ".0 needs " + preamble + " before the header");
    }
    ByteBuffer lenBuf = ByteBuffer.wrap(pre, 8, lenField).order(ByteOrder.LITTLE_ENDIAN);
    long headerLen = major == 1 ? lenBuf.getShort() & 0xFFFFL : lenBuf.getInt() & 0xFFFF_FFFFL;
    long dataStart = preamble + headerLen;
    if (dataStart > fileSize) {
      throw TensorFileException.of(file, "header length " + headerLen + " runs past the end of "
          + "the file: the header would end at byte " + dataStart + " of " + fileSize);
    }
    if (headerLen > Tensor.MAX_ARRAY_LENGTH) {
      throw TensorFileException.of(file, "header length " + headerLen + " is more than one array "
          + "can hold (" + Tensor.MAX_ARRAY_LENGTH + ")");
    }
    byte[] headerBytes = new byte[(int) headerLen]; // <= file size, checked above
    readFully(ch, headerBytes, preamble);
    String header = decodeHeader(file, headerBytes, major);
    Header h = parseHeader(file, header);

    long[] dims = h.shape();
    long elements = Elements.elementCountOrMinus1(dims);
    long needed = Elements.byteCountOrMinus1(elements, h.type().itemSize);
    long available = fileSize - dataStart;
    String what = "shape " + Elements.pyShape(dims) + " of " + h.descr();
    if (needed < 0) {
      throw TensorFileException.of(file, what + " needs more than " + Long.MAX_VALUE
          + " bytes (overflow); the data is " + available + " bytes");
    }
    if (needed != available) {
      throw TensorFileException.of(file, "data is " + available + " bytes, " + what + " needs "
          + needed);
    }
    if (needed > Tensor.MAX_ARRAY_LENGTH) {
      throw TensorFileException.of(file, "data is " + needed + " bytes, more than one array can "
          + "hold (" + Tensor.MAX_ARRAY_LENGTH + ")");
    }
    int[] shape = new int[dims.length];
    for (int a = 0; a < dims.length; a++) {
      shape[a] = (int) dims[a];
    }
    byte[] data = new byte[(int) needed];
    readFully(ch, data, dataStart);
    if (h.bigEndian()) {
      swapBytes(data, h.type().itemSize);
    }
    if (h.fortranOrder()) {
      data = fortranToC(data, shape, h.type().itemSize);
    }
    return new NpyArray(file, h.type(), shape, data);
  }

  private record Header(NpyType type, String descr, boolean bigEndian, boolean fortranOrder,
      long[] shape) {}

  private static String decodeHeader(Path file, byte[] bytes, int major) throws TensorFileException {
    if (major < 3) {
      return new String(bytes, StandardCharsets.ISO_8859_1);
    }
    try {
      return StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes)).toString();
    } catch (CharacterCodingException e) {
      throw TensorFileException.of(file, "version 3.0 header is not valid UTF-8", e);
    }
  }

  private static Header parseHeader(Path file, String header) throws TensorFileException {
    Object literal;
    try {
      literal = PyLiteral.parse(header);
    } catch (PyLiteral.SyntaxError e) {
      throw TensorFileException.of(file, "header is not a Python dict literal: " + e.getMessage()
          + " in " + abbreviate(header.strip()));
    }
    if (!(literal instanceof Map<?, ?> dict)) {
      throw TensorFileException.of(file, "header is not a dict: " + abbreviate(header.strip()));
    }
    for (String key : List.of("descr", "fortran_order", "shape")) {
      if (!dict.containsKey(key)) {
        throw TensorFileException.of(file, "header has no '" + key + "' key: "
            + abbreviate(header.strip()));
      }
    }
    for (Object key : dict.keySet()) {
      if (!List.of("descr", "fortran_order", "shape").contains(key)) {
        throw TensorFileException.of(file, "header has an unexpected key "
            + PyLiteral.repr(key) + " (expected exactly 'descr', 'fortran_order', 'shape')");
      }
    }
    Object descrValue = dict.get("descr");
    if (descrValue instanceof List<?>) {
      throw TensorFileException.of(file, "structured dtypes are not supported (descr "
          + abbreviate(PyLiteral.repr(descrValue)) + ")");
    }
    if (!(descrValue instanceof String descr)) {
      throw TensorFileException.of(file, "descr is not a string: "
          + abbreviate(PyLiteral.repr(descrValue)));
    }
    String[] problem = new String[1];
    NpyType.Parsed parsed = NpyType.parse(descr, problem);
    if (parsed == null) {
      throw TensorFileException.of(file, problem[0]);
    }
    if (!(dict.get("fortran_order") instanceof Boolean fortran)) {
      throw TensorFileException.of(file, "fortran_order is not True or False: "
          + abbreviate(PyLiteral.repr(dict.get("fortran_order"))));
    }
    Object shapeValue = dict.get("shape");
    String shapeText = abbreviate(PyLiteral.repr(shapeValue));
    if (!(shapeValue instanceof PyLiteral.Tuple tuple)) {
      throw TensorFileException.of(file, "shape is not a tuple: " + shapeText);
    }
    if (tuple.items().size() > MAX_RANK) {
      throw TensorFileException.of(file, "shape has " + tuple.items().size()
          + " dimensions, more than " + MAX_RANK);
    }
    List<Long> dims = new ArrayList<>();
    for (int a = 0; a < tuple.items().size(); a++) {
      if (!(tuple.items().get(a) instanceof BigInteger d)) {
        throw TensorFileException.of(file, "dimension " + a + " of shape " + shapeText
            + " is not an int");
      }
      if (d.signum() < 0) {
        throw TensorFileException.of(file, "dimension " + a + " of shape " + shapeText
            + " is negative");
      }
      if (d.compareTo(BigInteger.valueOf(Integer.MAX_VALUE)) > 0) {
        throw TensorFileException.of(file, "dimension " + a + " of shape " + shapeText
            + " is larger than " + Integer.MAX_VALUE);
      }
      dims.add(d.longValue());
    }
    long[] shape = dims.stream().mapToLong(Long::longValue).toArray();
    return new Header(parsed.type(), descr, parsed.bigEndian(), fortran, shape);
  }

  /** Reverses the bytes of every item in place. */
  private static void swapBytes(byte[] data, int itemSize) {
    if (itemSize == 1) {
      return;
    }
    for (int at = 0; at < data.length; at += itemSize) {
      for (int i = 0, j = itemSize - 1; i < j; i++, j--) {
        byte t = data[at + i];
        data[at + i] = data[at + j];
        data[at + j] = t;
      }
    }
  }

  /** Reorders column-major (Fortran) data of {@code shape} to row-major (C) order. */
  private static byte[] fortranToC(byte[] data, int[] shape, int itemSize) {
    int rank = shape.length;
    if (rank <= 1 || data.length == 0) {
      return data;
    }
    long[] fStride = new long[rank];
    long s = 1;
    for (int a = 0; a < rank; a++) {
      fStride[a] = s;
      s *= shape[a];
    }
    byte[] out = new byte[data.length];
    int[] index = new int[rank];
    long from = 0;
    int elements = data.length / itemSize;
    for (int e = 0; e < elements; e++) {
      System.arraycopy(data, (int) (from * itemSize), out, e * itemSize, itemSize);
      for (int a = rank - 1; a >= 0; a--) {
        if (++index[a] < shape[a]) {
          from += fStride[a];
          break;
        }
        from -= (long) (shape[a] - 1) * fStride[a];
        index[a] = 0;
      }
    }
    return out;
  }

  private static void readFully(FileChannel ch, byte[] dst, long position) throws IOException {
    ByteBuffer buf = ByteBuffer.wrap(dst);
    while (buf.hasRemaining()) {
      int n = ch.read(buf, position + buf.position());
      if (n < 0) {
        throw new EOFException("end of file at byte " + (position + buf.position()));
      }
    }
  }

  private static String hex(byte[] b, int max) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < Math.min(b.length, max); i++) {
      sb.append(i == 0 ? "" : " ").append(String.format("%02x", b[i] & 0xFF));
    }
    return b.length == 0 ? "(empty file)" : sb.toString();
  }

  private static String abbreviate(String s) {
    return s.length() <= 200 ? s : s.substring(0, 200) + "...";
  }

  // ---- writing

  /**
   * Atomically writes {@code t}'s values (any strides; written in C order) as a version 1.0
   * {@code .npy} file, byte for byte what NumPy 2.x {@code numpy.save} writes.
   *
   * @param descr {@code "<f4"}, {@code "<f8"}, {@code "<f2"} or {@code "<u2"} (bfloat16 bits).
   *     F16 to {@code <f2} and BF16 to {@code <u2} copy the bits; other conversions round to
   *     nearest-even through float, except {@code <f8}, which is exact
   * @throws IllegalArgumentException for another descr
   * @throws IOException if the file cannot be written; the target is then left as it was
   */
  public static void write(Path file, Tensor t, String descr) throws IOException {
    Objects.requireNonNull(file, "file");
    Objects.requireNonNull(t, "tensor");
    Elements.Encoding enc = switch (Objects.requireNonNull(descr, "descr")) {
      case "<f4" -> Elements.Encoding.F32;
      case "<f8" -> Elements.Encoding.F64;
      case "<f2" -> Elements.Encoding.F16;
      case "<u2" -> Elements.Encoding.BF16;
      default -> throw new IllegalArgumentException("cannot write a tensor as descr '" + descr
          + "' (supported: <f4, <f8, <f2, <u2 for bfloat16 bits)");
    };
    byte[] header = header(descr, t.shape());
    AtomicFiles.write(file, out -> {
      out.write(header);
      Elements.writeValues(t, enc, out);
    });
  }

  /**
   * Atomically writes integers as a version 1.0 {@code .npy} file, byte for byte what NumPy 2.x
   * writes.
   *
   * @param values the elements in C order; {@code values.length} must equal the product of
   *     {@code shape}
   * @param descr {@code "<i4"} (every value must fit in an int) or {@code "<i8"}
   * @throws IllegalArgumentException for another descr, a length mismatch or an int overflow
   */
  public static void writeLongs(Path file, long[] values, int[] shape, String descr)
      throws IOException {
    Objects.requireNonNull(file, "file");
    Objects.requireNonNull(values, "values");
    int itemSize = switch (Objects.requireNonNull(descr, "descr")) {
      case "<i4" -> 4;
      case "<i8" -> 8;
      default -> throw new IllegalArgumentException("cannot write integers as descr '" + descr
          + "' (supported: <i4, <i8)");
    };
    long n = Tensor.elementCount(shape);
    if (n != values.length) {
      throw new IllegalArgumentException(values.length + " values do not fill shape "
          + Elements.pyShape(shape) + " (" + n + " elements)");
    }
    if (itemSize == 4) {
      for (int i = 0; i < values.length; i++) {
        if (values[i] != (int) values[i]) {
          throw new IllegalArgumentException("value " + values[i] + " at index " + i
              + " does not fit in <i4");
        }
      }
    }
    byte[] header = header(descr, shape);
    AtomicFiles.write(file, out -> {
      out.write(header);
      ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
      for (long v : values) {
        if (buf.remaining() < 8) {
          out.write(buf.array(), 0, buf.position());
          buf.clear();
        }
        if (itemSize == 4) {
          buf.putInt((int) v);
        } else {
          buf.putLong(v);
        }
      }
      out.write(buf.array(), 0, buf.position());
    });
  }

  /**
   * The preamble and header NumPy 2.x writes for a C-order array ({@code _write_array_header}
   * and {@code _wrap_header} in {@code numpy/lib/_format_impl.py}).
   */
  static byte[] header(String descr, int[] shape) {
    StringBuilder dict = new StringBuilder();
    dict.append("{'descr': '").append(descr).append("', 'fortran_order': False, 'shape': ")
        .append(Elements.pyShape(shape)).append(", }");
    if (shape.length > 0) {
      dict.append(" ".repeat(Math.max(0,
          GROWTH_AXIS_MAX_DIGITS - Integer.toString(shape[0]).length())));
    }
    byte[] text = dict.toString().getBytes(StandardCharsets.ISO_8859_1);
    int hlen = text.length + 1; // + '\n'
    int major = 1;
    int lenField = 2;
    int padlen = ARRAY_ALIGN - ((MAGIC.length + 2 + lenField + hlen) % ARRAY_ALIGN);
    if (hlen + padlen > 0xFFFF) {
      major = 2;
      lenField = 4;
      padlen = ARRAY_ALIGN - ((MAGIC.length + 2 + lenField + hlen) % ARRAY_ALIGN);
    }
    int total = MAGIC.length + 2 + lenField + hlen + padlen;
    ByteBuffer out = ByteBuffer.allocate(total).order(ByteOrder.LITTLE_ENDIAN);
    out.put(MAGIC).put((byte) major).put((byte) 0);
    if (major == 1) {
      out.putShort((short) (hlen + padlen));
    } else {
      out.putInt(hlen + padlen);
    }
    out.put(text);
    for (int i = 0; i < padlen; i++) {
      out.put((byte) ' ');
    }
    out.put((byte) '\n');
    return out.array();
  }
}
