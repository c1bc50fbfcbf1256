package dev.weave.spi;

import java.lang.reflect.InvocationTargetException;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;

/**
 * How weave and its backends put native errors and failures into words: one errno-naming check for
 * the pthread functions, and one formatter for cause chains.
 */
public final class Diagnostics {
  /** How the reason of a backend unusable because of a packaging defect starts. */
  public static final String PACKAGING_DEFECT = "packaging defect: ";

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
      throw new IllegalStateException(
          function + " failed: " + errnoName(Platform.current(), error));
    }
  }

  /**
   * @return the errno's name, number and what it means for pthread keys on {@code platform}, or
   *     "error N"
   */
  static String errnoName(Platform platform, int error) {
    String name = platform.errnoName(error).orElse(null);
    if (name == null) {
      return "error " + error;
    }
    switch (name) {
      case "EAGAIN":
        return "EAGAIN ("
            + error
            + "): the process has used up its pthread keys (PTHREAD_KEYS_MAX"
            + platform
                .pthreadKeys()
                .map(keys -> " is " + keys.keyLimit() + " with " + platform.cLibrary())
                .orElse("")
            + ")";
      case "ENOMEM":
        return "ENOMEM (" + error + "): out of memory";
      case "EINVAL":
        return "EINVAL (" + error + "): the pthread key is invalid or was deleted";
      default:
        return name + " (" + error + ")";
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
    for (Throwable t : chain(failure)) {
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
   * Tells a packaging defect from a problem of the machine. A defect: a class, constructor or
   * method of weave, a backend or its FFI library is missing or does not match the others (a {@link
   * NoClassDefFoundError}, {@link ClassNotFoundException}, {@link NoSuchMethodException}, another
   * {@link LinkageError}), or a provider could not be loaded ({@link ServiceConfigurationError}).
   * Not one: a native library that cannot load ({@link UnsatisfiedLinkError}), a class file too new
   * for this JDK ({@link UnsupportedClassVersionError}), native access denied ({@link
   * IllegalCallerException}), a class whose initialization failed before, or whatever a backend's
   * own code throws.
   *
   * @param failure what loading a backend threw, with its causes
   * @return whether it is a packaging defect
   */
  public static boolean isPackagingDefect(Throwable failure) {
    if (failure instanceof ServiceConfigurationError) {
      return true; // a provider that cannot be loaded or made is broken, whatever the cause
    }
    for (Throwable t : chain(failure)) {
      if (t instanceof UnsatisfiedLinkError
          || t instanceof UnsupportedClassVersionError
          || t instanceof IllegalCallerException) {
        return false;
      }
    }
    for (Throwable t : chain(failure)) {
      if (t instanceof ServiceConfigurationError) {
        return true;
      } else if (t instanceof NoClassDefFoundError) {
        // "Could not initialize class X": X's initializer failed earlier, and that was the cause
        if (!String.valueOf(t.getMessage()).startsWith("Could not initialize class")) {
          return true;
        }
      } else if (t instanceof LinkageError && !(t instanceof ExceptionInInitializerError)) {
        return true;
      } else if (t instanceof ReflectiveOperationException
          && !(t instanceof InvocationTargetException)) {
        return true;
      }
    }
    return false;
  }

  /** A failure and its causes, outermost first, each once. */
  private static List<Throwable> chain(Throwable failure) {
    List<Throwable> chain = new ArrayList<>();
    Map<Throwable, Boolean> seen = new IdentityHashMap<>();
    for (Throwable t = failure; t != null && seen.put(t, Boolean.TRUE) == null; t = t.getCause()) {
      chain.add(t);
    }
    return chain;
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
