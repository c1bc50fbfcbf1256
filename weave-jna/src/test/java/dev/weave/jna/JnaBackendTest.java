package dev.weave.jna;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weave.Backend;
import dev.weave.Weave;
import dev.weave.spi.WeaveBackend;
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
}
