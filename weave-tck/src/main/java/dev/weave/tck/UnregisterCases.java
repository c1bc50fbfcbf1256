package dev.weave.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weave.Destructor;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Rule 3, unregister: it removes every registration of the calling thread on a variable, says
 * whether there was one, and leaves other threads' alone (the seed's cases 2, 4 and 5 are in {@link
 * SeedCases}).
 */
final class UnregisterCases {
  private UnregisterCases() {}

  static List<TckCase> all() {
    return List.of(
        TckCase.of(
            "r03-unregister-per-thread",
            Rule.R3,
            "unregister removes all of the calling thread's registrations on a variable, no other thread's",
            UnregisterCases::unregisterIsPerThread),
        TckCase.of(
            "r03-slot-and-cell",
            Rule.R3,
            "unregister by slot and by cell address are the same",
            UnregisterCases::slotAndCellAreOneVariable),
        TckCase.of(
            "r03-same-destructor-twice",
            Rule.R3,
            "unregister removes every registration of one Destructor object on a variable",
            UnregisterCases::sameDestructorTwice));
  }

  static void unregisterIsPerThread(DestructorRegistry registry) throws Exception {
    AtomicInteger mainCalls = new AtomicInteger();
    AtomicInteger threadCalls = new AtomicInteger();
    AtomicInteger helperCalls = new AtomicInteger();
    try (ThreadLocalSlot slot = registry.newSlot();
        ThreadLocalSlot other = registry.newSlot();
        NativeFixtures.Semaphore helperSem = new NativeFixtures.Semaphore()) {
      registry.register(slot, value -> mainCalls.incrementAndGet());
      boolean helperExited;
      // a live thread's registrations on the same slot must survive another thread's unregister
      try (Deaths.Helper helper =
          Deaths.Helper.start(
              "weave-tck-helper",
              () -> {
                slot.set(helperSem.address());
                registry.register(slot, value -> helperCalls.incrementAndGet());
                registry.registerNative(slot, NativeFixtures.SEM_POST);
              },
              () -> {})) {
        helper.awaitReady();
        Deaths.die(
            registry,
            () -> {
              assertFalse(
                  registry.unregister(slot), "the thread has no registration of its own yet");
              registry.register(slot, value -> threadCalls.incrementAndGet());
              registry.register(slot, value -> threadCalls.incrementAndGet());
              registry.register(other, value -> threadCalls.addAndGet(100));
              assertTrue(registry.unregister(slot), "two registrations on slot");
              assertFalse(registry.unregister(slot), "both went at once");
            });
        helperExited = helper.finish();
      }
      assertTrue(
          helperSem.await(helperExited ? Duration.ZERO : Deaths.TIMEOUT),
          "the helper thread's native registration on the slot did not run at its death: another thread's unregister removed it");
      assertEquals(100, threadCalls.get(), "only the registration on the other slot ran");
      assertEquals(
          1, helperCalls.get(), "the helper thread's Java registration on the slot, at its death");
      assertEquals(0, mainCalls.get());
      assertTrue(registry.unregister(slot), "the test thread's registration was untouched");
      assertFalse(registry.unregister(slot));
    }
  }

  static void slotAndCellAreOneVariable(DestructorRegistry registry) throws Exception {
    AtomicInteger calls = new AtomicInteger();
    try (ThreadLocalSlot slot = registry.newSlot();
        NativeFixtures.Semaphore sem = new NativeFixtures.Semaphore()) {
      Deaths.die(
          registry,
          () -> {
            long cell = slot.cellAddress();
            assertEquals(cell, slot.cellAddress(), "a cell's address is stable");
            slot.set(sem.address());
            registry.registerNative(cell, NativeFixtures.SEM_POST);
            registry.register(slot, value -> calls.incrementAndGet());
            assertTrue(
                registry.unregister(slot),
                "unregister(slot) removes a registration made on its cell address");
            assertFalse(registry.unregister(cell));
            registry.registerNative(slot, NativeFixtures.SEM_POST);
            registry.register(slot, value -> calls.incrementAndGet());
            assertTrue(
                registry.unregister(cell),
                "unregister(cell) removes registrations made on the slot");
            assertFalse(registry.unregister(slot));
            registry.registerNative(slot, NativeFixtures.SEM_POST);
          });
      assertEquals(1, sem.value(), "only the last registration ran");
      assertEquals(0, calls.get());
    }
  }

  /**
   * One {@link Destructor} object registered several times on a variable, and once on another:
   * {@code unregister} removes all of it on the first variable and none on the other.
   */
  static void sameDestructorTwice(DestructorRegistry registry) throws Exception {
    List<String> calls = Collections.synchronizedList(new ArrayList<>());
    Destructor same = value -> calls.add("same=" + value);
    try (ThreadLocalSlot a = registry.newSlot();
        ThreadLocalSlot b = registry.newSlot()) {
      Deaths.die(
          registry,
          () -> {
            a.set(1);
            b.set(2);
            registry.register(a, same);
            registry.register(b, same);
            registry.register(a, same);
            registry.register(a, same);
            assertTrue(registry.unregister(a), "three registrations of one Destructor on a");
            assertFalse(registry.unregister(a), "unregister(a) removed them all at once");
            registry.register(a, same);
          });
      assertEquals(
          List.of("same=2", "same=1"),
          calls,
          "the registration on b, then the one on a made after unregister(a)");
    }
  }
}
