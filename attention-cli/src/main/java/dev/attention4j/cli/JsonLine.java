package dev.attention4j.cli;

import java.util.Locale;

/**
 * One flat JSON object on one line, built key by key in insertion order. Non-finite numbers
 * (which JSON cannot spell) are written as {@code null}.
 */
final class JsonLine {

  private final StringBuilder sb = new StringBuilder("{");

  JsonLine put(String key, String value) {
    key(key);
    if (value == null) {
      sb.append("null");
    } else {
      quote(value);
    }
    return this;
  }

  JsonLine put(String key, long value) {
    key(key);
    sb.append(value);
    return this;
  }

  JsonLine put(String key, double value) {
    key(key);
    sb.append(Double.isFinite(value) ? Double.toString(value) : "null");
    return this;
  }

  JsonLine put(String key, boolean value) {
    key(key);
    sb.append(value);
    return this;
  }

  /** An array of integers, or {@code null} for a null array. */
  JsonLine put(String key, int[] values) {
    key(key);
    if (values == null) {
      sb.append("null");
      return this;
    }
    sb.append('[');
    for (int i = 0; i < values.length; i++) {
      sb.append(i == 0 ? "" : ",").append(values[i]);
    }
    sb.append(']');
    return this;
  }

  @Override
  public String toString() {
    return sb + "}";
  }

  private void key(String key) {
    if (sb.length() > 1) {
      sb.append(',');
    }
    quote(key);
    sb.append(':');
  }

  private void quote(String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        default -> {
          if (c < 0x20) {
            sb.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    sb.append('"');
  }
}
