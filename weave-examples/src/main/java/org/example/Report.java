package org.example;

import java.util.Locale;

/** What the examples print: one fact a line, numbers grouped with commas in every locale. */
final class Report {
  private Report() {}

  static void line(String format, Object... args) {
    System.out.println(String.format(Locale.ROOT, format, args));
  }

  /** {@code bytes} in KiB, rounded, with its sign. */
  static long kib(long bytes) {
    return Math.round(bytes / 1024.0);
  }
}
