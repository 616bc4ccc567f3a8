package dev.attention4j.core;

import java.util.Arrays;

/**
 * The fast scalar fallback, used when {@code jdk.incubator.vector} is not readable: the same
 * FlashAttention-2 tiled online softmax as the SIMD engine, in plain Java with float32
 * accumulation. Query tiles of {@value #BR} rows walk key tiles of {@value #BC} keys; tiles that
 * the mask makes EMPTY are skipped and FULL tiles run without per-element mask work. Masked and
 * padded keys are never read.
 */
public final class ScalarAttention implements AttentionKernel {

  /** The shared instance (stateless; scratch is allocated per call). */
  public static final ScalarAttention INSTANCE = new ScalarAttention();

  static final int BR = 16;
  static final int BC = 64;

  private ScalarAttention() {
  }

  @Override
  public String name() {
    return "scalar";
  }

  /** The kernel and its parameters, for logs. */
  @Override
  public String toString() {
    return "ScalarAttention";
  }

  @Override
  public void forward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
      AttentionOptions options) {
    AttentionShape s = AttentionShape.of(q, k, v, out, lse, options);
    int d = s.headDim();
    int dv = s.valueDim();
    float scale = (float) options.scale(d);
    Mask mask = options.mask();
    float[] qt = new float[BR * d];
    float[] kt = new float[BC * d];
    float[] vt = new float[BC * dv];
    float[] p = new float[BR * BC];
    float[] acc = new float[BR * dv];
    float[] m = new float[BR];
    float[] l = new float[BR];
    for (int b = 0; b < s.batch(); b++) {
      int kvLen = options.kvLen(b, s.kvLen());
      long diag = options.diagonal(b, s.qLen(), s.kvLen());
      for (int h = 0; h < s.qHeads(); h++) {
        int g = s.kvHead(h);
        for (int i0 = 0; i0 < s.qLen(); i0 += BR) {
          int rows = Math.min(BR, s.qLen() - i0);
          load(q, b, h, i0, rows, d, qt);
          Arrays.fill(m, Float.NEGATIVE_INFINITY);
          Arrays.fill(l, 0f);
          Arrays.fill(acc, 0f);
          for (int j0 = 0; j0 < kvLen; j0 += BC) {
            int cols = Math.min(BC, kvLen - j0);
            TileClass cls = mask == null ? TileClass.FULL
                : mask.classify(b, h, i0, i0 + rows, j0, j0 + cols, diag);
            if (cls == TileClass.EMPTY) {
              continue;
            }
            load(k, b, g, j0, cols, d, kt);
            load(v, b, g, j0, cols, dv, vt);
            for (int r = 0; r < rows; r++) {
              int i = i0 + r;
              float rowMax = Float.NEGATIVE_INFINITY;
              for (int c = 0; c < cols; c++) {
                int j = j0 + c;
                float x;
                if (cls == TileClass.PARTIAL && !mask.allows(b, h, i, j, diag)) {
                  x = Float.NEGATIVE_INFINITY;
                } else {
                  float dot = 0f;
                  for (int e = 0; e < d; e++) {
                    dot += qt[r * d + e] * kt[c * d + e];
                  }
                  x = scale * dot;
                  if (options.softcap() > 0 || options.hasBias()) {
                    x = (float) Logits.finish(x, options, b, h, i, j, diag);
                  } else if (!Float.isFinite(x)) {
                    x = Float.NaN;
                  }
                }
                p[r * BC + c] = x;
                rowMax = maxNaN(rowMax, x);
              }
              // online softmax: new max, rescale, exponentiate, accumulate
              float mNew = maxNaN(m[r], rowMax);
              if (mNew == Float.NEGATIVE_INFINITY) {
                continue; // nothing visible yet in this row
              }
              float alpha = m[r] == Float.NEGATIVE_INFINITY ? 0f : (float) Math.exp(m[r] - mNew);
              float sum = 0f;
              for (int e = 0; e < dv; e++) {
                acc[r * dv + e] *= alpha;
              }
              for (int c = 0; c < cols; c++) {
                float x = p[r * BC + c];
                if (x == Float.NEGATIVE_INFINITY) {
                  continue;
                }
                float w = (float) Math.exp(x - mNew);
                sum += w;
                for (int e = 0; e < dv; e++) {
                  acc[r * dv + e] += w * vt[c * dv + e];
                }
              }
              l[r] = l[r] * alpha + sum;
              m[r] = mNew;
            }
          }
          for (int r = 0; r < rows; r++) {
            boolean empty = m[r] == Float.NEGATIVE_INFINITY;
            long at = out.offset() + b * out.stride(0) + h * out.stride(1)
                + (i0 + r) * out.stride(2);
            float inv = empty ? 0f : 1f / l[r];
            // a row that saw a NaN or Inf key or value is NaN, O and LSE
            boolean finite = true;
            for (int e = 0; e < dv; e++) {
              finite &= empty || Float.isFinite(acc[r * dv + e] * inv);
            }
            for (int e = 0; e < dv; e++) {
              out.setAt(at + e * out.stride(3),
                  !finite ? Float.NaN : empty ? 0f : acc[r * dv + e] * inv);
            }
            if (lse != null) {
              lse.setAt(lse.offset() + b * lse.stride(0) + h * lse.stride(1)
                  + (i0 + r) * lse.stride(2), !finite ? Double.NaN
                  : empty ? Double.NEGATIVE_INFINITY : m[r] + (float) Math.log(l[r]));
            }
          }
        }
      }
    }
  }

  private static float maxNaN(float a, float b) {
    return Float.isNaN(a) || Float.isNaN(b) ? Float.NaN : Math.max(a, b);
  }

  /** Copies {@code rows} rows of {@code t[b, h, from.., :]} into a dense float tile. */
  private static void load(Tensor t, int b, int h, int from, int rows, int width, float[] tile) {
    long base = t.offset() + b * t.stride(0) + h * t.stride(1);
    long s2 = t.stride(2);
    long s3 = t.stride(3);
    for (int r = 0; r < rows; r++) {
      long at = base + (from + r) * s2;
      for (int e = 0; e < width; e++) {
        tile[r * width + e] = t.getFloatAt(at + e * s3);
      }
    }
  }
}
