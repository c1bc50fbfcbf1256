package dev.weave.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.logging.Level;

/**
 * Rule 6, a throwing Java destructor: it is logged, and the destructors after it still run. Rule
 * 13's {@code r13-error-isolation} runs the same destructors with {@code runDestructors()}.
 */
final class ThrowingDestructorCases {
  private ThrowingDestructorCases() {}

  static List<TckCase> all() {
    return List.of(
        TckCase.of(
            "r06-throwing-destructor",
            Rule.R6,
            "a throwing Java destructor is logged and the rest still run, whatever its place",
            ThrowingDestructorCases::throwingDestructor));
  }

  static void throwingDestructor(DestructorRegistry registry) throws Exception {
    Throwers throwers = new Throwers("at death");
    try (ThreadLocalSlot slot = registry.newSlot();
        NativeFixtures.Semaphore sem = new NativeFixtures.Semaphore();
        LogCapture log = new LogCapture()) {
      Deaths.die(registry, () -> throwers.register(registry, slot, sem));
      assertEquals(Throwers.RAN, throwers.calls, Throwers.WHAT);
      throwers.awaitLogged(log);
    }
  }

  /**
   * Throwing destructors in several places, each followed by one that counts: first of all, a
   * {@link RuntimeException} and then an {@link Error} with one counting destructor between them,
   * one before a native destructor, and one before the last destructor. A walk that stops, or skips
   * the destructor after a throwing one, leaves a gap in {@link #calls}.
   */
  static final class Throwers {
    /** What the destructors that do not throw record, in order, when every one of them ran. */
    static final List<String> RAN =
        List.of(
            "after the first throw",
            "the next one",
            "after the Error",
            "after the native one: posted=1",
            "after the last throw");

    static final String WHAT =
        "the destructors that do not throw, each after one that does (the native one between the"
            + " third throw and the fourth posts once)";

    final List<String> calls = Collections.synchronizedList(new ArrayList<>());
    private final List<Throwable> thrown;

    Throwers(String when) {
      thrown =
          List.of(
              new IllegalStateException("thrown by the first TCK destructor " + when),
              new AssertionError("an Error from a TCK destructor " + when),
              new IllegalArgumentException(
                  "thrown by a TCK destructor before a native one " + when),
              new UnsupportedOperationException(
                  "thrown by a TCK destructor before the last " + when));
    }

    /** Registers them on the calling thread, on {@code slot}, which comes to hold sem's address. */
    void register(DestructorRegistry registry, ThreadLocalSlot slot, NativeFixtures.Semaphore sem) {
      slot.set(sem.address());
      registry.register(slot, value -> rethrow(thrown.get(0)));
      registry.register(slot, value -> calls.add("after the first throw"));
      registry.register(slot, value -> calls.add("the next one"));
      registry.register(slot, value -> rethrow(thrown.get(1)));
      registry.register(slot, value -> calls.add("after the Error"));
      registry.register(slot, value -> rethrow(thrown.get(2)));
      registry.registerNative(slot, NativeFixtures.SEM_POST);
      registry.register(slot, value -> calls.add("after the native one: posted=" + sem.value()));
      registry.register(slot, value -> rethrow(thrown.get(3)));
      registry.register(slot, value -> calls.add("after the last throw"));
    }

    /** Waits until each thrown exception and error was logged on {@code dev.weave}. */
    void awaitLogged(LogCapture log) {
      for (Throwable t : thrown) {
        log.await(
            "record of " + t,
            r -> r.getThrown() == t && r.getLevel().intValue() >= Level.WARNING.intValue(),
            Deaths.TIMEOUT);
      }
    }

    private static void rethrow(Throwable t) {
      if (t instanceof Error) {
        throw (Error) t;
      }
      throw (RuntimeException) t;
    }
  }
}
