package dev.weave.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.weave.Backend;
import dev.weave.Destructor;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.Weave;
import dev.weave.WeaveException;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.function.Executable;

/**
 * Rule 12, bad input: every refusal the rule lists, with the exception type and a message that
 * names the problem, and nothing registered or changed afterwards.
 */
final class BadInputCases {
  private BadInputCases() {}

  static List<TckCase> all() {
    return List.of(
        TckCase.of(
            "r12-bad-input",
            Rule.R12,
            "null, 0, closed, foreign slots and unknown backends are refused, with the problem named, and change nothing",
            BadInputCases::badInput),
        TckCase.of(
            "r12-unaligned-variable",
            Rule.R12,
            "a variable address not aligned to 8 bytes is refused, with the alignment named, and changes nothing",
            BadInputCases::unalignedVariable));
  }

  /**
   * The case that runs last of all: it hands out every other backend's registry, which {@code
   * Weave.runDestructors()} then also runs.
   */
  static TckCase otherBackendsSlot() {
    return TckCase.of(
        "r12-other-backend-slot",
        Rule.R12,
        "a slot of every other usable backend is refused",
        BadInputCases::otherBackendsSlots);
  }

  static void badInput(DestructorRegistry registry) throws Exception {
    ThreadLocalSlot closed = registry.newSlot();
    closed.close();
    ThreadLocalSlot foreign = new ForeignSlot();
    try (ThreadLocalSlot slot = registry.newSlot();
        NativeFixtures.Semaphore sem = new NativeFixtures.Semaphore()) {
      slot.set(sem.address());
      Destructor destructor = value -> fail("a destructor of a refused registration ran");
      expect(NullPointerException.class, "slot", () -> registry.register(null, value -> {}));
      expect(NullPointerException.class, "destructor", () -> registry.register(slot, null));
      expect(
          NullPointerException.class,
          "slot",
          () -> registry.registerNative((ThreadLocalSlot) null, NativeFixtures.SEM_POST));
      expect(NullPointerException.class, "slot", () -> registry.unregister((ThreadLocalSlot) null));
      expect(IllegalArgumentException.class, "function", () -> registry.registerNative(slot, 0));
      expect(
          IllegalArgumentException.class,
          "variable",
          () -> registry.registerNative(0, NativeFixtures.SEM_POST));
      expect(
          IllegalArgumentException.class,
          "function",
          () -> registry.registerNative(slot.cellAddress(), 0));
      expect(IllegalArgumentException.class, "variable", () -> registry.unregister(0));
      expect(
          IllegalArgumentException.class, "backend", () -> registry.register(foreign, destructor));
      expect(
          IllegalArgumentException.class,
          "backend",
          () -> registry.registerNative(foreign, NativeFixtures.SEM_POST));
      expect(IllegalArgumentException.class, "backend", () -> registry.unregister(foreign));
      expect(IllegalStateException.class, "closed", closed::get);
      expect(IllegalStateException.class, "closed", () -> closed.set(1));
      expect(IllegalStateException.class, "closed", closed::cellAddress);
      expect(IllegalStateException.class, "closed", () -> registry.register(closed, destructor));
      expect(
          IllegalStateException.class,
          "closed",
          () -> registry.registerNative(closed, NativeFixtures.SEM_POST));
      expect(IllegalStateException.class, "closed", () -> registry.unregister(closed));
      expect(WeaveException.class, "no-such-backend", () -> Weave.registry("no-such-backend"));
      String message =
          assertThrows(WeaveException.class, () -> Weave.registry("no-such-backend")).getMessage();
      assertTrue(
          message.contains(registry.backendName()),
          "the message lists the usable backends: " + message);
      expect(NullPointerException.class, "name", () -> Weave.registry(null));
      // nothing was registered by the failed calls, and the slot kept its value
      assertFalse(registry.unregister(slot), "a refused call left a registration");
      assertEquals(sem.address(), slot.get());
      Deaths.dieNative(
          registry,
          () -> {
            slot.set(sem.address());
            expect(
                IllegalArgumentException.class, "function", () -> registry.registerNative(slot, 0));
            expect(NullPointerException.class, "destructor", () -> registry.register(slot, null));
          });
      assertEquals(0, sem.value(), "a refused registration ran at thread death");
    }
  }

  /**
   * A variable's address must be aligned to 8 bytes, as a {@code void*} is: one that is not is
   * refused by {@code registerNative(variable, function)} and {@code unregister(variable)}, with
   * the alignment named, and nothing is registered. The function is {@code sigemptyset} and the
   * words around the addresses hold 0, so that a backend that takes the registration anyway calls
   * {@code sigemptyset(NULL)} at the thread's death, which does nothing, and the case fails, not
   * the JVM.
   */
  static void unalignedVariable(DestructorRegistry registry) throws Exception {
    try (NativeFixtures.Word word = new NativeFixtures.Word()) {
      Deaths.die(
          registry,
          () -> {
            for (int offset = 1; offset < Long.BYTES; offset++) {
              long unaligned = word.address() + offset;
              expect(
                  IllegalArgumentException.class,
                  "align",
                  () -> registry.registerNative(unaligned, NativeFixtures.SIGEMPTYSET));
              expect(IllegalArgumentException.class, "align", () -> registry.unregister(unaligned));
            }
            assertFalse(
                registry.unregister(word.address()),
                "a registration on the aligned word beside the refused addresses");
          });
    }
  }

  /**
   * A slot of another backend is refused. With one usable backend there is nothing to try, and the
   * case is skipped saying so.
   */
  static void otherBackendsSlots(DestructorRegistry registry) throws Exception {
    List<Backend> others =
        Weave.backends().stream()
            .filter(b -> b.available() && !b.name().equals(registry.backendName()))
            .toList();
    assumeTrue(
        !others.isEmpty(),
        "no other usable backend is on the class path, so no slot of another backend to offer; add one (weave-jna is one jar) to run this case");
    Destructor destructor = value -> fail("a destructor registered on another backend's slot ran");
    for (Backend other : others) {
      try (ThreadLocalSlot otherSlot = Weave.registry(other.name()).newSlot()) {
        otherSlot.set(1);
        for (Executable call :
            List.<Executable>of(
                () -> registry.register(otherSlot, destructor),
                () -> registry.registerNative(otherSlot, NativeFixtures.SEM_POST),
                () -> registry.unregister(otherSlot))) {
          Throwable thrown =
              assertThrows(
                  IllegalArgumentException.class, call, "a slot of backend " + other.name());
          String message = String.valueOf(thrown.getMessage());
          assertTrue(
              message.contains("backend")
                  && (message.contains(other.name())
                      || message.contains(otherSlot.getClass().getName())),
              "the message does not say the slot is " + other.name() + "'s: " + message);
        }
        assertEquals(1, otherSlot.get(), "the other backend's slot was changed");
      }
    }
  }

  private static void expect(Class<? extends Throwable> type, String mentioned, Executable call) {
    Throwable thrown = assertThrows(type, call);
    String message = String.valueOf(thrown.getMessage());
    assertTrue(
        message.toLowerCase(Locale.ROOT).contains(mentioned.toLowerCase(Locale.ROOT)),
        type.getSimpleName()
            + " message does not name the problem ('"
            + mentioned
            + "'): "
            + message);
  }

  /** A slot that no backend made. */
  private static final class ForeignSlot implements ThreadLocalSlot {
    @Override
    public long get() {
      return 0;
    }

    @Override
    public void set(long value) {}

    @Override
    public long cellAddress() {
      return 0;
    }

    @Override
    public DestructorRegistry registry() {
      return null;
    }

    @Override
    public void close() {}
  }
}
