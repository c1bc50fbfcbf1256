package dev.weave.tck;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a JVM's fatal error log ({@code hs_err_pid*.log}) says about a crash, in a few lines: the
 * signal (or the internal error), the faulting frame, and the top of the native stack.
 */
final class CrashReport {
  private static final Pattern SIGNAL =
      Pattern.compile("^#\\s+(SIG[A-Z]+) \\((0x[0-9a-f]+)\\) at pc=(0x[0-9a-f]+)");
  private static final Pattern INTERNAL = Pattern.compile("^#\\s+Internal Error \\(([^)]*)\\)");
  private static final int NATIVE_FRAMES = 8;

  private CrashReport() {}

  /**
   * @return one line such as {@code SIGSEGV in sem_post+0x0 (0xb) at pc=0x7f.., frame C
   *     [libc.so.6+0x905c0] sem_post+0x0}, then the top native frames, then the file's path
   */
  static String describe(Path hsErr) {
    List<String> lines;
    try {
      lines = Files.readAllLines(hsErr, StandardCharsets.ISO_8859_1);
    } catch (IOException e) {
      return "the JVM crashed and left " + hsErr + ", which cannot be read: " + e;
    }
    String what = null;
    String frame = null;
    List<String> frames = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      Matcher signal = SIGNAL.matcher(line);
      Matcher internal = INTERNAL.matcher(line);
      if (what == null && signal.find()) {
        what = signal.group(1) + " (" + signal.group(2) + ") at pc=" + signal.group(3);
      } else if (what == null && internal.find()) {
        String detail =
            i + 1 < lines.size() ? lines.get(i + 1).replaceFirst("^#\\s*", "").trim() : "";
        what = "internal error in " + internal.group(1) + (detail.isEmpty() ? "" : ": " + detail);
      } else if (frame == null && line.startsWith("# Problematic frame:") && i + 1 < lines.size()) {
        frame = lines.get(i + 1).replaceFirst("^#\\s*", "").trim();
      } else if (line.startsWith("Native frames:")) {
        for (int j = i + 1; j < lines.size() && frames.size() < NATIVE_FRAMES; j++) {
          String next = lines.get(j);
          if (next.isBlank() || next.startsWith("Java frames:")) {
            break;
          }
          frames.add(next.replaceAll("\\s+", " "));
        }
      }
    }
    StringBuilder text = new StringBuilder();
    if (what == null) {
      text.append("the JVM crashed (no signal or internal error found in its log)");
    } else if (what.startsWith("SIG")) {
      text.append(what.substring(0, what.indexOf(' ')));
      text.append(frame == null ? "" : " in " + function(frame));
      text.append(" ").append(what.substring(what.indexOf(' ') + 1));
      text.append(frame == null ? "" : ", frame " + frame.replaceAll("\\s+", " "));
    } else {
      text.append(what).append(frame == null ? "" : " (" + frame + ")");
    }
    if (!frames.isEmpty()) {
      text.append("\nnative frames:\n  ").append(String.join("\n  ", frames));
    }
    text.append("\nthe JVM's fatal error log: ").append(hsErr);
    return text.toString();
  }

  /**
   * {@code C [libc.so.6+0x98f40] sem_post+0x0} is in {@code sem_post+0x0}; a frame with no symbol,
   * in its library.
   */
  static String function(String frame) {
    int bracket = frame.indexOf(']');
    String after = bracket < 0 ? "" : frame.substring(bracket + 1).trim();
    if (!after.isEmpty()) {
      return after;
    }
    return frame.replaceFirst("^[A-Za-z]\\s+", "").trim();
  }
}
