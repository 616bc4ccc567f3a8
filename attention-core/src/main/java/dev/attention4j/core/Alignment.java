package dev.attention4j.core;

/**
 * Where the causal diagonal (and the window and ALiBi distances) sits when {@code Sq != Sk}.
 * Query {@code i} is aligned with key {@code i + off_b}, where {@code off_b = Sk_b - Sq} for
 * {@link #BOTTOM_RIGHT} and {@code 0} for {@link #TOP_LEFT}; {@code Sk_b} is the valid key length
 * of batch {@code b}. The two agree when {@code Sq == Sk}.
 */
public enum Alignment {
  /** The last query sees the last valid key (FlashAttention 2.1+, KV-cache decoding). */
  BOTTOM_RIGHT,
  /** The first query sees the first key (PyTorch SDPA {@code is_causal}, FlexAttention). */
  TOP_LEFT;

  /** The diagonal offset {@code off_b} for a batch whose valid key length is {@code kvLen}. */
  public long offset(int qLen, int kvLen) {
    return this == BOTTOM_RIGHT ? (long) kvLen - qLen : 0L;
  }
}
