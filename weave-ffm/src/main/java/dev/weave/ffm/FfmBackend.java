package dev.weave.ffm;

import com.google.auto.service.AutoService;
import dev.weave.DestructorRegistry;
import dev.weave.WeaveException;
import dev.weave.spi.Engine;
import dev.weave.spi.NativeAccess;
import dev.weave.spi.NativePrimitives;
import dev.weave.spi.WeaveBackend;
import java.util.Optional;

/**
 * The {@code ffm} backend, on {@code java.lang.foreign}. This class is Java 17 bytecode so that it
 * loads everywhere and reports "needs Java 22 or newer" on older JVMs; the primitives it adapts
 * are compiled for Java 22 and loaded only there.
 */
@AutoService(WeaveBackend.class)
public final class FfmBackend implements WeaveBackend {
  static final String NAME = "ffm";
  private static final int MINIMUM_JAVA = 22;
  private static final String PRIMITIVES_CLASS = "dev.weave.ffm.FfmPrimitives";

  private String unavailabilityReason;
  private DestructorRegistry registry;
  private boolean initialized;

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public int priority() {
    return 30;
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
      throw new WeaveException("weave backend 'ffm' is unusable here: " + unavailabilityReason);
    }
    return registry;
  }

  private void initialize() {
    if (initialized) {
      return;
    }
    initialized = true;
    int feature = Runtime.version().feature();
    if (feature < MINIMUM_JAVA) {
      unavailabilityReason = "needs Java " + MINIMUM_JAVA + " or newer (this is Java " + feature + ")";
      return;
    }
    String os = System.getProperty("os.name", "");
    if (!os.startsWith("Linux")) {
      unavailabilityReason = "needs Linux with glibc (this is " + os + ")";
      return;
    }
    try {
      NativePrimitives primitives =
          (NativePrimitives) Class.forName(PRIMITIVES_CLASS).getDeclaredConstructor().newInstance();
      registry = new Engine(NAME, primitives);
    } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
      Throwable cause = e.getCause() != null && e instanceof ReflectiveOperationException ? e.getCause() : e;
      // FfmPrimitives, in this module, makes the restricted calls: denied, it says which flag to add.
      unavailabilityReason =
          NativeAccess.denial(FfmBackend.class.getModule(), e)
              .orElse("native side failed to load: " + cause);
    }
  }
}
