package dev.weave.ffm;

import com.google.auto.service.AutoService;
import dev.weave.spi.Diagnostics;
import dev.weave.spi.LoadingBackend;
import dev.weave.spi.NativeAccess;
import dev.weave.spi.NativePrimitives;
import dev.weave.spi.Platform;
import dev.weave.spi.WeaveBackend;
import java.util.Optional;

/**
 * The {@code ffm} backend, on {@code java.lang.foreign}. This class is Java 17 bytecode so that it
 * loads everywhere and reports "needs Java 22 or newer" on older JVMs; the primitives it adapts are
 * compiled for Java 22 and loaded only there.
 */
@AutoService(WeaveBackend.class)
public final class FfmBackend extends LoadingBackend {
  static final String NAME = "ffm";
  private static final int MINIMUM_JAVA = 22;
  private static final String PRIMITIVES_CLASS = "dev.weave.ffm.FfmPrimitives";

  /** For {@link java.util.ServiceLoader}; loads nothing native. */
  public FfmBackend() {
    super(NAME, 30);
  }

  /** Judges availability by {@code platform} instead of this one: for tests. */
  FfmBackend(Platform platform) {
    super(NAME, 30, platform);
  }

  @Override
  protected Optional<String> precondition() {
    int feature = Runtime.version().feature();
    if (feature < MINIMUM_JAVA) {
      return Optional.of("needs Java " + MINIMUM_JAVA + " or newer (this is Java " + feature + ")");
    }
    return super.precondition();
  }

  @Override
  protected NativePrimitives loadPrimitives() throws Exception {
    return (NativePrimitives)
        Class.forName(PRIMITIVES_CLASS).getDeclaredConstructor().newInstance();
  }

  @Override
  protected String explain(Throwable failure) {
    // FfmPrimitives, in this module, makes the restricted calls: denied, it says which flag to add.
    return NativeAccess.denial(FfmBackend.class.getModule(), failure)
        .orElse("native side failed to load: " + Diagnostics.causes(failure));
  }
}
