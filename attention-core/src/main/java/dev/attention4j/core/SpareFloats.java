package dev.attention4j.core;

import java.util.concurrent.atomic.AtomicReference;

/**
 * A float32 scratch buffer that a kernel instance keeps between calls, so that steady-state
 * calls allocate nothing in proportion to the problem. A call {@link #take}s the buffer (a new
 * one when it is absent, held by a concurrent call, or too small) and {@link #give}s it back;
 * two calls never share a buffer. The buffer's contents are not cleared: callers write every
 * element they read. For kernel implementations; safe to share between threads.
 */
public final class SpareFloats {

  private final AtomicReference<float[]> spare = new AtomicReference<>();

  /**
   * A buffer of at least {@code n} floats.
   *
   * @throws IllegalArgumentException if {@code n} exceeds the JVM's array limit
   */
  public float[] take(long n) {
    if (n > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("scratch of " + n + " floats exceeds the array limit");
    }
    float[] b = spare.getAndSet(null);
    if (b == null || b.length < n) {
      b = new float[(int) Math.max(1, n)];
    }
    return b;
  }

  /** Returns {@code b} for the next call; the larger of two concurrent returns is kept. */
  public void give(float[] b) {
    float[] old = spare.getAndSet(b);
    if (old != null && old.length > b.length) {
      spare.compareAndSet(b, old);
    }
  }

  /** A contiguous float32 view of {@code shape} over {@code buf} starting at {@code at}. */
  public static Tensor view(float[] buf, long at, int... shape) {
    long[] strides = new long[shape.length];
    long s = 1;
    for (int i = shape.length - 1; i >= 0; i--) {
      strides[i] = s;
      s *= shape[i];
    }
    return Tensor.of(buf, buf.length).view(shape, strides, at);
  }

  /** The element count of {@code shape}, as a long. */
  public static long count(int... shape) {
    long n = 1;
    for (int x : shape) {
      n *= x;
    }
    return n;
  }
}
