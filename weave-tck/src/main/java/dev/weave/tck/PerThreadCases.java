package dev.weave.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Rule 1, per thread: a registration belongs to the thread that made it, and only that thread's
 * death runs it (the seed's case 7 is in {@link SeedCases}).
 */
final class PerThreadCases {
  private PerThreadCases() {}

  static List<TckCase> all() {
    return List.of(
        TckCase.of(
            "r01-per-thread-java",
            Rule.R1,
            "only the registering thread's death runs its registrations (Java destructors)",
            PerThreadCases::perThread),
        TckCase.of(
            "r01-per-thread-native",
            Rule.R1,
            "only the registering thread's death runs its registrations (native destructors)",
            PerThreadCases::perThreadNative),
        TckCase.of(
            "r01-reattached-thread",
            Rule.R1,
            "a native thread that detaches and attaches again keeps its cells and registrations",
            PerThreadCases::reattachedThread));
  }

  static void perThread(DestructorRegistry registry) throws Exception {
    AtomicInteger mainCalls = new AtomicInteger();
    AtomicInteger firstCalls = new AtomicInteger();
    AtomicInteger secondCalls = new AtomicInteger();
    try (ThreadLocalSlot slot = registry.newSlot()) {
      registry.register(slot, value -> mainCalls.incrementAndGet());
      try (Deaths.Helper second =
          Deaths.Helper.start(
              "weave-tck-live",
              () -> registry.register(slot, value -> secondCalls.incrementAndGet()),
              () -> {})) {
        second.awaitReady();
        Deaths.die(registry, () -> registry.register(slot, value -> firstCalls.incrementAndGet()));
        assertEquals(1, firstCalls.get(), "the dead thread's destructor");
        assertEquals(
            0, secondCalls.get(), "a live thread's destructor ran when another thread died");
        assertEquals(
            0, mainCalls.get(), "the test thread's destructor ran when another thread died");
        // every destructor the second thread runs has run once its OS thread has exited
        if (!second.finish()) {
          Deaths.awaitCount(secondCalls, 1, "the second thread's destructor");
        }
      }
      assertEquals(1, secondCalls.get(), "the second thread's destructor, after its death");
      assertEquals(1, firstCalls.get(), "the first thread's destructor ran again");
      assertEquals(0, mainCalls.get());
      assertTrue(registry.unregister(slot), "the test thread's registration is still there");
    }
  }

  static void perThreadNative(DestructorRegistry registry) throws Exception {
    try (ThreadLocalSlot slot = registry.newSlot();
        NativeFixtures.Semaphore mainSem = new NativeFixtures.Semaphore();
        NativeFixtures.Semaphore threadSem = new NativeFixtures.Semaphore()) {
      slot.set(mainSem.address());
      registry.registerNative(slot, NativeFixtures.SEM_POST);
      Deaths.dieNative(
          registry,
          () -> {
            slot.set(threadSem.address());
            registry.registerNative(slot, NativeFixtures.SEM_POST);
          });
      assertEquals(1, threadSem.value(), "the dead thread's native destructor");
      assertEquals(
          0, mainSem.value(), "the test thread's native destructor ran when another thread died");
      assertTrue(registry.unregister(slot));
    }
  }

  static void reattachedThread(DestructorRegistry registry) throws Exception {
    List<String> calls = Collections.synchronizedList(new ArrayList<>());
    CountDownLatch done = new CountDownLatch(1);
    AtomicReference<Thread> firstThread = new AtomicReference<>();
    AtomicLong firstCell = new AtomicLong();
    try (ThreadLocalSlot slot = registry.newSlot();
        ThreadLocalSlot other = registry.newSlot();
        ThreadLocalSlot last = registry.newSlot();
        NativeFixtures.Semaphore sem = new NativeFixtures.Semaphore()) {
      NativeFixtures.runAttachedTwice(
          () -> {
            firstThread.set(Thread.currentThread());
            slot.set(1);
            firstCell.set(slot.cellAddress());
            registry.register(slot, value -> calls.add("first=" + value));
            registry.register(other, value -> calls.add("unregistered ran"));
            other.set(sem.address());
            registry.registerNative(other, NativeFixtures.SEM_POST);
          },
          () -> {
            assertNotSame(
                firstThread.get(),
                Thread.currentThread(),
                "the second callback ran in the same attachment");
            assertEquals(1, slot.get(), "the slot's value set in the first attachment");
            assertEquals(
                firstCell.get(), slot.cellAddress(), "the slot's cell in the first attachment");
            assertTrue(
                registry.unregister(other), "unregister sees the first attachment's registrations");
            slot.set(2);
            registry.register(slot, value -> calls.add("second=" + value));
            registry.register(last, value -> done.countDown());
          });
      Deaths.await(done, "the destructors of the re-attached thread");
      assertEquals(List.of("first=2", "second=2"), calls);
      assertEquals(
          0, sem.value(), "a native registration unregistered in the second attachment ran");
    }
  }
}
