package dev.attention4j.core;

/**
 * A FlexAttention-style score modifier: maps the logit of (batch {@code b}, query head {@code h},
 * query {@code i}, key {@code j}) after scale and softcap to a new logit. Returning
 * {@code Double.NEGATIVE_INFINITY} gives the pair weight 0. Must be a pure function; kernels call
 * it from several threads and in any order.
 */
@FunctionalInterface
public interface ScoreMod {
  /**
   * The new logit of one pair.
   *
   * @param score the logit after scale and softcap
   * @param b batch index
   * @param h query head index
   * @param i query position
   * @param j key position
   * @return the modified logit; {@code Double.NEGATIVE_INFINITY} masks the pair
   */
  double apply(double score, int b, int h, int i, int j);
}
