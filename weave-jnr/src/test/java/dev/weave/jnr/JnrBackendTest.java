package dev.weave.jnr;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weave.WeaveException;
import dev.weave.spi.Platform;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class JnrBackendTest {
  @Test
  void providerReportsItself() {
    JnrBackend backend = new JnrBackend();
    assertEquals("jnr", backend.name());
    assertEquals(20, backend.priority());
    assertEquals(java.util.Optional.empty(), backend.unavailabilityReason());
    assertEquals("jnr", backend.registry().backendName());
  }

  @Test
  void reasonIsOneLine() {
    // how jffi reports a missing native library: the message repeats the type and holds a stack
    // trace
    UnsatisfiedLinkError inner =
        new UnsatisfiedLinkError(
            "java.lang.UnsatisfiedLinkError: could not locate stub library in jar file.  Tried [jni/x]\n\tat com.kenai.jffi.internal.StubLoader.load(StubLoader.java:338)");
    ExceptionInInitializerError outer = new ExceptionInInitializerError(inner);
    String reason = JnrBackend.describe(outer);
    assertTrue(
        reason.startsWith(
            "UnsatisfiedLinkError: could not locate stub library in jar file.  Tried [jni/x] (is com.github.jnr:jffi"),
        reason);
    assertTrue(!reason.contains("\n"), reason);
  }

  /**
   * Issue 18, contract rule 16: on macOS, Windows, musl and riscv64, which weave's CI does not run
   * the TCK on, jnr is unusable with the platform named; the unverified flag then lets the POSIX
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
      JnrBackend backend = new JnrBackend(platform);
      String reason =
          backend
              .unavailabilityReason()
              .orElseThrow(() -> new AssertionError("jnr is usable on " + platform));
      assertTrue(reason.contains(platform.toString()), reason);
      WeaveException refused = assertThrows(WeaveException.class, backend::registry);
      assertTrue(refused.getMessage().contains(platform.toString()), refused.getMessage());
    }
    System.setProperty(Platform.UNVERIFIED_PROPERTY, "true");
    try {
      for (Platform platform : posix) {
        JnrBackend backend = new JnrBackend(platform);
        assertEquals(Optional.empty(), backend.unavailabilityReason(), platform.toString());
        assertEquals("jnr", backend.registry().backendName());
      }
      String reason = new JnrBackend(windows).unavailabilityReason().orElseThrow();
      assertTrue(reason.contains("Windows x86-64") && reason.contains("POSIX threads"), reason);
    } finally {
      System.clearProperty(Platform.UNVERIFIED_PROPERTY);
    }
  }
}
