package dev.attention4j.core.io;

import java.io.Serial;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A tiny parser for the Python literals that appear in {@code .npy} headers: dicts with string
 * keys, quoted strings ({@code '...'} or {@code "..."}), {@code True}, {@code False}, {@code None},
 * integers (an optional sign, decimal digits and, for Python 2 era files, an optional {@code L}),
 * tuples ({@code ()}, {@code (5,)}, {@code (2, 3)}) and lists. Nothing is evaluated. Nesting is
 * limited to {@value #MAX_DEPTH} levels and a duplicate dict key is an error.
 *
 * <p>Values map to Java as: dict → {@code Map<String, Object>} (in source order), tuple →
 * {@link Tuple}, list → {@code List<Object>}, string → {@link String}, bool → {@link Boolean},
 * int → {@link BigInteger}, {@code None} → {@link #NONE}.
 */
final class PyLiteral {

  /** Deepest nesting of dicts, tuples and lists accepted. */
  static final int MAX_DEPTH = 32;

  /** The value of {@code None}. */
  static final Object NONE = new Object() {
    @Override
    public String toString() {
      return "None";
    }
  };

  /** A Python tuple. */
  record Tuple(List<Object> items) {}

  /** A syntax error at a character offset. */
  static final class SyntaxError extends RuntimeException {
    @Serial
    private static final long serialVersionUID = 1L;

    SyntaxError(String message) {
      super(message);
    }
  }

  private final String text;
  private int pos;

  private PyLiteral(String text) {
    this.text = text;
  }

  /**
   * Parses one literal that spans all of {@code text} apart from surrounding whitespace.
   *
   * @throws SyntaxError if the text is not exactly one supported literal
   */
  static Object parse(String text) {
    PyLiteral p = new PyLiteral(text);
    p.skipSpace();
    Object value = p.value(0);
    p.skipSpace();
    if (p.pos != text.length()) {
      throw p.error("unexpected " + p.describeHere() + " after the literal");
    }
    return value;
  }

  /** Python's {@code repr} of a value built from the types above (used in error messages). */
  static String repr(Object v) {
    if (v instanceof String s) {
      return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'";
    }
    if (v instanceof Boolean b) {
      return b ? "True" : "False";
    }
    if (v instanceof Tuple t) {
      StringBuilder sb = new StringBuilder("(");
      for (int i = 0; i < t.items().size(); i++) {
        sb.append(i == 0 ? "" : ", ").append(repr(t.items().get(i)));
      }
      return sb.append(t.items().size() == 1 ? ",)" : ")").toString();
    }
    if (v instanceof List<?> l) {
      StringBuilder sb = new StringBuilder("[");
      for (int i = 0; i < l.size(); i++) {
        sb.append(i == 0 ? "" : ", ").append(repr(l.get(i)));
      }
      return sb.append(']').toString();
    }
    if (v instanceof Map<?, ?> m) {
      StringBuilder sb = new StringBuilder("{");
      boolean first = true;
      for (Map.Entry<?, ?> e : m.entrySet()) {
        sb.append(first ? "" : ", ").append(repr(e.getKey())).append(": ")
            .append(repr(e.getValue()));
        first = false;
      }
      return sb.append('}').toString();
    }
    return String.valueOf(v);
  }

  private Object value(int depth) {
    if (pos >= text.length()) {
      throw error("unexpected end of header, expected a value");
    }
    char c = text.charAt(pos);
    if ((c == '{' || c == '(' || c == '[') && depth >= MAX_DEPTH) {
      throw error("literal nested deeper than " + MAX_DEPTH + " levels");
    }
    return switch (c) {
      case '{' -> dict(depth + 1);
      case '(' -> tupleOrParenthesised(depth + 1);
      case '[' -> sequence(']', depth + 1).items();
      case '\'', '"' -> string();
      default -> {
        if (c == '-' || c == '+' || (c >= '0' && c <= '9')) {
          yield integer();
        }
        if (Character.isLetter(c)) {
          yield name();
        }
        throw error("unexpected " + describeHere());
      }
    };
  }

  private Map<String, Object> dict(int depth) {
    pos++; // '{'
    Map<String, Object> out = new LinkedHashMap<>();
    skipSpace();
    while (true) {
      if (peek() == '}') {
        pos++;
        return out;
      }
      if (peek() != '\'' && peek() != '"') {
        throw error("expected a quoted dict key or '}', found " + describeHere());
      }
      String key = string();
      skipSpace();
      expect(':');
      skipSpace();
      Object v = value(depth);
      if (out.containsKey(key)) {
        throw error("duplicate key " + repr(key));
      }
      out.put(key, v);
      skipSpace();
      if (peek() == ',') {
        pos++;
        skipSpace();
      } else if (peek() != '}') {
        throw error("expected ',' or '}' in dict, found " + describeHere());
      }
    }
  }

  /** {@code (x)} without a comma is just {@code x} in Python; anything else is a tuple. */
  private Object tupleOrParenthesised(int depth) {
    Seq seq = sequence(')', depth);
    if (seq.items().size() == 1 && !seq.trailingComma()) {
      return seq.items().get(0);
    }
    return new Tuple(seq.items());
  }

  private record Seq(List<Object> items, boolean trailingComma) {}

  private Seq sequence(char close, int depth) {
    pos++; // '(' or '['
    List<Object> out = new ArrayList<>();
    boolean trailingComma = false;
    skipSpace();
    while (true) {
      if (peek() == close) {
        pos++;
        return new Seq(out, trailingComma);
      }
      out.add(value(depth));
      trailingComma = false;
      skipSpace();
      if (peek() == ',') {
        pos++;
        trailingComma = true;
        skipSpace();
      } else if (peek() != close) {
        throw error("expected ',' or '" + close + "', found " + describeHere());
      }
    }
  }

  private String string() {
    char quote = text.charAt(pos++);
    StringBuilder sb = new StringBuilder();
    while (true) {
      if (pos >= text.length()) {
        throw error("unterminated string");
      }
      char c = text.charAt(pos++);
      if (c == quote) {
        return sb.toString();
      }
      if (c == '\n') {
        throw error("newline inside a string");
      }
      if (c == '\\') {
        if (pos >= text.length()) {
          throw error("unterminated string");
        }
        char e = text.charAt(pos++);
        switch (e) {
          case '\\', '\'', '"' -> sb.append(e);
          case 'n' -> sb.append('\n');
          case 't' -> sb.append('\t');
          case 'r' -> sb.append('\r');
          case '0' -> sb.append('\0');
          default -> sb.append('\\').append(e);
        }
      } else {
        sb.append(c);
      }
    }
  }

  private BigInteger integer() {
    int start = pos;
    if (peek() == '-' || peek() == '+') {
      pos++;
    }
    int digits = pos;
    while (pos < text.length() && Character.isDigit(text.charAt(pos))
        && text.charAt(pos) < 128) {
      pos++;
    }
    if (pos == digits) {
      throw error("expected digits after the sign");
    }
    if (pos - digits > 1000) {
      throw error("integer literal of " + (pos - digits) + " digits");
    }
    BigInteger v = new BigInteger(text.substring(start, pos));
    if (pos < text.length() && (text.charAt(pos) == 'L' || text.charAt(pos) == 'l')) {
      pos++; // Python 2 long suffix
    }
    if (pos < text.length() && (Character.isLetterOrDigit(text.charAt(pos))
        || text.charAt(pos) == '.')) {
      throw error("unsupported number literal " + describeHere());
    }
    return v;
  }

  private Object name() {
    int start = pos;
    while (pos < text.length() && (Character.isLetterOrDigit(text.charAt(pos))
        || text.charAt(pos) == '_')) {
      pos++;
    }
    String word = text.substring(start, pos);
    return switch (word) {
      case "True" -> Boolean.TRUE;
      case "False" -> Boolean.FALSE;
      case "None" -> NONE;
      default -> {
        pos = start;
        throw error("unsupported name '" + abbreviate(word) + "' (only True, False and None)");
      }
    };
  }

  private char peek() {
    if (pos >= text.length()) {
      throw error("unexpected end of header");
    }
    return text.charAt(pos);
  }

  private void expect(char c) {
    if (peek() != c) {
      throw error("expected '" + c + "', found " + describeHere());
    }
    pos++;
  }

  private void skipSpace() {
    while (pos < text.length()) {
      char c = text.charAt(pos);
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f') {
        return;
      }
      pos++;
    }
  }

  private String describeHere() {
    if (pos >= text.length()) {
      return "end of header";
    }
    char c = text.charAt(pos);
    return c >= 0x20 && c < 0x7F ? "'" + c + "'" : String.format("character U+%04X", (int) c);
  }

  private static String abbreviate(String s) {
    return s.length() <= 40 ? s : s.substring(0, 40) + "...";
  }

  private SyntaxError error(String message) {
    return new SyntaxError(message + " at character " + pos);
  }
}
