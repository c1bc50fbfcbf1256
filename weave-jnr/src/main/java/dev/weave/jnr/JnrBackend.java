package dev.weave.jnr;

import com.google.auto.service.AutoService;
import dev.weave.spi.LoadingBackend;
import dev.weave.spi.NativeAccess;
import dev.weave.spi.NativePrimitives;
import dev.weave.spi.WeaveBackend;

/**
 * The {@code jnr} backend, on jnr-ffi and the jffi native library under it. It loads nothing until
 * first asked; if jffi's native library, libc or jnr-ffi itself cannot load here, it reports why
 * instead of failing.
 */
@AutoService(WeaveBackend.class)
@SuppressWarnings("exports") // @AutoService is a compile-time annotation; its module is not needed at run time
public final class JnrBackend extends LoadingBackend {
  static final String NAME = "jnr";

  /** For {@link java.util.ServiceLoader}; loads nothing native. */
  public JnrBackend() {
    super(NAME, 20);
  }

  @Override
  protected NativePrimitives loadPrimitives() {
    return new JnrPrimitives();
  }

  @Override
  protected String explain(Throwable failure) {
    return NativeAccess.denial(jffiModule(), failure)
        .orElse("jnr-ffi or its jffi native library failed to load: " + describe(failure));
  }

  /**
   * The module whose code loads jffi's native library (and so needs native access on Java 24+):
   * {@code org.jnrproject.jffi} on the module path, the unnamed module on the class path.
   */
  private static Module jffiModule() {
    try {
      return Class.forName("com.kenai.jffi.Foreign", false, JnrBackend.class.getClassLoader()).getModule();
    } catch (ClassNotFoundException | LinkageError e) {
      return JnrBackend.class.getModule();
    }
  }

  /**
   * The innermost cause, which says what failed (an ExceptionInInitializerError says nothing), on
   * one line: jffi puts whole stack traces into its messages.
   */
  static String describe(Throwable e) {
    Throwable cause = e;
    while (cause.getCause() != null && cause.getCause() != cause) {
      cause = cause.getCause();
    }
    String name = cause.getClass().getName();
    String message = String.valueOf(cause.getMessage()).strip();
    // jffi wraps an UnsatisfiedLinkError's text in new ones: "java.lang.UnsatisfiedLinkError: ..." again
    while (message.startsWith(name + ": ")) {
      message = message.substring(name.length() + 2).strip();
    }
    int newline = message.indexOf('\n');
    if (newline >= 0) {
      message = message.substring(0, newline).strip();
    }
    String hint =
        cause instanceof UnsatisfiedLinkError
            ? " (is com.github.jnr:jffi with classifier native, which holds jffi's library for each OS and CPU, on the class path?)"
            : "";
    return cause.getClass().getSimpleName() + ": " + message + hint;
  }
}
