package dev.attention4j.core.io;

/**
 * The {@code .npy} element types this package reads, keyed by NumPy kind character and item
 * size. {@link #descr()} is the normalized descriptor: {@code '<'} plus kind and size for
 * multi-byte numbers (data is kept little-endian after loading), {@code '|'} for one-byte types
 * and for the 2-byte void type {@code V2} (bfloat16 saved by {@code ml_dtypes}).
 */
enum NpyType {
  F2('f', 2), F4('f', 4), F8('f', 8),
  I1('i', 1), U1('u', 1), B1('b', 1),
  I2('i', 2), U2('u', 2), I4('i', 4), U4('u', 4), I8('i', 8),
  V2('V', 2);

  /** The descriptors accepted, as listed in error messages. */
  static final String SUPPORTED = "<f2 <f4 <f8 <i2 <i4 <i8 <u2 <u4 (and their '>' big-endian forms), "
      + "|i1 |u1 |b1 |V2";

  final char kind;
  final int itemSize;

  NpyType(char kind, int itemSize) {
    this.kind = kind;
    this.itemSize = itemSize;
  }

  /** Normalized descriptor, e.g. {@code <f4} or {@code |u1}. */
  String descr() {
    return (itemSize == 1 || kind == 'V' ? "|" : "<") + kind + itemSize;
  }

  boolean isFloat() {
    return kind == 'f';
  }

  boolean isInteger() {
    return kind == 'i' || kind == 'u' || kind == 'b';
  }

  /** Byte order and type of a parsed descriptor. */
  record Parsed(NpyType type, boolean bigEndian) {}

  /**
   * Parses a NumPy type descriptor string such as {@code <f4}, {@code >i8} or {@code |u1}.
   *
   * @return the type, or {@code null} with {@code problem[0]} set to the reason
   */
  static Parsed parse(String descr, String[] problem) {
    char order = 0;
    String rest = descr;
    if (!descr.isEmpty() && "<>|=".indexOf(descr.charAt(0)) >= 0) {
      order = descr.charAt(0);
      rest = descr.substring(1);
    }
    if (rest.startsWith("O")) {
      problem[0] = "object arrays (descr '" + descr + "') are not supported: loading them needs "
          + "pickle";
      return null;
    }
    NpyType type = null;
    for (NpyType t : values()) {
      if (rest.equals(String.valueOf(t.kind) + t.itemSize)) {
        type = t;
      }
    }
    if (type == null) {
      problem[0] = "unsupported descr '" + descr + "' (supported: " + SUPPORTED + ")";
      return null;
    }
    if (type.itemSize == 1 || type.kind == 'V') {
      return new Parsed(type, false);
    }
    if (order != '<' && order != '>') {
      problem[0] = "descr '" + descr + "' of a " + type.itemSize + "-byte type needs an explicit "
          + "byte order, '<' or '>'";
      return null;
    }
    return new Parsed(type, order == '>');
  }
}
