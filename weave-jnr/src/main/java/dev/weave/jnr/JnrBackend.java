package dev.weave.jnr;

import com.google.auto.service.AutoService;
import dev.weave.spi.Diagnostics;
import dev.weave.spi.LoadingBackend;
import dev.weave.spi.NativeAccess;
import dev.weave.spi.NativePrimitives;
import dev.weave.spi.Platform;
import dev.weave.spi.WeaveBackend;

/**
 * The {@code jnr} backend, on jnr-ffi and the jffi native library under it. It loads nothing until
 * first asked; if jffi's native library, libc or jnr-ffi itself cannot load here, it reports why
 * instead of failing.
 */
@AutoService(WeaveBackend.class)
@SuppressWarnings(
    "exports") // @AutoService is a compile-time annotation; its module is not needed at run time
public final class JnrBackend extends LoadingBackend {
  static final String NAME = "jnr";

  /** For {@link java.util.ServiceLoader}; loads nothing native. */
  public JnrBackend() {
    super(NAME, 20);
  }

  /** Judges availability by {@code platform} instead of this one: for tests. */
  JnrBackend(Platform platform) {
    super(NAME, 20, platform);
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
      return Class.forName("com.kenai.jffi.Foreign", false, JnrBackend.class.getClassLoader())
          .getModule();
    } catch (ClassNotFoundException | LinkageError e) {
      return JnrBackend.class.getModule();
    }
  }

  /**
   * The failure on one line (jffi puts whole stack traces into its messages), with a hint when
   * jffi's native library is missing.
   */
  static String describe(Throwable e) {
    Throwable innermost = e;
    for (int depth = 0;
        depth < 100 && innermost.getCause() != null;
        depth++) { // bounded: causes may cycle
      innermost = innermost.getCause();
    }
    String hint =
        innermost instanceof UnsatisfiedLinkError
            ? " (is com.github.jnr:jffi with classifier native, which holds jffi's library for each OS and CPU, on the class path?)"
            : "";
    return Diagnostics.causes(e) + hint;
  }
}
