package dev.weave.spi;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Reads Linux's mount table to tell why a library could not be loaded from a directory: the kernel
 * refuses executable mappings of files on a {@code noexec} mount, and the FFI libraries say so only
 * as "failed to map segment from shared object".
 */
final class Mounts {
  private static final String NOEXEC = "noexec";

  private Mounts() {}

  /**
   * @param mountTable a mount table in {@code /proc/self/mountinfo}'s format
   * @param directory an existing directory
   * @return the mount point of the mount that holds {@code directory}, if that mount is {@code
   *     noexec}; empty if it is not, or if the table cannot be read
   */
  static Optional<String> noexecMountOf(Path mountTable, Path directory) {
    Path real;
    List<String> lines;
    try {
      real = directory.toRealPath();
      lines = Files.readAllLines(mountTable, StandardCharsets.UTF_8);
    } catch (IOException | SecurityException e) {
      return Optional.empty();
    }
    String holder = null;
    boolean noexec = false;
    for (String line : lines) {
      // id parent major:minor root MOUNT-POINT OPTIONS [optional fields] - type source
      // super-options
      String[] fields = line.split(" ");
      if (fields.length < 6) {
        continue;
      }
      String mountPoint = unescape(fields[4]);
      // ">=": a later mount on the same point hides the earlier one
      if (real.startsWith(mountPoint)
          && (holder == null || mountPoint.length() >= holder.length())) {
        holder = mountPoint;
        noexec = Arrays.asList(fields[5].split(",")).contains(NOEXEC);
      }
    }
    return noexec ? Optional.of(holder) : Optional.empty();
  }

  /** The kernel writes a space, tab, newline or backslash in a path as an octal escape. */
  static String unescape(String field) {
    StringBuilder text = new StringBuilder(field.length());
    for (int i = 0; i < field.length(); i++) {
      char c = field.charAt(i);
      if (c == '\\' && isOctal(field, i + 1)) {
        text.append((char) Integer.parseInt(field.substring(i + 1, i + 4), 8));
        i += 3;
      } else {
        text.append(c);
      }
    }
    return text.toString();
  }

  private static boolean isOctal(String text, int from) {
    if (from + 3 > text.length()) {
      return false;
    }
    for (int i = from; i < from + 3; i++) {
      if (text.charAt(i) < '0' || text.charAt(i) > '7') {
        return false;
      }
    }
    return true;
  }
}
