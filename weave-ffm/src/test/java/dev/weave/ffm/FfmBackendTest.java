package dev.weave.ffm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weave.Backend;
import dev.weave.Weave;
import dev.weave.WeaveException;
import dev.weave.spi.NativePrimitives;
import dev.weave.spi.Platform;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * weave-ffm's build tests on a JDK with {@code java.lang.foreign} (its toolchain is Java 22+): if
 * ffm is unusable there, the build fails here, rather than the TCK skipping every ffm case.
 */
class FfmBackendTest {
  @Test
  void ffmIsUsableOnTheJdkThatTestsIt() {
    Backend ffm =
        Weave.backends().stream()
            .filter(b -> b.name().equals(FfmBackend.NAME))
            .findFirst()
            .orElseThrow(() -> new AssertionError("no ffm backend in " + Weave.backends()));
    assertTrue(
        ffm.available(),
        () ->
            "ffm is unusable on Java "
                + Runtime.version()
                + ", the JDK weave-ffm's build tests it with: "
                + ffm.unavailabilityReason());
    assertEquals(30, ffm.priority());
    assertEquals(FfmBackend.NAME, Weave.registry(FfmBackend.NAME).backendName());
    assertSame(
        Weave.registry(FfmBackend.NAME),
        Weave.registry(FfmBackend.NAME),
        "one registry per backend per JVM");
  }

  /**
   * Issue 18, contract rule 16: on macOS, Windows, musl and riscv64, which weave's CI does not run
   * the TCK on, ffm is unusable with the platform named; the unverified flag then lets the POSIX
   * ones through, never Windows.
   */
  @Test
  void unverifiedPlatformsAreRefusedByNameAndTheFlagLetsPosixOnesThrough() {
    Platform windows = Platform.of("Windows 11", "amd64", Platform.CLibrary.WINDOWS_CRT);
    List<Platform> posix =
        List.of(
            Platform.of("Mac OS X", "aarch64", Platform.CLibrary.LIBSYSTEM),
            Platform.of("Linux", "amd64", Platform.CLibrary.MUSL),
            Platform.of("Linux", "riscv64", Platform.CLibrary.GLIBC));
    for (Platform platform : List.of(posix.get(0), windows, posix.get(1), posix.get(2))) {
      FfmBackend backend = new FfmBackend(platform);
      String reason =
          backend
              .unavailabilityReason()
              .orElseThrow(() -> new AssertionError("ffm is usable on " + platform));
      assertTrue(reason.contains(platform.toString()), reason);
      WeaveException refused = assertThrows(WeaveException.class, backend::registry);
      assertTrue(refused.getMessage().contains(platform.toString()), refused.getMessage());
    }
    System.setProperty(Platform.UNVERIFIED_PROPERTY, "true");
    try {
      for (Platform platform : posix) {
        FfmBackend backend = new FfmBackend(platform);
        assertEquals(Optional.empty(), backend.unavailabilityReason(), platform.toString());
        assertEquals("ffm", backend.registry().backendName());
      }
      String reason = new FfmBackend(windows).unavailabilityReason().orElseThrow();
      assertTrue(reason.contains("Windows x86-64") && reason.contains("POSIX threads"), reason);
    } finally {
      System.clearProperty(Platform.UNVERIFIED_PROPERTY);
    }
  }

  /**
   * Issue 18: keys travel as long and are narrowed only by the platform's width; a key that does
   * not fit glibc's 4-byte {@code pthread_key_t} is refused, not cut to one that does.
   */
  @Test
  void aKeyWiderThanThePlatformsPthreadKeyIsRefusedNotTruncated() throws Exception {
    NativePrimitives primitives =
        (NativePrimitives)
            Class.forName("dev.weave.ffm.FfmPrimitives").getDeclaredConstructor().newInstance();
    long key = primitives.createKey(0);
    try {
      primitives.setKey(key, 42);
      long wide = key | (1L << 32);
      assertThrows(IllegalArgumentException.class, () -> primitives.getKey(wide));
      assertThrows(IllegalArgumentException.class, () -> primitives.setKey(wide, 7));
      assertThrows(IllegalArgumentException.class, () -> primitives.deleteKey(wide));
      assertEquals(42, primitives.getKey(key));
      primitives.setKey(key, 0);
    } finally {
      primitives.deleteKey(key);
    }
  }
}
