package dev.weave.jna;

import com.google.auto.service.AutoService;
import dev.weave.DestructorRegistry;
import dev.weave.WeaveException;
import dev.weave.spi.Engine;
import dev.weave.spi.NativeAccess;
import dev.weave.spi.NativePrimitives;
import dev.weave.spi.WeaveBackend;
import java.util.Optional;

/**
 * The {@code jna} backend, on JNA: the lowest priority of the three, usable on Java 17 and newer
 * on 64-bit Linux wherever JNA's native library loads. Nothing JNA is touched until first use, and
 * a failure to load is reported by {@link #unavailabilityReason()}, never thrown.
 */
@AutoService(WeaveBackend.class)
public final class JnaBackend implements WeaveBackend {
  static final String NAME = "jna";
  private static final String PRIMITIVES_CLASS = "dev.weave.jna.JnaPrimitives";

  private String unavailabilityReason;
  private DestructorRegistry registry;
  private boolean initialized;

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public int priority() {
    return 10;
  }

  @Override
  public synchronized Optional<String> unavailabilityReason() {
    initialize();
    return Optional.ofNullable(unavailabilityReason);
  }

  @Override
  public synchronized DestructorRegistry registry() {
    initialize();
    if (registry == null) {
      throw new WeaveException("weave backend 'jna' is unusable here: " + unavailabilityReason);
    }
    return registry;
  }

  private void initialize() {
    if (initialized) {
      return;
    }
    initialized = true;
    String os = System.getProperty("os.name", "");
    if (!os.startsWith("Linux")) {
      unavailabilityReason = "needs Linux with glibc (this is " + os + ")";
      return;
    }
    try {
      // Loaded by name so that a missing JNA jar is a reason here, not an error in discovery.
      NativePrimitives primitives =
          (NativePrimitives) Class.forName(PRIMITIVES_CLASS).getDeclaredConstructor().newInstance();
      registry = new Engine(NAME, primitives);
    } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
      Throwable cause = e.getCause() != null && e instanceof ReflectiveOperationException ? e.getCause() : e;
      Optional<String> denied = NativeAccess.denial(jnaModule(), e);
      if (denied.isPresent()) {
        unavailabilityReason = denied.get();
      } else if (cause instanceof UnsupportedOperationException) {
        unavailabilityReason = cause.getMessage();
      } else if (cause instanceof NoClassDefFoundError && String.valueOf(cause.getMessage()).startsWith("com/sun/jna/")) {
        unavailabilityReason = "needs JNA (net.java.dev.jna:jna 5.x) on the class path or module path: " + describe(cause);
      } else {
        unavailabilityReason = "JNA or its native library failed to load: " + describe(cause);
      }
    }
  }

  /**
   * The module whose code loads JNA's native library (and so needs native access on Java 24+):
   * {@code com.sun.jna} on the module path, the unnamed module on the class path.
   */
  private static Module jnaModule() {
    try {
      return Class.forName("com.sun.jna.Native", false, JnaBackend.class.getClassLoader()).getModule();
    } catch (ClassNotFoundException | LinkageError e) {
      return JnaBackend.class.getModule();
    }
  }

  private static String describe(Throwable t) {
    StringBuilder text = new StringBuilder();
    for (Throwable cause = t; cause != null && text.length() < 1000; cause = cause.getCause()) {
      if (text.length() > 0) {
        text.append(" <- ");
      }
      text.append(cause);
    }
    return text.toString();
  }
}
