package dev.attention4j.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.core.Tensor;
import dev.attention4j.core.io.Safetensors;
import dev.attention4j.core.io.SafetensorsFile;
import dev.attention4j.core.io.TensorFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class QuantizedTensorTest {

  static final long SEED = 77L;

  static Tensor gaussian(SplittableRandom rnd, int... shape) {
    Tensor t = Tensor.zeros(dev.attention4j.core.DType.F32, shape);
    float[] d = t.floatData();
    for (int i = 0; i < d.length; i++) {
      d[i] = (float) rnd.nextGaussian() * (i % 7 == 0 ? 5f : 1f);
    }
    return t;
  }

  static int[][] blocks(int[] s) {
    return new int[][] {
        QuantizedTensor.perTensor(s), QuantizedTensor.perToken(s),
        QuantizedTensor.perTokenBlock(4, s), QuantizedTensor.perChannel(s),
        QuantizedTensor.along(s, 3, 16), QuantizedTensor.along(s, 2, 16),
        QuantizedTensor.along(s, 3, 32), {1, 2, 3, 5}};
  }

  @Test
  void vectorEqualsScalarAndRoundTripBounds() {
    SplittableRandom rnd = new SplittableRandom(SEED);
    System.out.println("QuantizedTensorTest seed " + SEED);
    int[] shape = {1, 2, 19, 37}; // odd sizes: short blocks and an odd nibble count
    Tensor x = gaussian(rnd, shape);
    float[] xs = x.floatData();
    for (QuantFormat f : QuantFormat.values()) {
      for (int[] block : blocks(shape)) {
        QuantizedTensor v = QuantizedTensor.quantize(x, f, block, true);
        QuantizedTensor s = QuantizedTensor.quantize(x, f, block, false);
        assertEquals(s, v, f + " vector vs scalar, block " + java.util.Arrays.toString(block));
        float[] d = v.dequantize().floatData();
        // each element within half a step of its block's grid (relative to the block amax)
        double rel = switch (f) {
          case INT8 -> 0.5 / 127;
          case INT4 -> 0.5 / 7;
          case FP8_E4M3 -> 1.0 / 16;
          case FP8_E5M2 -> 1.0 / 8;
          default -> 1.0 / 4 + 1.0 / 6; // FP4: coarse grid, plus the E4M3/E8M0 scale rounding
        };
        double amax = 0;
        for (float e : xs) {
          amax = Math.max(amax, Math.abs(e));
        }
        for (int i = 0; i < xs.length; i++) {
          double tol = f.bits() == 8 && f != QuantFormat.INT8 ? Math.abs(xs[i]) * rel + 1e-3 * amax
              : rel * amax + 1e-6;
          if (f == QuantFormat.NVFP4 || f == QuantFormat.MXFP4 || f == QuantFormat.FP4_E2M1) {
            tol = 0.5 * amax;
          }
          assertTrue(Math.abs(d[i] - xs[i]) <= tol, f + " element " + i + ": " + xs[i]
              + " -> " + d[i]);
        }
        // idempotence: re-quantizing the dequantized tensor with the same scales
        QuantizedTensor again = QuantizedTensor.quantizeWithScales(v.dequantize(), v);
        assertArrayEquals(v.codes(), again.codes(), f + " idempotence");
      }
    }
  }

  @Test
  void nvfp4AndMxfp4KnownValues() {
    // one block of 16: amax 12 -> E4M3(2) = 2 exactly; elements x / 2 on the E2M1 grid
    float[] x = new float[16];
    for (int i = 0; i < 16; i++) {
      x[i] = (i - 8) * 0.75f;
    }
    x[15] = 12f;
    QuantizedTensor q = QuantizedTensor.quantize(Tensor.of(x, 16), QuantFormat.NVFP4,
        new int[] {16});
    assertEquals(MiniFloat.E4M3.encode(2f, true), q.scaleCodes()[0] & 0xFF);
    float[] d = q.dequantize().floatData();
    assertEquals(12f, d[15]);
    assertEquals(-6f, d[0]); // -6 / 2 = -3 exactly
    assertEquals(-6f, d[1]); // -5.25 / 2 = -2.625, nearest E2M1 is -3
    // MXFP4: amax 12 -> floor(log2 12) = 3, X = 2^(3-2) = 2
    QuantizedTensor m = QuantizedTensor.quantize(Tensor.of(x, 16), QuantFormat.MXFP4,
        new int[] {16});
    assertEquals(127 + 1, m.scaleCodes()[0] & 0xFF);
    assertEquals(12f, m.dequantize().floatData()[15]);
    // zero block: scale 0, codes 0, values 0
    QuantizedTensor z = QuantizedTensor.quantize(Tensor.of(new float[32], 32), QuantFormat.NVFP4,
        new int[] {16});
    assertArrayEquals(new float[32], z.dequantize().floatData());
    assertEquals(0, BlockScales.mxfp4Scale(0f));
    assertEquals(0xFF, BlockScales.mxfp4Scale(Float.NaN));
    assertEquals(0, BlockScales.mxfp4Scale(Float.MIN_VALUE)); // 2^-149: exponent clamped
    assertEquals(123, BlockScales.mxfp4Scale(0x1p-2f)); // floor(log2) - 2 + 127
    // NaN in an NVFP4 block poisons the block's scale, so every value of the block is NaN
    float[] n = new float[16];
    n[3] = Float.NaN;
    float[] dn = QuantizedTensor.quantize(Tensor.of(n, 16), QuantFormat.NVFP4, new int[] {16})
        .dequantize().floatData();
    for (float e : dn) {
      assertTrue(Float.isNaN(e));
    }
  }

  @Test
  void packingLowNibbleFirst() {
    byte[] codes = {1, 2, 3, 0xF, 7};
    byte[] p = QuantizedTensor.pack(codes);
    assertArrayEquals(new byte[] {0x21, (byte) 0xF3, 0x07}, p);
    assertArrayEquals(codes, QuantizedTensor.unpack(p, 5));
    float[] x = {-7, 7, 3, -1, 0};
    QuantizedTensor q = QuantizedTensor.quantize(Tensor.of(x, 5), QuantFormat.INT4,
        new int[] {5});
    assertEquals(-7, q.code(0));
    assertEquals(7, q.code(1));
    assertEquals(-1, q.code(3));
    assertArrayEquals(x, q.dequantize().floatData());
  }

  @Test
  void safetensorsRoundTrip(@TempDir Path dir) throws Exception {
    SplittableRandom rnd = new SplittableRandom(SEED + 1);
    int[] shape = {1, 2, 32, 64};
    Tensor x = gaussian(rnd, shape);
    Map<String, QuantizedTensor> all = new LinkedHashMap<>();
    all.put("k_int8", QuantizedTensor.quantize(x, QuantFormat.INT8,
        QuantizedTensor.perTokenBlock(16, shape)));
    all.put("k_int4", QuantizedTensor.quantize(x, QuantFormat.INT4,
        QuantizedTensor.perToken(shape)));
    all.put("v_fp8", QuantizedTensor.quantize(x, QuantFormat.FP8_E4M3,
        QuantizedTensor.perChannel(shape)));
    all.put("v_e5m2", QuantizedTensor.quantize(x, QuantFormat.FP8_E5M2,
        QuantizedTensor.perTensor(shape)));
    all.put("q_nvfp4", QuantizedTensor.quantize(x, QuantFormat.NVFP4,
        QuantizedTensor.along(shape, 3, 16)));
    all.put("v_nvfp4", QuantizedTensor.quantize(x, QuantFormat.NVFP4,
        QuantizedTensor.along(shape, 2, 16)));
    all.put("q_mxfp4", QuantizedTensor.quantize(x, QuantFormat.MXFP4,
        QuantizedTensor.along(shape, 3, 32)));
    all.put("odd_fp4", QuantizedTensor.quantize(Tensor.of(new float[] {1, -2, 3}, 3),
        QuantFormat.FP4_E2M1, new int[] {3}));
    Path file = dir.resolve("q.safetensors");
    QuantizedFiles.write(file, all, Map.of("producer", "test"));
    SafetensorsFile f = Safetensors.read(file);
    assertEquals("nvfp4", f.metadata().get("q_nvfp4.format"));
    assertEquals("3", f.metadata().get("q_nvfp4.axis"));
    assertEquals("16", f.metadata().get("q_nvfp4.block_size"));
    assertEquals("F8_E4M3", f.entry("q_nvfp4.scale").dtype());
    assertArrayEquals(new int[] {1, 2, 32, 32}, f.entry("q_nvfp4").shape());
    for (Map.Entry<String, QuantizedTensor> e : all.entrySet()) {
      assertEquals(e.getValue(), QuantizedFiles.read(f, e.getKey()), e.getKey());
    }
    assertThrows(TensorFileException.class, () -> QuantizedFiles.read(f, "missing"));
  }
}
