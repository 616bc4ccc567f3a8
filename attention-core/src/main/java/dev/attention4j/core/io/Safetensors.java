package dev.attention4j.core.io;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import dev.attention4j.core.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Reads and writes safetensors files.
 *
 * <h2>Format</h2>
 *
 * <pre>
 * offset 0     : u64 little-endian N, the header length in bytes
 * offset 8     : N bytes of UTF-8 JSON object (the header)
 * offset 8 + N : the byte buffer, all tensor data concatenated
 * </pre>
 *
 * The header maps each tensor name to {@code {"dtype": "F32", "shape": [2, 3], "data_offsets":
 * [begin, end]}}, where the offsets are relative to the start of the byte buffer and {@code end}
 * is exclusive. Data is little-endian in C order; shape {@code []} is a scalar. An optional
 * {@code "__metadata__"} entry maps strings to strings.
 *
 * <h2>Reading</h2>
 *
 * The reader checks what the reference implementation ({@code huggingface/safetensors}) checks,
 * and rejects with a {@link TensorFileException} naming the file and the numbers:
 *
 * <ul>
 *   <li>a file shorter than 8 bytes; {@code N > 100,000,000}; {@code N > file size - 8};
 *   <li>a header that is not valid UTF-8, not valid JSON, not a JSON object, or has anything but
 *       whitespace after the object; duplicate keys anywhere (so tensor names are unique);
 *   <li>{@code __metadata__} that is not an object of string values;
 *   <li>a tensor entry that is not an object, or lacks {@code dtype}, {@code shape} or
 *       {@code data_offsets} (other keys are ignored); an unknown or unsupported dtype (see
 *       {@link SafetensorsFile.Entry}); a shape that is not an array of integers in
 *       {@code [0, 2^31 - 1]} (at most 64 of them); offsets that are not two non-negative
 *       integers with {@code begin <= end};
 *   <li>{@code end - begin != numel(shape) * itemsize}, computed with overflow checks;
 *   <li>tensors that, sorted by offset, do not tile the byte buffer exactly: the first must begin
 *       at 0, each must begin where the previous one ended (no gap, no overlap), and the last must
 *       end at the end of the file ({@code 8 + N + last_end == file size}).
 * </ul>
 *
 * All of this is validated before any tensor data is allocated, and the data of each tensor is
 * then exactly the bytes the file holds for it, so a file cannot make the reader allocate more
 * than its own size. Tensors larger than {@link Tensor#MAX_ARRAY_LENGTH} bytes are rejected.
 * Unaligned data (writers that do not pad, such as MLX) is fine: everything is copied.
 *
 * <h2>Writing</h2>
 *
 * {@link #write} follows the reference writer: {@code __metadata__} first (omitted when empty),
 * tensors ordered by descending item size (alignment) and then by name (UTF-8 byte order), packed
 * without gaps, each entry written as {@code {"dtype":..,"shape":..,"data_offsets":..}} in compact
 * JSON, padded with spaces to a multiple of 8 bytes so the data starts 8-byte aligned. Writes are
 * atomic (temporary file in the same directory, then a rename), so a failed write leaves no
 * partial file and an existing target untouched.
 */
public final class Safetensors {

  /** Largest header accepted, as in the reference implementation. */
  public static final long MAX_HEADER_LENGTH = 100_000_000L;
  /** The reserved header key for the string-to-string metadata. */
  public static final String METADATA_KEY = "__metadata__";
  /** Largest rank accepted. */
  static final int MAX_RANK = 64;

  private static final JsonFactory JSON = JsonFactory.builder()
      .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .build();

  private Safetensors() {}

  /** A tensor's header entry before validation. */
  private record Info(String name, String dtype, long[] shape, long begin, long end) {}

  // ---- reading

  /**
   * Reads and validates a safetensors file completely.
   *
   * @throws TensorFileException if the file is missing, unreadable, malformed or unsupported;
   *     the message names the file and the problem
   */
  public static SafetensorsFile read(Path file) throws TensorFileException {
    Objects.requireNonNull(file, "file");
    if (Files.isDirectory(file)) {
      throw TensorFileException.of(file, "is a directory, not a safetensors file");
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

  private static SafetensorsFile read(Path file, FileChannel ch) throws IOException {
    long fileSize = ch.size();
    if (fileSize < 8) {
      throw TensorFileException.of(file, "file is " + fileSize + " bytes, too short for the "
          + "8-byte header length");
    }
    byte[] lenBytes = new byte[8];
    readFully(ch, lenBytes, 0);
    long n = ByteBuffer.wrap(lenBytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
    if (n < 0 || n > MAX_HEADER_LENGTH) {
      throw TensorFileException.of(file, "header length " + Long.toUnsignedString(n)
          + " exceeds the limit of " + MAX_HEADER_LENGTH + " bytes");
    }
    if (n > fileSize - 8) {
      throw TensorFileException.of(file, "header length " + n + " runs past the end of the file ("
          + fileSize + " bytes, so at most " + (fileSize - 8) + ")");
    }
    byte[] headerBytes = new byte[(int) n];
    readFully(ch, headerBytes, 8);
    String header;
    try {
      header = StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(headerBytes)).toString();
    } catch (CharacterCodingException e) {
      throw TensorFileException.of(file, "header is not valid UTF-8", e);
    }

    Map<String, String> metadata = new LinkedHashMap<>();
    List<Info> infos = new ArrayList<>();
    parseHeader(file, header, metadata, infos);

    long bufferSize = fileSize - 8 - n;
    // Per-tensor checks: dtype, shape, span.
    for (Info info : infos) {
      StDType t = StDType.byName(info.dtype());
      if (t == null) {
        throw TensorFileException.of(file, "tensor '" + info.name() + "' has "
            + StDType.problem(info.dtype()));
      }
      if (info.end() < info.begin()) {
        throw TensorFileException.of(file, "tensor '" + info.name() + "' has data_offsets ["
            + info.begin() + ", " + info.end() + "] with end before begin");
      }
      String what = "shape " + Elements.jsonShape(info.shape()) + " of " + info.dtype();
      long needed = Elements.byteCountOrMinus1(Elements.elementCountOrMinus1(info.shape()),
          t.itemSize);
      long span = info.end() - info.begin();
      if (needed < 0) {
        throw TensorFileException.of(file, "tensor '" + info.name() + "' " + what
            + " needs more than " + Long.MAX_VALUE + " bytes (overflow); its data_offsets span "
            + span);
      }
      if (needed != span) {
        throw TensorFileException.of(file, "tensor '" + info.name() + "' data_offsets ["
            + info.begin() + ", " + info.end() + "] span " + span + " bytes, but " + what
            + " needs " + needed);
      }
      if (needed > Tensor.MAX_ARRAY_LENGTH) {
        throw TensorFileException.of(file, "tensor '" + info.name() + "' is " + needed
            + " bytes, more than one array can hold (" + Tensor.MAX_ARRAY_LENGTH + ")");
      }
    }
    // Layout: sorted by offset, the tensors must tile the byte buffer exactly.
    List<Info> sorted = new ArrayList<>(infos);
    sorted.sort(Comparator.comparingLong(Info::begin).thenComparingLong(Info::end));
    long expected = 0;
    Info previous = null;
    for (Info info : sorted) {
      if (info.begin() != expected) {
        String where = "tensor '" + info.name() + "' data_offsets [" + info.begin() + ", "
            + info.end() + "]";
        if (previous == null) {
          throw TensorFileException.of(file, where + ": the first tensor must begin at 0 "
              + "(a gap of " + info.begin() + " bytes)");
        }
        String prev = "tensor '" + previous.name() + "' [" + previous.begin() + ", "
            + previous.end() + "]";
        throw TensorFileException.of(file, info.begin() > expected
            ? where + " leave a gap of " + (info.begin() - expected) + " bytes after " + prev
            : where + " overlap " + prev + " by " + (expected - info.begin()) + " bytes");
      }
      expected = info.end();
      previous = info;
    }
    if (expected != bufferSize) {
      throw TensorFileException.of(file, "tensor data ends at byte " + expected + " of the data "
          + "buffer, but the buffer is " + bufferSize + " bytes (file " + fileSize + " bytes - 8 - "
          + "header " + n + "); the last tensor must end at the end of the file");
    }

    Map<String, SafetensorsFile.Entry> entries = new LinkedHashMap<>();
    for (Info info : infos) {
      byte[] data = new byte[(int) (info.end() - info.begin())];
      readFully(ch, data, 8 + n + info.begin());
      int[] shape = new int[info.shape().length];
      for (int a = 0; a < shape.length; a++) {
        shape[a] = (int) info.shape()[a];
      }
      entries.put(info.name(), new SafetensorsFile.Entry(info.dtype(), shape, data));
    }
    return new SafetensorsFile(file, metadata, entries);
  }

  private static void parseHeader(Path file, String header, Map<String, String> metadata,
      List<Info> infos) throws TensorFileException {
    try (JsonParser p = JSON.createParser(header)) {
      JsonToken first = p.nextToken();
      if (first != JsonToken.START_OBJECT) {
        throw TensorFileException.of(file, "header is not a JSON object (it starts with "
            + (first == null ? "nothing" : describe(first)) + ")");
      }
      for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
        String name = fieldName(file, p, t);
        JsonToken value = p.nextToken();
        if (name.equals(METADATA_KEY)) {
          parseMetadata(file, p, value, metadata);
        } else {
          infos.add(parseInfo(file, p, name, value));
        }
      }
      JsonToken after = p.nextToken();
      if (after != null) {
        throw TensorFileException.of(file, "header has " + describe(after)
            + " after the JSON object");
      }
    } catch (TensorFileException e) {
      throw e;
    } catch (JsonProcessingException e) {
      String msg = e.getOriginalMessage();
      if (msg != null && msg.startsWith("Duplicate field")) {
        throw TensorFileException.of(file, "header has a duplicate key: " + msg, e);
      }
      throw TensorFileException.of(file, "header is not valid JSON: " + msg
          + (e.getLocation() == null ? "" : " at character " + e.getLocation().getCharOffset()),
          e);
    } catch (IOException e) {
      throw TensorFileException.of(file, "header is not valid JSON: " + e.getMessage(), e);
    }
  }

  private static void parseMetadata(Path file, JsonParser p, JsonToken value,
      Map<String, String> metadata) throws IOException {
    if (value == JsonToken.VALUE_NULL) {
      return;
    }
    if (value != JsonToken.START_OBJECT) {
      throw TensorFileException.of(file, METADATA_KEY + " is " + describe(value)
          + ", not an object of strings");
    }
    for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
      String key = fieldName(file, p, t);
      JsonToken v = p.nextToken();
      if (v != JsonToken.VALUE_STRING) {
        throw TensorFileException.of(file, METADATA_KEY + " value for key '" + key + "' is "
            + describe(v) + ", not a string");
      }
      metadata.put(key, p.getText());
    }
  }

  private static Info parseInfo(Path file, JsonParser p, String name, JsonToken value)
      throws IOException {
    String where = "tensor '" + name + "'";
    if (value != JsonToken.START_OBJECT) {
      throw TensorFileException.of(file, where + " is " + describe(value) + ", not an object");
    }
    String dtype = null;
    long[] shape = null;
    long[] offsets = null;
    for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
      String key = fieldName(file, p, t);
      JsonToken v = p.nextToken();
      switch (key) {
        case "dtype" -> {
          if (v != JsonToken.VALUE_STRING) {
            throw TensorFileException.of(file, where + " dtype is " + describe(v)
                + ", not a string");
          }
          dtype = p.getText();
        }
        case "shape" -> shape = longArray(file, p, v, where + " shape", MAX_RANK,
            Integer.MAX_VALUE);
        case "data_offsets" -> {
          offsets = longArray(file, p, v, where + " data_offsets", 2, Long.MAX_VALUE);
          if (offsets.length != 2) {
            throw TensorFileException.of(file, where + " data_offsets has " + offsets.length
                + " numbers, not 2 ([begin, end])");
          }
        }
        default -> p.skipChildren(); // unknown keys are ignored, as by the reference reader
      }
    }
    String missing = dtype == null ? "dtype" : shape == null ? "shape"
        : offsets == null ? "data_offsets" : null;
    if (missing != null) {
      throw TensorFileException.of(file, where + " has no \"" + missing + "\"");
    }
    return new Info(name, dtype, shape, offsets[0], offsets[1]);
  }

  /** A JSON array of at most {@code maxLength} integers in {@code [0, max]}. */
  private static long[] longArray(Path file, JsonParser p, JsonToken value, String what,
      int maxLength, long max) throws IOException {
    if (value != JsonToken.START_ARRAY) {
      throw TensorFileException.of(file, what + " is " + describe(value) + ", not an array");
    }
    List<Long> out = new ArrayList<>();
    for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
      if (t == null) {
        throw TensorFileException.of(file, "header is not valid JSON: " + what + " is not closed");
      }
      if (out.size() == maxLength) {
        throw TensorFileException.of(file, what + " has more than " + maxLength + " numbers");
      }
      if (t != JsonToken.VALUE_NUMBER_INT) {
        throw TensorFileException.of(file, what + " element " + out.size() + " is "
            + describe(t) + ", not an integer");
      }
      BigInteger v = p.getBigIntegerValue();
      if (v.signum() < 0) {
        throw TensorFileException.of(file, what + " element " + out.size() + " is negative: "
            + v);
      }
      if (v.compareTo(BigInteger.valueOf(max)) > 0) {
        throw TensorFileException.of(file, what + " element " + out.size() + " is " + v
            + ", larger than " + max);
      }
      out.add(v.longValue());
    }
    return out.stream().mapToLong(Long::longValue).toArray();
  }

  /** The current field name; {@code t} must be a field name (Jackson guarantees it in objects). */
  private static String fieldName(Path file, JsonParser p, JsonToken t) throws IOException {
    if (t != JsonToken.FIELD_NAME) {
      throw TensorFileException.of(file, "header is not valid JSON: expected a key, found "
          + (t == null ? "the end of the header" : describe(t)));
    }
    return p.currentName();
  }

  private static String describe(JsonToken t) {
    return switch (t) {
      case START_OBJECT -> "an object";
      case START_ARRAY -> "an array";
      case VALUE_STRING -> "a string";
      case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> "a number";
      case VALUE_TRUE, VALUE_FALSE -> "a boolean";
      case VALUE_NULL -> "null";
      default -> t.asString() == null ? t.name() : "'" + t.asString() + "'";
    };
  }

  private static void readFully(FileChannel ch, byte[] dst, long position) throws IOException {
    ByteBuffer buf = ByteBuffer.wrap(dst);
    while (buf.hasRemaining()) {
      int r = ch.read(buf, position + buf.position());
      if (r < 0) {
        throw new EOFException("end of file at byte " + (position + buf.position()));
      }
    }
  }

  // ---- writing

  /**
   * Atomically writes tensors and metadata as a safetensors file (see the class documentation
   * for the layout). The iteration order of {@code tensors} does not matter.
   *
   * @param tensors name to entry; a name may not be {@code "__metadata__"}
   * @param metadata string to string, or {@code null} or empty for none
   * @throws IllegalArgumentException for a reserved or null name, or null keys or values
   * @throws IOException if the file cannot be written; the target is then left as it was
   */
  public static void write(Path file, Map<String, SafetensorsFile.Entry> tensors,
      Map<String, String> metadata) throws IOException {
    Objects.requireNonNull(file, "file");
    Objects.requireNonNull(tensors, "tensors");
    List<Map.Entry<String, SafetensorsFile.Entry>> ordered = new ArrayList<>();
    for (Map.Entry<String, SafetensorsFile.Entry> e : tensors.entrySet()) {
      if (e.getKey() == null || e.getValue() == null) {
        throw new IllegalArgumentException("null tensor name or entry");
      }
      if (e.getKey().equals(METADATA_KEY)) {
        throw new IllegalArgumentException("a tensor cannot be called " + METADATA_KEY);
      }
      ordered.add(Map.entry(e.getKey(), e.getValue()));
    }
    ordered.sort(Comparator
        .comparingInt((Map.Entry<String, SafetensorsFile.Entry> e) -> -e.getValue().itemSize())
        .thenComparing((a, b) -> Arrays.compareUnsigned(a.getKey().getBytes(StandardCharsets.UTF_8),
            b.getKey().getBytes(StandardCharsets.UTF_8))));

    ByteArrayOutputStream json = new ByteArrayOutputStream();
    try (JsonGenerator g = JSON.createGenerator(json)) {
      g.writeStartObject();
      if (metadata != null && !metadata.isEmpty()) {
        g.writeObjectFieldStart(METADATA_KEY);
        for (Map.Entry<String, String> m : metadata.entrySet()) {
          if (m.getKey() == null || m.getValue() == null) {
            throw new IllegalArgumentException("null metadata key or value");
          }
          g.writeStringField(m.getKey(), m.getValue());
        }
        g.writeEndObject();
      }
      long offset = 0;
      for (Map.Entry<String, SafetensorsFile.Entry> e : ordered) {
        SafetensorsFile.Entry entry = e.getValue();
        g.writeObjectFieldStart(e.getKey());
        g.writeStringField("dtype", entry.dtype());
        g.writeArrayFieldStart("shape");
        for (int d : entry.shape()) {
          g.writeNumber(d);
        }
        g.writeEndArray();
        g.writeArrayFieldStart("data_offsets");
        g.writeNumber(offset);
        offset += entry.data().length;
        g.writeNumber(offset);
        g.writeEndArray();
        g.writeEndObject();
      }
      g.writeEndObject();
    }
    int pad = (8 - json.size() % 8) % 8;
    for (int i = 0; i < pad; i++) {
      json.write(' ');
    }
    if (json.size() > MAX_HEADER_LENGTH) {
      throw TensorFileException.of(file, "header would be " + json.size() + " bytes, more than "
          + "the limit of " + MAX_HEADER_LENGTH);
    }
    byte[] header = json.toByteArray();
    AtomicFiles.write(file, out -> {
      byte[] len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN)
          .putLong(header.length).array();
      out.write(len);
      out.write(header);
      for (Map.Entry<String, SafetensorsFile.Entry> e : ordered) {
        out.write(e.getValue().data());
      }
    });
  }
}
