package dev.attention4j.bench;

import dev.attention4j.core.DType;
import dev.attention4j.core.Tensor;
import java.util.SplittableRandom;

/**
 * The inputs and float64 expectations of the peer benchmarks, drawn exactly as
 * {@link DenseBenchmark} and {@link DecodeBenchmark} draw theirs (same seeds, same order, same
 * sampled rows), so every engine sees the same numbers. Arrays are {@code [H, S, D]}, C order.
 */
final class PeerInputs {

  static final int DENSE_HEADS = 8;
  static final int DENSE_SAMPLES = 6;
  static final int DECODE_HQ = 32;
  static final int DECODE_HKV = 8;
  static final int DECODE_D = 128;
  static final int[] DECODE_SAMPLE_HEADS = {0, 13, 31};

  final float[] q;
  final float[] k;
  final float[] v;
  final int[] sampleHead;
  final int[] sampleRow;
  final double[][] expected;

  private PeerInputs(float[] q, float[] k, float[] v, int[] sampleHead, int[] sampleRow,
      double[][] expected) {
    this.q = q;
    this.k = k;
    this.v = v;
    this.sampleHead = sampleHead;
    this.sampleRow = sampleRow;
    this.expected = expected;
  }

  /** {@link DenseBenchmark}'s q, k, v ({@code [8, n, d]}) and its sampled rows. */
  static PeerInputs dense(int n, int d, boolean causal) {
    SplittableRandom rnd = new SplittableRandom(20240611L + n * 31L + d);
    float[] q = gaussian(rnd, DENSE_HEADS * n * d);
    float[] k = gaussian(rnd, DENSE_HEADS * n * d);
    float[] v = gaussian(rnd, DENSE_HEADS * n * d);
    int[] heads = new int[DENSE_SAMPLES];
    int[] rows = new int[DENSE_SAMPLES];
    double[][] expected = new double[DENSE_SAMPLES][];
    for (int s = 0; s < DENSE_SAMPLES; s++) {
      heads[s] = rnd.nextInt(DENSE_HEADS);
      rows[s] = s == 0 ? 0 : (s == 1 ? n - 1 : rnd.nextInt(n));
      int h = heads[s];
      expected[s] = referenceRow(q, (long) (h * n + rows[s]) * d, k, v, (long) h * n * d,
          causal ? rows[s] + 1 : n, d);
    }
    return new PeerInputs(q, k, v, heads, rows, expected);
  }

  /**
   * {@link DecodeBenchmark}'s contiguous case: q {@code [32, 1, 128]}, K and V
   * {@code [8, kvLen, 128]} (as float16-rounded values when {@code f16}). With {@code roundQ} the
   * query is rounded to float16 too (for an engine that needs one dtype) and the expectation is
   * computed from the rounded query.
   */
  static PeerInputs decode(int kvLen, boolean f16, boolean roundQ) {
    SplittableRandom rnd = new SplittableRandom(20240612L + kvLen);
    DType dtype = f16 ? DType.F16 : DType.F32;
    float[] q = gaussian(rnd, DType.F32, DECODE_HQ * DECODE_D);
    float[] k = gaussian(rnd, dtype, DECODE_HKV * kvLen * DECODE_D);
    float[] v = gaussian(rnd, dtype, DECODE_HKV * kvLen * DECODE_D);
    if (roundQ) {
      for (int i = 0; i < q.length; i++) {
        q[i] = Float.float16ToFloat(Float.floatToFloat16(q[i]));
      }
    }
    int samples = DECODE_SAMPLE_HEADS.length;
    double[][] expected = new double[samples][];
    int group = DECODE_HQ / DECODE_HKV;
    for (int s = 0; s < samples; s++) {
      int h = DECODE_SAMPLE_HEADS[s];
      expected[s] = referenceRow(q, (long) h * DECODE_D, k, v,
          (long) (h / group) * kvLen * DECODE_D, kvLen, DECODE_D);
    }
    return new PeerInputs(q, k, v, DECODE_SAMPLE_HEADS.clone(), new int[samples], expected);
  }

  /**
   * Checks one sampled row; {@code rel} is the tolerance relative to the row's largest value
   * ({@code 1e-4} for float32 engines as in the JMH suites, looser for float16 outputs).
   */
  static void check(String engine, double[] expected, float[] got, int head, int row,
      double rel) {
    double max = 0;
    for (double x : expected) {
      max = Math.max(max, Math.abs(x));
    }
    double bound = rel * Math.max(1, max) + 1e-5;
    for (int e = 0; e < expected.length; e++) {
      if (!(Math.abs(got[e] - expected[e]) <= bound)) {
        throw new IllegalStateException(engine + ": wrong output at head " + head + " row " + row
            + " column " + e + ": " + got[e] + ", expected " + expected[e]);
      }
    }
  }

  /** One output row in float64, straight from the definition, over keys {@code 0..keys-1}. */
  private static double[] referenceRow(float[] q, long qOff, float[] k, float[] v, long kvOff,
      int keys, int d) {
    double scale = 1 / Math.sqrt(d);
    double[] s = new double[keys];
    double m = Double.NEGATIVE_INFINITY;
    for (int j = 0; j < keys; j++) {
      double dot = 0;
      for (int e = 0; e < d; e++) {
        dot += (double) q[(int) (qOff + e)] * k[(int) (kvOff + (long) j * d + e)];
      }
      s[j] = scale * dot;
      m = Math.max(m, s[j]);
    }
    double l = 0;
    double[] o = new double[d];
    for (int j = 0; j < keys; j++) {
      double p = Math.exp(s[j] - m);
      l += p;
      for (int e = 0; e < d; e++) {
        o[e] += p * v[(int) (kvOff + (long) j * d + e)];
      }
    }
    for (int e = 0; e < d; e++) {
      o[e] /= l;
    }
    return o;
  }

  /** The same draws as {@code DenseBenchmark.gaussian}. */
  private static float[] gaussian(SplittableRandom rnd, int size) {
    float[] a = new float[size];
    for (int i = 0; i < size; i++) {
      double u = 1.0 - rnd.nextDouble();
      double w = rnd.nextDouble();
      a[i] = (float) (Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * w));
    }
    return a;
  }

  /** The same draws and rounding as {@code DecodeBenchmark.gaussian} (via {@link Tensor}). */
  private static float[] gaussian(SplittableRandom rnd, DType dtype, int size) {
    Tensor t = Tensor.zeros(dtype, size);
    for (int i = 0; i < size; i++) {
      double u = 1.0 - rnd.nextDouble();
      double w = rnd.nextDouble();
      t.setAt(i, Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * w));
    }
    float[] a = new float[size];
    for (int i = 0; i < size; i++) {
      a[i] = (float) t.getDoubleAt(i);
    }
    return a;
  }
}
