package dev.attention4j.quant;

import dev.attention4j.core.Tensor;
import dev.attention4j.simd.SimdAttention;
import java.util.Arrays;
import java.util.Objects;

/**
 * A quantized tensor with an explicit scale layout: element codes of one {@link QuantFormat} in
 * C order, and one scale per <em>block</em>, where a block is a box of {@link #block()} elements
 * (one size per axis; the last block along an axis may be short). The scales form a C-order
 * tensor of shape {@link #scaleShape()} = {@code ceil(shape / block)}. The usual granularities
 * are block shapes ({@code [B, H, S, D]} examples):
 *
 * <ul>
 *   <li>per tensor: {@code [B, H, S, D]} ({@link #perTensor});
 *   <li>per token: {@code [1, 1, 1, D]} ({@link #perToken});
 *   <li>per block of {@code n} tokens: {@code [1, 1, n, D]} ({@link #perTokenBlock});
 *   <li>per channel (over all tokens): {@code [1, 1, S, 1]} ({@link #perChannel});
 *   <li>NVFP4 along the head dim: {@code [1, 1, 1, 16]}; along tokens: {@code [1, 1, 16, 1]}
 *       ({@link #along}).
 * </ul>
 *
 * <p>Storage: 8-bit codes one per byte ({@link #codes()}); 4-bit codes two per byte, element
 * {@code 2t} in the low nibble and {@code 2t + 1} in the high nibble of byte {@code t} (a trailing
 * odd element leaves the high nibble 0). Scales are float32 ({@link #scales()}) for INT8, INT4,
 * FP8 and FP4_E2M1, FP8 E4M3 bytes for NVFP4 and E8M0 bytes for MXFP4 ({@link #scaleCodes()}).
 * Immutable (accessors copy).
 */
public final class QuantizedTensor {

  private final QuantFormat format;
  private final int[] shape;
  private final int[] block;
  private final int[] scaleShape;
  private final byte[] codes;
  private final float[] scales;
  private final byte[] scaleCodes;

  private QuantizedTensor(QuantFormat format, int[] shape, int[] block, byte[] codes,
      float[] scales, byte[] scaleCodes) {
    this.format = format;
    this.shape = shape;
    this.block = block;
    this.scaleShape = scaleShape(shape, block);
    this.codes = codes;
    this.scales = scales;
    this.scaleCodes = scaleCodes;
  }

  /**
   * Assembles a tensor from stored parts (as read from a file), validating every length.
   *
   * @param codes packed codes (see the class documentation)
   * @param scales float32 scales, or null for NVFP4 and MXFP4
   * @param scaleCodes scale bytes for NVFP4 and MXFP4, else null
   * @throws IllegalArgumentException if a length or the block shape does not fit
   */
  public static QuantizedTensor of(QuantFormat format, int[] shape, int[] block, byte[] codes,
      float[] scales, byte[] scaleCodes) {
    Objects.requireNonNull(format, "format");
    int[] s = shape.clone();
    int[] bl = checkBlock(s, block);
    long n = Tensor.elementCount(s);
    long bytes = format.bits() == 8 ? n : (n + 1) / 2;
    if (codes.length != bytes) {
      throw new IllegalArgumentException("codes are " + codes.length + " bytes, shape "
          + Arrays.toString(s) + " of " + format.id() + " needs " + bytes);
    }
    long ns = Tensor.elementCount(scaleShape(s, bl));
    if (format.floatScales()) {
      if (scales == null || scales.length != ns || scaleCodes != null) {
        throw new IllegalArgumentException(format.id() + " needs " + ns + " float32 scales, got "
            + (scales == null ? "none" : scales.length));
      }
    } else if (scaleCodes == null || scaleCodes.length != ns || scales != null) {
      throw new IllegalArgumentException(format.id() + " needs " + ns + " scale bytes, got "
          + (scaleCodes == null ? "none" : scaleCodes.length));
    }
    return new QuantizedTensor(format, s, bl, codes.clone(),
        scales == null ? null : scales.clone(), scaleCodes == null ? null : scaleCodes.clone());
  }

  // ---- block shapes

  /** One block covering the whole tensor. */
  public static int[] perTensor(int... shape) {
    return shape.clone();
  }

  /** One scale per row of the last axis. */
  public static int[] perToken(int... shape) {
    return along(shape, shape.length - 1, shape[shape.length - 1]);
  }

  /** Blocks of {@code tokens} rows of the second-to-last axis, each covering the last axis. */
  public static int[] perTokenBlock(int tokens, int... shape) {
    int[] b = along(shape, shape.length - 2, tokens);
    b[shape.length - 1] = shape[shape.length - 1];
    return b;
  }

  /** One scale per index of the last axis, over the whole second-to-last (token) axis. */
  public static int[] perChannel(int... shape) {
    return along(shape, shape.length - 2, shape[shape.length - 2]);
  }

  /** Runs of {@code size} elements along {@code axis} (1 along every other axis). */
  public static int[] along(int[] shape, int axis, int size) {
    if (axis < 0 || axis >= shape.length) {
      throw new IllegalArgumentException("axis " + axis + " out of range for rank "
          + shape.length);
    }
    int[] b = new int[shape.length];
    Arrays.fill(b, 1);
    b[axis] = size;
    return b;
  }

  private static int[] checkBlock(int[] shape, int[] block) {
    if (block == null || block.length != shape.length) {
      throw new IllegalArgumentException("block shape " + Arrays.toString(block)
          + " must have rank " + shape.length);
    }
    int[] b = block.clone();
    for (int a = 0; a < b.length; a++) {
      if (b[a] < 1) {
        throw new IllegalArgumentException("block size " + b[a] + " on axis " + a
            + " must be >= 1");
      }
    }
    return b;
  }

  static int[] scaleShape(int[] shape, int[] block) {
    int[] s = new int[shape.length];
    for (int a = 0; a < s.length; a++) {
      s[a] = (shape[a] + block[a] - 1) / block[a];
    }
    return s;
  }

  // ---- quantize

  /**
   * Quantizes {@code t} (any dtype and strides) with the vectorized codecs.
   *
   * @throws IllegalStateException naming {@code --add-modules jdk.incubator.vector} when the
   *     Vector API is not in the JVM (the scalar codecs need no flag: {@code vectorized = false})
   */
  public static QuantizedTensor quantize(Tensor t, QuantFormat format, int[] block) {
    return quantize(t, format, block, true);
  }

  /**
   * Quantizes {@code t}; {@code vectorized = false} uses the scalar reference codecs (the two
   * give identical results).
   */
  public static QuantizedTensor quantize(Tensor t, QuantFormat format, int[] block,
      boolean vectorized) {
    if (vectorized) {
      SimdAttention.requireVectorApi();
    }
    return build(t, format, block, null, null, vectorized);
  }

  /**
   * Quantizes {@code t} with the scales of {@code like} (same shape, format and block): for a
   * tensor that {@code like} dequantizes to, the codes come back unchanged (idempotence).
   */
  public static QuantizedTensor quantizeWithScales(Tensor t, QuantizedTensor like) {
    SimdAttention.requireVectorApi();
    return build(t, like.format, like.block, like.scales, like.scaleCodes, true);
  }

  private static QuantizedTensor build(Tensor t, QuantFormat format, int[] block,
      float[] fixedScales, byte[] fixedScaleCodes, boolean vectorized) {
    int[] shape = t.shape();
    int[] bl = checkBlock(shape, block);
    long n = Tensor.elementCount(shape);
    if (n > Tensor.MAX_ARRAY_LENGTH) {
      throw new IllegalArgumentException("tensor of " + n + " elements is too large");
    }
    int[] ss = scaleShape(shape, bl);
    int ns = (int) Tensor.elementCount(ss);
    float[] scales = format.floatScales() ? new float[ns] : null;
    byte[] scaleCodes = format.floatScales() ? null : new byte[ns];
    byte[] flat = new byte[(int) n];
    Blocks blocks = new Blocks(shape, bl);
    float[] buf = new float[blocks.maxBlock()];
    byte[] cbuf = new byte[blocks.maxBlock()];
    int[] idx = new int[blocks.maxBlock()];
    long[] tIdx = t.storageIndices();
    MiniFloat el = format.element();
    for (int s = 0; s < ns; s++) {
      int len = blocks.indices(s, idx);
      for (int e = 0; e < len; e++) {
        buf[e] = t.getFloatAt(tIdx[idx[e]]);
      }
      float amax = vectorized ? SimdCodecs.amax(buf, 0, len) : IntQuant.amax(buf, 0, len);
      switch (format) {
        case INT8, INT4 -> {
          int qmax = format == QuantFormat.INT8 ? IntQuant.INT8_MAX : IntQuant.INT4_MAX;
          float sc = fixedScales != null ? fixedScales[s] : IntQuant.scale(amax, qmax);
          scales[s] = sc;
          if (vectorized) {
            SimdCodecs.encodeInt(buf, 0, len, sc, qmax, cbuf, 0);
          } else {
            IntQuant.encode(buf, 0, len, sc, qmax, cbuf, 0);
          }
        }
        case FP8_E4M3, FP8_E5M2, FP4_E2M1 -> {
          float sc = fixedScales != null ? fixedScales[s] : amax / el.maxValue();
          scales[s] = sc;
          // x / scale, as a multiplication by nothing else: divide element-wise first
          for (int e = 0; e < len; e++) {
            buf[e] = sc == 0f ? 0f : buf[e] / sc;
          }
          encode(el, buf, len, 1f, cbuf, vectorized);
        }
        case NVFP4 -> {
          int code = fixedScaleCodes != null ? fixedScaleCodes[s] & 0xFF
              : BlockScales.nvfp4Scale(amax);
          scaleCodes[s] = (byte) code;
          encode(el, buf, len, BlockScales.nvfp4Inverse(code), cbuf, vectorized);
        }
        case MXFP4 -> {
          int code = fixedScaleCodes != null ? fixedScaleCodes[s] & 0xFF
              : BlockScales.mxfp4Scale(amax);
          scaleCodes[s] = (byte) code;
          encode(el, buf, len, BlockScales.mxfp4Inverse(code), cbuf, vectorized);
        }
        default -> throw new AssertionError(format);
      }
      for (int e = 0; e < len; e++) {
        flat[idx[e]] = cbuf[e];
      }
    }
    byte[] codes = format.bits() == 8 ? flat : pack(flat);
    return new QuantizedTensor(format, shape, bl, codes, scales, scaleCodes);
  }

  private static void encode(MiniFloat el, float[] buf, int len, float mul, byte[] out,
      boolean vectorized) {
    if (vectorized) {
      SimdCodecs.encode(el, buf, 0, len, mul, true, out, 0);
    } else {
      for (int e = 0; e < len; e++) {
        out[e] = (byte) el.encode(buf[e] * mul, true);
      }
    }
  }

  /** Packs 4-bit codes two per byte, first element in the low nibble. */
  public static byte[] pack(byte[] codes) {
    byte[] p = new byte[(codes.length + 1) / 2];
    for (int i = 0; i < codes.length; i++) {
      int c = codes[i] & 0xF;
      p[i >> 1] |= (byte) ((i & 1) == 0 ? c : c << 4);
    }
    return p;
  }

  /** Unpacks {@code n} 4-bit codes (each in the low bits of a byte, unsigned nibble). */
  public static byte[] unpack(byte[] packed, int n) {
    byte[] c = new byte[n];
    for (int i = 0; i < n; i++) {
      c[i] = (byte) ((packed[i >> 1] >>> ((i & 1) * 4)) & 0xF);
    }
    return c;
  }

  // ---- dequantize and accessors

  /** The dequantized values as a new contiguous F32 tensor. */
  public Tensor dequantize() {
    int n = (int) Tensor.elementCount(shape);
    float[] out = new float[n];
    Blocks blocks = new Blocks(shape, block);
    int[] idx = new int[blocks.maxBlock()];
    MiniFloat el = format.element();
    for (int s = 0; s < blocks.count(); s++) {
      int len = blocks.indices(s, idx);
      for (int e = 0; e < len; e++) {
        int i = idx[e];
        int c = code(i);
        out[i] = switch (format) {
          case INT8, INT4 -> c * scales[s];
          case FP8_E4M3, FP8_E5M2, FP4_E2M1 -> el.decode(c) * scales[s];
          case NVFP4 -> el.decode(c) * MiniFloat.E4M3.decode(scaleCodes[s]);
          case MXFP4 -> el.decode(c) * BlockScales.e8m0(scaleCodes[s]);
        };
      }
    }
    return Tensor.of(out, shape);
  }

  /**
   * The code of element {@code i} (C order): signed for INT8/INT4 (INT4 sign-extended from its
   * nibble), the unsigned minifloat code otherwise.
   */
  public int code(int i) {
    return switch (format) {
      case INT8 -> codes[i];
      case INT4 -> ((codes[i >> 1] >> ((i & 1) * 4)) << 28) >> 28;
      case FP8_E4M3, FP8_E5M2 -> codes[i] & 0xFF;
      case FP4_E2M1, NVFP4, MXFP4 -> (codes[i >> 1] >>> ((i & 1) * 4)) & 0xF;
    };
  }

  public QuantFormat format() {
    return format;
  }

  public int[] shape() {
    return shape.clone();
  }

  public int[] block() {
    return block.clone();
  }

  public int[] scaleShape() {
    return scaleShape.clone();
  }

  /** The stored codes (packed for 4-bit formats). A copy. */
  public byte[] codes() {
    return codes.clone();
  }

  /** The float32 scales in C order of {@link #scaleShape()}, or null for NVFP4/MXFP4. A copy. */
  public float[] scales() {
    return scales == null ? null : scales.clone();
  }

  /** The scale bytes (E4M3 for NVFP4, E8M0 for MXFP4), or null. A copy. */
  public byte[] scaleCodes() {
    return scaleCodes == null ? null : scaleCodes.clone();
  }

  /** Storage bytes of codes and scales. */
  public long storageBytes() {
    return codes.length + (scales != null ? 4L * scales.length : scaleCodes.length);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof QuantizedTensor q && q.format == format && Arrays.equals(q.shape, shape)
        && Arrays.equals(q.block, block) && Arrays.equals(q.codes, codes)
        && Arrays.equals(q.scales, scales) && Arrays.equals(q.scaleCodes, scaleCodes);
  }

  @Override
  public int hashCode() {
    return Objects.hash(format, Arrays.hashCode(shape), Arrays.hashCode(codes));
  }

  @Override
  public String toString() {
    return "QuantizedTensor[" + format.id() + " " + Arrays.toString(shape) + ", block "
        + Arrays.toString(block) + "]";
  }

  /** Enumerates the C-order flat indices of the elements of each block. */
  static final class Blocks {
    private final int[] shape;
    private final int[] block;
    private final int[] grid;
    private final long[] strides;

    Blocks(int[] shape, int[] block) {
      this.shape = shape;
      this.block = block;
      this.grid = scaleShape(shape, block);
      this.strides = Tensor.contiguousStrides(shape);
    }

    int count() {
      return (int) Tensor.elementCount(grid);
    }

    int maxBlock() {
      long m = 1;
      for (int a = 0; a < shape.length; a++) {
        m *= Math.min(block[a], shape[a]);
      }
      return (int) m;
    }

    /** Fills {@code into} with the flat indices of block {@code s}, in C order; returns count. */
    int indices(int s, int[] into) {
      int rank = shape.length;
      int[] lo = new int[rank];
      int[] len = new int[rank];
      int rem = s;
      for (int a = rank - 1; a >= 0; a--) {
        int bi = rem % grid[a];
        rem /= grid[a];
        lo[a] = bi * block[a];
        len[a] = Math.min(block[a], shape[a] - lo[a]);
      }
      int total = 1;
      for (int a = 0; a < rank; a++) {
        total *= len[a];
      }
      int[] pos = new int[rank];
      for (int e = 0; e < total; e++) {
        long flat = 0;
        for (int a = 0; a < rank; a++) {
          flat += (lo[a] + pos[a]) * strides[a];
        }
        into[e] = (int) flat;
        for (int a = rank - 1; a >= 0; a--) {
          if (++pos[a] < len[a]) {
            break;
          }
          pos[a] = 0;
        }
      }
      return total;
    }
  }
}
