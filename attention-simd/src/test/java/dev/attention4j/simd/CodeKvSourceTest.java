package dev.attention4j.simd;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.AttentionResult;
import dev.attention4j.core.DType;
import dev.attention4j.core.Tensor;
import java.time.Duration;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The decode kernel reading a {@link CodeKvSource} in place, against the float64 reference on
 * the dequantized values, with a source written here (not the quantized cache): storage runs of
 * a few keys that cut the engine's tiles anywhere, INT8 and FP8 codes, GQA, several rows.
 */
class CodeKvSourceTest {

  /** Codes in runs of {@code runLength} keys, each run with its own value scales. */
  static class Runs implements CodeKvSource {
    final int hkv;
    final int d;
    final int len;
    final int runLength;
    final boolean fp8;
    final byte[] k;
    final byte[] v;
    final float[] kScale;
    final float[] vScale;

    Runs(SplittableRandom rnd, int hkv, int d, int len, int runLength, boolean fp8) {
      this.hkv = hkv;
      this.d = d;
      this.len = len;
      this.runLength = runLength;
      this.fp8 = fp8;
      k = new byte[hkv * len * d];
      v = new byte[hkv * len * d];
      for (int i = 0; i < k.length; i++) {
        // FP8: avoid the NaN codes 0x7F and 0xFF
        k[i] = (byte) (fp8 ? rnd.nextInt(0x7F) | (rnd.nextBoolean() ? 0x80 : 0) : rnd.nextInt(256));
        v[i] = (byte) (fp8 ? rnd.nextInt(0x7F) | (rnd.nextBoolean() ? 0x80 : 0) : rnd.nextInt(256));
      }
      kScale = new float[hkv * len];
      for (int i = 0; i < kScale.length; i++) {
        kScale[i] = (float) (fp8 ? 0.01 : 0.002) * (1 + rnd.nextInt(4));
      }
      int runs = (len + runLength - 1) / runLength;
      vScale = new float[hkv * runs * d];
      for (int i = 0; i < vScale.length; i++) {
        vScale[i] = (float) (0.01 * (1 + rnd.nextInt(4)));
      }
    }

    float decode(byte c) {
      return fp8 ? CodesTest.e4m3(c & 0xFF) : c;
    }

    float key(int g, int j, int e) {
      return decode(k[(g * len + j) * d + e]) * kScale[g * len + j];
    }

    float value(int g, int j, int e) {
      int runs = (len + runLength - 1) / runLength;
      return decode(v[(g * len + j) * d + e]) * vScale[(g * runs + j / runLength) * d + e];
    }

    @Override
    public Codes codes() {
      return fp8 ? Codes.FP8_E4M3 : Codes.INT8;
    }

    @Override
    public int keyRun(int b, int g, int j0, int max, CodeRun run) {
      run.codes = k;
      run.offset = (g * len + j0) * d;
      run.stride = d;
      run.scales = kScale;
      run.scaleOffset = g * len + j0;
      return Math.min(max, runLength - j0 % runLength);
    }

    @Override
    public int valueRun(int b, int g, int j0, int max, CodeRun run) {
      int runs = (len + runLength - 1) / runLength;
      run.codes = v;
      run.offset = (g * len + j0) * d;
      run.stride = d;
      run.scales = vScale;
      run.scaleOffset = (g * runs + j0 / runLength) * d;
      return Math.min(max, runLength - j0 % runLength);
    }

    @Override
    public int kvHeads() {
      return hkv;
    }

    @Override
    public int headDim() {
      return d;
    }

    @Override
    public int valueDim() {
      return d;
    }

    @Override
    public int batch() {
      return 1;
    }

    @Override
    public int length(int b) {
      return len;
    }

    @Override
    public void keys(int b, int g, int j0, int n, float[] dst) {
      for (int r = 0; r < n; r++) {
        for (int e = 0; e < d; e++) {
          dst[r * d + e] = key(g, j0 + r, e);
        }
      }
    }

    @Override
    public void values(int b, int g, int j0, int n, float[] dst) {
      for (int r = 0; r < n; r++) {
        for (int e = 0; e < d; e++) {
          dst[r * d + e] = value(g, j0 + r, e);
        }
      }
    }

    Tensor[] dequantized() {
      Tensor kt = Tensor.zeros(DType.F32, 1, hkv, len, d);
      Tensor vt = Tensor.zeros(DType.F32, 1, hkv, len, d);
      for (int g = 0; g < hkv; g++) {
        for (int j = 0; j < len; j++) {
          for (int e = 0; e < d; e++) {
            kt.setAt(((long) g * len + j) * d + e, key(g, j, e));
            vt.setAt(((long) g * len + j) * d + e, value(g, j, e));
          }
        }
      }
      return new Tensor[] {kt, vt};
    }
  }

  @ParameterizedTest(name = "run length {0}")
  @ValueSource(ints = {1, 5, 37, 128, 300})
  void codesReadInPlaceEqualTheReference(int runLength) {
    for (boolean fp8 : new boolean[] {false, true}) {
      for (int sq : new int[] {1, 2}) {
        SplittableRandom rnd = new SplittableRandom(31L * runLength + sq + (fp8 ? 7 : 0));
        // D = 96: four-vector and one-vector blocks of the value dim at 512 bits
        Runs src = new Runs(rnd, 2, 96, 700, runLength, fp8);
        Tensor q = Support.gaussian(rnd, DType.F32, 1, 1, 8, sq, 96);
        Tensor out = Tensor.zeros(DType.F32, 1, 8, sq, 96);
        Tensor lse = Tensor.zeros(DType.F32, 1, 8, sq);
        AttentionOptions o = AttentionOptions.builder().causal(true).build();
        SimdAttention.withBits(512).forwardSource(q, src, out, lse, o);
        Tensor[] kv = src.dequantized();
        AttentionResult ref = Support.reference(q, kv[0], kv[1],
            o.toBuilder().kvLens(new int[] {700}).build());
        Support.assertClose(ref, new AttentionResult(out, lse),
            (fp8 ? "fp8" : "int8") + " runs of " + runLength + ", Sq " + sq);
      }
    }
  }

  /** Codes above {@link DenseEngine#TOUCH_MIN_BYTES}: each run is touched before its product. */
  @Test
  void largeCodeCacheIsTouchedFirstAndMatchesReference() {
    SplittableRandom rnd = new SplittableRandom(0xC0DEL);
    int len = 200_000;
    int d = 128;
    Runs src = new Runs(rnd, 1, d, len, 256, false);
    Runs small = new Runs(rnd, 1, d, 1000, 256, false);
    Tensor q = Support.gaussian(rnd, DType.F32, 1, 1, 4, 1, d);
    AttentionOptions o = AttentionOptions.builder().causal(true).build();
    SimdAttention kernel = SimdAttention.withBits(512);
    assertTrue((long) len * 2 * d > DenseEngine.TOUCH_MIN_BYTES);
    assertTrue(kernel.sourceEngine(q, src, o).touchesRows());
    assertTrue(!kernel.sourceEngine(q, small, o).touchesRows());
    Tensor out = Tensor.zeros(DType.F32, 1, 4, 1, d);
    Tensor lse = Tensor.zeros(DType.F32, 1, 4, 1);
    kernel.forwardSource(q, src, out, lse, o);
    Tensor[] kv = src.dequantized();
    AttentionResult ref = Support.reference(q, kv[0], kv[1],
        o.toBuilder().kvLens(new int[] {len}).build());
    Support.assertClose(ref, new AttentionResult(out, lse), "int8 codes, " + len + " keys");
  }

  @Test
  void aSourceThatReturnsNoKeysFailsInsteadOfLooping() {
    SplittableRandom rnd = new SplittableRandom(3);
    Runs broken = new Runs(rnd, 1, 16, 64, 16, false) {
      @Override
      public int keyRun(int b, int g, int j0, int max, CodeRun run) {
        super.keyRun(b, g, j0, max, run);
        return 0;
      }
    };
    Tensor q = Support.gaussian(rnd, DType.F32, 1, 1, 1, 1, 16);
    IllegalStateException e = assertTimeoutPreemptively(Duration.ofSeconds(20),
        () -> assertThrows(IllegalStateException.class, () -> SimdAttention.withBits(512)
            .forwardSource(q, broken, Tensor.zeros(DType.F32, 1, 1, 1, 16), null,
                AttentionOptions.defaults())));
    assertTrue(e.getMessage().contains("keyRun returned 0"), e.getMessage());
  }
}
