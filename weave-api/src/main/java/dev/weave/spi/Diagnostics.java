package dev.weave.spi;

import java.util.IdentityHashMap;
import java.util.Map;

/**
 * How weave and its backends put native errors and failures into words: one errno-naming check for
 * the pthread functions, and one formatter for cause chains.
 */
public final class Diagnostics {
  /** Linux's values: weave's backends need Linux with glibc. */
  static final int EAGAIN = 11;

  static final int ENOMEM = 12;
  static final int EINVAL = 22;

  /** A reason or a message stays readable: longer cause chains are cut here. */
  static final int MAX_CAUSES_LENGTH = 1000;

  private Diagnostics() {}

  /**
   * Checks the result of a pthread function that returns an error number ({@code
   * pthread_key_create}, {@code pthread_setspecific}, {@code pthread_key_delete}).
   *
   * @param error what the function returned
   * @param function its name, for the message
   * @throws IllegalStateException if {@code error} is not 0, naming the errno and its likely cause
   */
  public static void check(int error, String function) {
    if (error != 0) {
      throw new IllegalStateException(function + " failed: " + errnoName(error));
    }
  }

  /**
   * @return the errno's name, number and what it means for pthread keys, or "error N"
   */
  static String errnoName(int error) {
    switch (error) {
      case EAGAIN:
        return "EAGAIN ("
            + error
            + "): the process has used up its pthread keys (PTHREAD_KEYS_MAX, 1024 on glibc)";
      case ENOMEM:
        return "ENOMEM (" + error + "): out of memory";
      case EINVAL:
        return "EINVAL (" + error + "): the pthread key is invalid or was deleted";
      default:
        return "error " + error;
    }
  }

  /**
   * Puts a failure and its causes on one line, innermost last: {@code "Type: message <- Type:
   * message"}. A wrapper that adds nothing (no message of its own, or its cause's text) is left
   * out, a message is cut at its first line, and a type name a library repeats at the start of its
   * message is said once; the whole is cut at 1,000 characters.
   *
   * @param failure what was thrown
   * @return the line
   */
  public static String causes(Throwable failure) {
    StringBuilder text = new StringBuilder();
    Map<Throwable, Boolean> seen = new IdentityHashMap<>();
    for (Throwable t = failure; t != null && seen.put(t, Boolean.TRUE) == null; t = t.getCause()) {
      Throwable cause = t.getCause();
      String message = t.getMessage();
      boolean addsNothing =
          cause != null
              && (message == null
                  || message.equals(cause.toString())
                  || message.equals(cause.getMessage()));
      if (addsNothing) {
        continue;
      }
      if (text.length() > 0) {
        text.append(" <- ");
      }
      text.append(t.getClass().getSimpleName());
      if (message != null) {
        text.append(": ").append(firstLine(withoutRepeatedType(t, message)));
      }
      if (text.length() > MAX_CAUSES_LENGTH) {
        return text.substring(0, MAX_CAUSES_LENGTH) + "...";
      }
    }
    return text.toString();
  }

  /**
   * jffi, for one, wraps an error's text in new errors: "java.lang.UnsatisfiedLinkError: ..."
   * again.
   */
  private static String withoutRepeatedType(Throwable t, String message) {
    String prefix = t.getClass().getName() + ": ";
    String stripped = message.strip();
    while (stripped.startsWith(prefix)) {
      stripped = stripped.substring(prefix.length()).strip();
    }
    return stripped;
  }

  private static String firstLine(String text) {
    int newline = text.indexOf('\n');
    return (newline < 0 ? text : text.substring(0, newline)).strip();
  }
}
