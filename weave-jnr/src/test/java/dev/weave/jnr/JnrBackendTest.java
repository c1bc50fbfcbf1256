package dev.weave.jnr;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
}
