package dev.attention4j.simd;

/**
 * Keys and values that the {@link DenseEngine} reads one key tile at a time as float32 rows,
 * from storage of the implementor's choice (a quantized KV cache dequantized per tile, for
 * example): {@link SimdAttention#forwardSource}. Batch {@code b} has {@link #length(int)} keys;
 * the engine never asks for a key at or past it. Called concurrently from several threads
 * between writes to the storage; implementations must only read.
 */
public interface KvSource {

  /** KV heads {@code Hkv}. */
  int kvHeads();

  /** Key head dim {@code D}. */
  int headDim();

  /** Value head dim {@code Dv}. */
  int valueDim();

  /** Batch entries. */
  int batch();

  /** Keys of batch {@code b}. */
  int length(int b);

  /**
   * Writes the keys {@code [j0, j0 + n)} of {@code (b, g)} as float32 rows to
   * {@code dst[r * headDim() + e]}.
   */
  void keys(int b, int g, int j0, int n, float[] dst);

  /**
   * Writes the values {@code [j0, j0 + n)} of {@code (b, g)} as float32 rows to
   * {@code dst[r * valueDim() + e]}.
   */
  void values(int b, int g, int j0, int n, float[] dst);
}
