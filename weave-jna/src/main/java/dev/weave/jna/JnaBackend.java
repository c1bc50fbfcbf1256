package dev.weave.jna;

import com.google.auto.service.AutoService;
import dev.weave.spi.Diagnostics;
import dev.weave.spi.LoadingBackend;
import dev.weave.spi.NativeAccess;
import dev.weave.spi.NativePrimitives;
import dev.weave.spi.Platform;
import dev.weave.spi.WeaveBackend;
import java.util.Optional;

/**
 * The {@code jna} backend, on JNA: the lowest priority of the three, usable on Java 17 and newer on
 * 64-bit Linux wherever JNA's native library loads. Nothing JNA is touched until first use, and a
 * failure to load is reported by {@link #unavailabilityReason()}, never thrown.
 */
@AutoService(WeaveBackend.class)
public final class JnaBackend extends LoadingBackend {
  static final String NAME = "jna";
  private static final String PRIMITIVES_CLASS = "dev.weave.jna.JnaPrimitives";

  /** For {@link java.util.ServiceLoader}; loads nothing native. */
  public JnaBackend() {
    super(NAME, 10);
  }

  /** Judges availability by {@code platform} instead of this one: for tests. */
  JnaBackend(Platform platform) {
    super(NAME, 10, platform);
  }

  @Override
  protected NativePrimitives loadPrimitives() throws Exception {
    // Loaded by name so that a missing JNA jar is a reason here, not an error in discovery.
    return (NativePrimitives)
        Class.forName(PRIMITIVES_CLASS).getDeclaredConstructor().newInstance();
  }

  @Override
  protected String explain(Throwable failure) {
    Optional<String> denied = NativeAccess.denial(jnaModule(), failure);
    if (denied.isPresent()) {
      return denied.get();
    }
    if (failure instanceof UnsupportedOperationException) {
      return failure.getMessage();
    }
    if (failure instanceof NoClassDefFoundError
        && String.valueOf(failure.getMessage()).startsWith("com/sun/jna/")) {
      return "needs JNA (net.java.dev.jna:jna 5.x) on the class path or module path: "
          + Diagnostics.causes(failure);
    }
    return "JNA or its native library failed to load: " + Diagnostics.causes(failure);
  }

  /**
   * The module whose code loads JNA's native library (and so needs native access on Java 24+):
   * {@code com.sun.jna} on the module path, the unnamed module on the class path.
   */
  private static Module jnaModule() {
    try {
      return Class.forName("com.sun.jna.Native", false, JnaBackend.class.getClassLoader())
          .getModule();
    } catch (ClassNotFoundException | LinkageError e) {
      return JnaBackend.class.getModule();
    }
  }
}
