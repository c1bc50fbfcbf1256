package dev.weave.ffm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weave.Backend;
import dev.weave.Weave;
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
}
