package dev.weave.jna;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weave.Backend;
import dev.weave.Weave;
import dev.weave.WeaveException;
import dev.weave.spi.Platform;
import dev.weave.spi.WeaveBackend;
import java.util.List;
import java.util.Optional;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

class JnaBackendTest {
  @Test
  void jnaIsListedAndAvailable() {
    Backend jna =
        Weave.backends().stream()
            .filter(b -> b.name().equals("jna"))
            .findFirst()
            .orElseThrow(() -> new AssertionError("no jna backend in " + Weave.backends()));
    assertTrue(jna.available(), () -> "jna unavailable: " + jna.unavailabilityReason());
    assertEquals(null, jna.unavailabilityReason());
    assertEquals(10, jna.priority());
  }

  @Test
  void registryIsTheJnaEngine() {
    assertEquals("jna", Weave.registry("jna").backendName());
    assertTrue(Weave.registry("jna") == Weave.registry("jna"), "one registry per backend per JVM");
  }

  @Test
  void serviceLoaderFindsTheProvider() {
    JnaBackendTest.class.getModule().addUses(WeaveBackend.class); // patched into dev.weave.jna
    boolean found = false;
    for (WeaveBackend backend : ServiceLoader.load(WeaveBackend.class)) {
      found |= backend instanceof JnaBackend;
    }
    assertTrue(found, "JnaBackend is not registered as a WeaveBackend service");
  }

  /**
   * Issue 18, contract rule 16: on macOS, Windows, musl and riscv64, which weave's CI does not run
   * the TCK on, jna is unusable with the platform named; the unverified flag then lets the POSIX
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
      JnaBackend backend = new JnaBackend(platform);
      String reason =
          backend
              .unavailabilityReason()
              .orElseThrow(() -> new AssertionError("jna is usable on " + platform));
      assertTrue(reason.contains(platform.toString()), reason);
      WeaveException refused = assertThrows(WeaveException.class, backend::registry);
      assertTrue(refused.getMessage().contains(platform.toString()), refused.getMessage());
    }
    System.setProperty(Platform.UNVERIFIED_PROPERTY, "true");
    try {
      for (Platform platform : posix) {
        JnaBackend backend = new JnaBackend(platform);
        assertEquals(Optional.empty(), backend.unavailabilityReason(), platform.toString());
        assertEquals("jna", backend.registry().backendName());
      }
      String reason = new JnaBackend(windows).unavailabilityReason().orElseThrow();
      assertTrue(reason.contains("Windows x86-64") && reason.contains("POSIX threads"), reason);
    } finally {
      System.clearProperty(Platform.UNVERIFIED_PROPERTY);
    }
  }
}
