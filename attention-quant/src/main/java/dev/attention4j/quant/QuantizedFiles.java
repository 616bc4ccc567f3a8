package dev.attention4j.quant;

import dev.attention4j.core.io.Safetensors;
import dev.attention4j.core.io.SafetensorsFile;
import dev.attention4j.core.io.TensorFileException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Quantized tensors in safetensors files. A tensor {@code name} is stored as two entries and a
 * few metadata keys:
 *
 * <ul>
 *   <li>{@code name}: the codes; INT8 as {@code I8}, FP8 as {@code F8_E4M3} / {@code F8_E5M2}, in
 *       the logical shape; 4-bit formats as {@code U8} bytes, two codes per byte, first element in
 *       the low nibble (PyTorch's {@code float4_e2m1fn_x2} order), of shape {@code [..., last/2]}
 *       when the last dimension is even, else flat {@code [ceil(n/2)]};
 *   <li>{@code name.scale}: the scales in their C-order grid {@link QuantizedTensor#scaleShape()},
 *       {@code F32} for INT8/INT4/FP8/FP4_E2M1, {@code F8_E4M3} for NVFP4, and {@code U8} holding
 *       the E8M0 bytes for MXFP4 (the reader of attention4j-core does not take {@code F8_E8M0});
 *   <li>{@code __metadata__}: {@code name.format} (such as {@code "nvfp4"}), {@code name.shape}
 *       (the logical shape, comma-separated), {@code name.block} (the block shape), and, when the
 *       block is a run along one axis, {@code name.axis} and {@code name.block_size}.
 * </ul>
 */
public final class QuantizedFiles {

  private QuantizedFiles() {
  }

  /** The entries and metadata of one quantized tensor, added to the given maps. */
  public static void put(String name, QuantizedTensor t, Map<String, SafetensorsFile.Entry> into,
      Map<String, String> metadata) {
    int[] shape = t.shape();
    QuantFormat f = t.format();
    String dtype = switch (f) {
      case INT8 -> "I8";
      case FP8_E4M3 -> "F8_E4M3";
      case FP8_E5M2 -> "F8_E5M2";
      default -> "U8";
    };
    int[] stored = shape;
    if (f.bits() == 4) {
      int last = shape.length == 0 ? 1 : shape[shape.length - 1];
      if (shape.length > 0 && last % 2 == 0) {
        stored = shape.clone();
        stored[stored.length - 1] = last / 2;
      } else {
        stored = new int[] {t.codes().length};
      }
    }
    into.put(name, new SafetensorsFile.Entry(dtype, stored, t.codes()));
    int[] ss = t.scaleShape();
    if (t.scales() != null) {
      float[] s = t.scales();
      ByteBuffer buf = ByteBuffer.allocate(4 * s.length).order(ByteOrder.LITTLE_ENDIAN);
      buf.asFloatBuffer().put(s);
      into.put(name + ".scale", new SafetensorsFile.Entry("F32", ss, buf.array()));
    } else {
      into.put(name + ".scale", new SafetensorsFile.Entry(
          f == QuantFormat.NVFP4 ? "F8_E4M3" : "U8", ss, t.scaleCodes()));
    }
    metadata.put(name + ".format", f.id());
    metadata.put(name + ".shape", join(shape));
    int[] block = t.block();
    metadata.put(name + ".block", join(block));
    int axis = -1;
    for (int a = 0; a < block.length; a++) {
      if (block[a] != 1) {
        axis = axis == -1 ? a : -2;
      }
    }
    if (axis >= 0) {
      metadata.put(name + ".axis", Integer.toString(axis));
      metadata.put(name + ".block_size", Integer.toString(block[axis]));
    }
  }

  /** Writes quantized tensors (atomically) with optional extra metadata. */
  public static void write(Path file, Map<String, QuantizedTensor> tensors,
      Map<String, String> extraMetadata) throws IOException {
    Map<String, SafetensorsFile.Entry> entries = new LinkedHashMap<>();
    Map<String, String> meta = new TreeMap<>();
    if (extraMetadata != null) {
      meta.putAll(extraMetadata);
    }
    for (Map.Entry<String, QuantizedTensor> e : tensors.entrySet()) {
      put(e.getKey(), e.getValue(), entries, meta);
    }
    Safetensors.write(file, entries, meta);
  }

  /**
   * Reads the quantized tensor {@code name} of a file written by {@link #write}.
   *
   * @throws TensorFileException if the entries or metadata are missing or inconsistent
   */
  public static QuantizedTensor read(SafetensorsFile file, String name)
      throws TensorFileException {
    Map<String, String> meta = file.metadata();
    String fmt = meta.get(name + ".format");
    if (fmt == null || !file.contains(name) || !file.contains(name + ".scale")) {
      throw new TensorFileException(file.source() + ": " + "no quantized tensor \"" + name
          + "\" (needs entries " + name + ", " + name + ".scale and metadata " + name
          + ".format)");
    }
    try {
      QuantFormat f = QuantFormat.byId(fmt);
      int[] shape = parse(meta.get(name + ".shape"), name + ".shape");
      int[] block = parse(meta.get(name + ".block"), name + ".block");
      SafetensorsFile.Entry codes = file.entry(name);
      SafetensorsFile.Entry scales = file.entry(name + ".scale");
      String want = switch (f) {
        case INT8 -> "I8";
        case FP8_E4M3 -> "F8_E4M3";
        case FP8_E5M2 -> "F8_E5M2";
        default -> "U8";
      };
      if (!codes.dtype().equals(want)) {
        throw new IllegalArgumentException(name + " has dtype " + codes.dtype() + ", "
            + f.id() + " needs " + want);
      }
      int[] ss = QuantizedTensor.scaleShape(shape, block);
      if (!Arrays.equals(scales.shape(), ss)) {
        throw new IllegalArgumentException(name + ".scale has shape "
            + Arrays.toString(scales.shape()) + ", expected " + Arrays.toString(ss));
      }
      if (f.floatScales()) {
        if (!scales.dtype().equals("F32")) {
          throw new IllegalArgumentException(name + ".scale must be F32, is " + scales.dtype());
        }
        float[] s = new float[(int) scales.size()];
        ByteBuffer.wrap(scales.data()).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(s);
        return QuantizedTensor.of(f, shape, block, codes.data(), s, null);
      }
      String sd = f == QuantFormat.NVFP4 ? "F8_E4M3" : "U8";
      if (!scales.dtype().equals(sd)) {
        throw new IllegalArgumentException(name + ".scale must be " + sd + ", is "
            + scales.dtype());
      }
      return QuantizedTensor.of(f, shape, block, codes.data(), null, scales.data());
    } catch (IllegalArgumentException e) {
      throw new TensorFileException(file.source() + ": " + e.getMessage());
    }
  }

  private static String join(int[] a) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < a.length; i++) {
      sb.append(i == 0 ? "" : ",").append(a[i]);
    }
    return sb.toString();
  }

  private static int[] parse(String s, String key) {
    if (s == null) {
      throw new IllegalArgumentException("metadata " + key + " is missing");
    }
    if (s.isEmpty()) {
      return new int[0];
    }
    String[] parts = s.split(",");
    int[] out = new int[parts.length];
    for (int i = 0; i < parts.length; i++) {
      try {
        out[i] = Integer.parseInt(parts[i].trim());
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("metadata " + key + " = \"" + s
            + "\" is not a list of integers");
      }
    }
    return out;
  }
}
