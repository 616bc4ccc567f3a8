package dev.attention4j.cli;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** A plain text table: left-aligned text columns, right-aligned numbers, two spaces apart. */
final class Table {

  private final String[] headers;
  private final List<String[]> rows = new ArrayList<>();

  Table(String... headers) {
    this.headers = headers.clone();
  }

  void row(String... cells) {
    if (cells.length != headers.length) {
      throw new IllegalArgumentException(cells.length + " cells for " + headers.length
          + " columns");
    }
    rows.add(cells.clone());
  }

  void print(PrintStream out) {
    int[] width = new int[headers.length];
    boolean[] numeric = new boolean[headers.length];
    for (int c = 0; c < headers.length; c++) {
      width[c] = headers[c].length();
      numeric[c] = !rows.isEmpty();
      for (String[] r : rows) {
        width[c] = Math.max(width[c], r[c].length());
        numeric[c] &= isNumeric(r[c]);
      }
    }
    line(out, headers, width, numeric);
    for (String[] r : rows) {
      line(out, r, width, numeric);
    }
    out.flush();
  }

  private static void line(PrintStream out, String[] cells, int[] width, boolean[] numeric) {
    StringBuilder sb = new StringBuilder();
    for (int c = 0; c < cells.length; c++) {
      String pad = " ".repeat(width[c] - cells[c].length());
      sb.append(c == 0 ? "" : "  ").append(numeric[c] ? pad + cells[c] : cells[c] + pad);
    }
    out.println(sb.toString().stripTrailing());
  }

  private static boolean isNumeric(String s) {
    if (s.equals("-")) {
      return true;
    }
    try {
      Double.parseDouble(s);
      return true;
    } catch (NumberFormatException e) {
      return false;
    }
  }

  /** {@code x} with {@code digits} decimals. */
  static String fixed(double x, int digits) {
    return String.format(Locale.ROOT, "%." + digits + "f", x);
  }

  /** {@code x} in scientific notation with 2 decimals. */
  static String sci(double x) {
    return String.format(Locale.ROOT, "%.2e", x);
  }
}
