package dev.attention4j.simd;

/**
 * A {@link KvSource} whose keys and values are stored as 8-bit codes with float32 scales (a
 * quantized KV cache), which the {@link DenseEngine}'s decode kernel reads in place and decodes
 * in registers, without a float32 copy: key {@code j}, element {@code e} is
 * {@code decode(code) * keyScale[j]} (one scale per key row), value {@code j}, channel {@code e}
 * is {@code decode(code) * valueScale[e]} (one scale per channel, shared by the keys of a run).
 * The float32 rows of {@link KvSource#keys} and {@link KvSource#values} must hold exactly these
 * products: the engine reads those on the paths that are not decoding kernels (masks, hooks,
 * logit modifiers, 128-bit vectors). Called concurrently between writes, like {@code KvSource}.
 */
public interface CodeKvSource extends KvSource {

  /** The code formats the decode kernel reads. */
  enum Codes {
    /** Signed 8-bit integers, {@code [-128, 127]} as themselves. */
    INT8,
    /** OCP FP8 E4M3 (max 448, codes {@code 0x7F} and {@code 0xFF} are NaN). */
    FP8_E4M3
  }

  /** The format of every code. */
  Codes codes();

  /**
   * Locates the keys of {@code (b, g)} from {@code j0} ({@code j0 < length(b)}): sets
   * {@code run} so that key {@code j0 + x} has its {@code headDim()} codes at
   * {@code run.codes[run.offset + x * run.stride + e]} and its scale at
   * {@code run.scales[run.scaleOffset + x]}, and returns how many keys, from 1 to {@code max},
   * are stored so.
   */
  int keyRun(int b, int g, int j0, int max, CodeRun run);

  /**
   * Locates the values of {@code (b, g)} from {@code j0}: value {@code j0 + x} has its
   * {@code valueDim()} codes at {@code run.codes[run.offset + x * run.stride + e]} and channel
   * {@code e} the scale {@code run.scales[run.scaleOffset + e]} for every key of the run; returns
   * how many keys, from 1 to {@code max}, are stored so.
   */
  int valueRun(int b, int g, int j0, int max, CodeRun run);

  /** Where a run of codes is: filled by {@link #keyRun} and {@link #valueRun}. */
  final class CodeRun {
    public byte[] codes;
    public int offset;
    public int stride;
    public float[] scales;
    public int scaleOffset;
  }
}
