package dev.attention4j.simd;

/**
 * A per-key-tile hook of the {@link DenseEngine} tile loop ({@link DenseEngine#withHook}), for
 * kernels that change the logits or the softmax weights of each tile, such as the quantized
 * (SageAttention) kernels: a logit bias, or P quantized per key tile with the running max.
 *
 * <p>Both methods see one key tile of one query tile in the engine's transposed layout:
 * element {@code st[c * ld + r]} belongs to packed query row {@code p0 + r} of
 * {@code (b, g)} (query head {@code g * G + (p0 + r) / Sq}, query {@code (p0 + r) % Sq}, with
 * {@code G = Hq / Hkv}; see {@link DenseEngine}) and key {@code j0 + c}, for {@code r < rows}
 * and {@code c < cols}. Lanes {@code rows <= r < ld} are padding and may hold anything.
 * Implementations are called concurrently from several threads and must not keep per-call
 * state outside their arguments. A null hook costs nothing (the engine tests a field).
 */
public interface TileHook {

  /**
   * The logits of the tile, already multiplied by the softmax scale, before softcap, ALiBi, the
   * mask and the online softmax; may change them in place (a logit bias, for example).
   */
  default void logits(int b, int g, int p0, int rows, int j0, int cols, float[] st, int ld) {
  }

  /**
   * The softmax weights of the tile after {@code exp}: {@code st[c * ld + r] =
   * exp(s - m[r])}, with {@code m[r]} the running maximum including this tile (masked keys and
   * rows that have seen no visible key hold exactly 0). The running row sums have already been
   * taken from these unmodified weights; whatever the hook leaves in {@code st} is what the
   * {@code P V} product uses, on the same scale (for example P quantized after scaling by a
   * constant and scaled back). {@code m} must not be modified.
   */
  default void weights(int b, int g, int p0, int rows, int j0, int cols, float[] st, int ld,
      float[] m) {
  }
}
