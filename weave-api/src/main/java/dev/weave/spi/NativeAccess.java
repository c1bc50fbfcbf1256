package dev.weave.spi;

import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Native access as the JVM grants it, for backends to report a denial as a reason to be unavailable
 * that names the flag to add, instead of failing later.
 *
 * <p>Java 22 and newer restrict the foreign function API's restricted methods, and Java 24 and
 * newer also JNI (loading a library, binding a {@code native} method), to the modules named by
 * {@code --enable-native-access} ({@code ALL-UNNAMED} for the class path). Elsewhere the JVM warns,
 * or, with {@code --illegal-native-access=deny} (Java 24+) or on Java 22 and 23 once {@code
 * --enable-native-access} names any module, throws {@link IllegalCallerException}. The module that
 * needs the flag is the one whose code makes the restricted call: the backend's own for FFM, the
 * FFI library's for JNA ({@code com.sun.jna}) and jnr-ffi (jffi's, {@code org.jnrproject.jffi}).
 */
public final class NativeAccess {
  /**
   * The JDK's words for a denial, which jffi keeps when it wraps one in an UnsatisfiedLinkError.
   */
  private static final String DENIED = "Illegal native access";

  private NativeAccess() {}

  /**
   * @param module the module whose code makes restricted calls
   * @return the option that grants it native access: {@code --enable-native-access=NAME}, or {@code
   *     --enable-native-access=ALL-UNNAMED} for the class path
   */
  public static String enableFlag(Module module) {
    return "--enable-native-access=" + (module.isNamed() ? module.getName() : "ALL-UNNAMED");
  }

  /**
   * Tells whether a backend failed to load because the JVM denied native access, and if so why, in
   * words that name the option to add.
   *
   * @param module the module whose code makes the backend's restricted calls
   * @param failure what loading the backend threw
   * @return the reason to be unavailable, if {@code failure} or one of its causes is the JVM
   *     denying native access (the {@link IllegalCallerException} that says so, or a message that
   *     quotes it); empty otherwise
   */
  public static Optional<String> denial(Module module, Throwable failure) {
    String detail = null;
    Map<Throwable, Boolean> seen = new IdentityHashMap<>();
    for (Throwable t = failure; t != null && seen.put(t, Boolean.TRUE) == null; t = t.getCause()) {
      String message = String.valueOf(t.getMessage());
      int at = message.indexOf(DENIED);
      if (at >= 0) {
        detail = firstLine(message.substring(at));
        break;
      }
    }
    if (detail == null) {
      return Optional.empty();
    }
    String who = module.isNamed() ? "module " + module.getName() : "the class path";
    String why =
        Runtime.version().feature() >= 24
            ? "--illegal-native-access=deny"
            : "--enable-native-access names other modules only";
    return Optional.of(
        "the JVM denies native access to "
            + who
            + " ("
            + why
            + "): run with "
            + enableFlag(module)
            + " ["
            + detail
            + "]");
  }

  private static String firstLine(String text) {
    String line = text.strip();
    int newline = line.indexOf('\n');
    return newline < 0 ? line : line.substring(0, newline).strip();
  }
}
