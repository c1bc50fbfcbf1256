package dev.weave.jna;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.jna.Native;
import com.sun.jna.Pointer;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.Weave;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** The backend end to end on plain threads: Java and native destructors, in order, at death. */
class SmokeTest {
  private static final DestructorRegistry REGISTRY = Weave.registry("jna");

  @Test
  void javaAndNativeDestructorsRunInOrderWithTheCurrentValues() throws Exception {
    List<String> calls = new CopyOnWriteArrayList<>();
    CountDownLatch done = new CountDownLatch(1);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicReference<String> destructorThread = new AtomicReference<>();
    try (Libc.Semaphore semaphore = new Libc.Semaphore();
        ThreadLocalSlot first = REGISTRY.newSlot();
        ThreadLocalSlot second = REGISTRY.newSlot()) {
      Thread thread =
          new Thread(
              () -> {
                try {
                  first.set(11);
                  second.set(semaphore.address);
                  REGISTRY.register(
                      first,
                      value -> {
                        calls.add("first " + value);
                        second.set(
                            semaphore.address); // unchanged: the native one still gets the sem_t
                        first.set(99);
                      });
                  REGISTRY.registerNative(second, Libc.SEM_POST);
                  REGISTRY.register(
                      second,
                      value -> calls.add("second " + value + " posts " + semaphore.value()));
                  REGISTRY.register(
                      first,
                      value -> {
                        calls.add("first again " + value);
                        destructorThread.set(Thread.currentThread().getName());
                        done.countDown();
                      });
                  assertEquals(11, first.get());
                  assertEquals(0, semaphore.value(), "nothing runs before death");
                } catch (Throwable t) {
                  failure.set(t);
                  done.countDown();
                }
              },
              "smoke");
      thread.start();
      thread.join();
      assertTrue(done.await(30, TimeUnit.SECONDS), "destructors did not run within 30 s");
      if (failure.get() != null) {
        throw new AssertionError(failure.get());
      }
      assertEquals(
          List.of("first 11", "second " + semaphore.address + " posts 1", "first again 99"), calls);
      assertEquals(1, semaphore.value());
      assertNotEquals(
          "smoke",
          destructorThread.get(),
          "a Java destructor runs re-attached, not as the dead Thread");
      assertEquals(0, first.get(), "the main thread's cell is its own");
    }
  }

  @Test
  void nativeFreeOnMallocdMemoryAndTheSeedForm() throws Exception {
    // A void** holding malloc'd memory, freed by libc free at death; then the slot form too.
    long variable = Libc.malloc(Long.BYTES);
    CountDownLatch done = new CountDownLatch(1);
    try (ThreadLocalSlot slot = REGISTRY.newSlot()) {
      Thread thread =
          new Thread(
              () -> {
                new Pointer(variable).setLong(0, Libc.malloc(1024));
                REGISTRY.registerNative(variable, Libc.FREE);
                slot.set(Libc.malloc(4096));
                REGISTRY.registerNative(slot, Libc.FREE);
                REGISTRY.register(slot, value -> done.countDown());
              });
      thread.start();
      thread.join();
      assertTrue(done.await(30, TimeUnit.SECONDS), "destructors did not run within 30 s");
    } finally {
      Native.free(variable);
    }
  }

  @Test
  void unregisteredDestructorsDoNotRun() throws Exception {
    List<Long> calls = new CopyOnWriteArrayList<>();
    CountDownLatch done = new CountDownLatch(1);
    try (Libc.Semaphore semaphore = new Libc.Semaphore();
        ThreadLocalSlot slot = REGISTRY.newSlot()) {
      AtomicReference<Boolean> removed = new AtomicReference<>();
      Thread thread =
          new Thread(
              () -> {
                slot.set(semaphore.address);
                REGISTRY.registerNative(slot, Libc.SEM_POST);
                REGISTRY.register(slot, calls::add);
                removed.set(REGISTRY.unregister(slot.cellAddress()));
                try (ThreadLocalSlot other = REGISTRY.newSlot()) {
                  REGISTRY.register(other, value -> done.countDown());
                  other.set(1);
                  // closing drops the registration without running it
                }
                ThreadLocalSlot last = REGISTRY.newSlot();
                REGISTRY.register(last, value -> done.countDown());
              });
      thread.start();
      thread.join();
      assertTrue(done.await(30, TimeUnit.SECONDS), "destructors did not run within 30 s");
      assertTrue(removed.get());
      assertEquals(List.of(), calls);
      assertEquals(0, semaphore.value());
      assertFalse(REGISTRY.unregister(slot), "main never registered");
    }
  }

  @Test
  void aThrowingDestructorDoesNotStopTheOthers() throws Exception {
    CountDownLatch done = new CountDownLatch(1);
    try (Libc.Semaphore semaphore = new Libc.Semaphore();
        ThreadLocalSlot slot = REGISTRY.newSlot()) {
      Thread thread =
          new Thread(
              () -> {
                slot.set(semaphore.address);
                REGISTRY.register(
                    slot,
                    value -> {
                      throw new IllegalStateException("thrown on purpose by a test destructor");
                    });
                REGISTRY.register(
                    slot,
                    value -> {
                      throw new StackOverflowError("an Error on purpose");
                    });
                REGISTRY.registerNative(slot, Libc.SEM_POST);
                REGISTRY.register(slot, value -> done.countDown());
              });
      thread.start();
      thread.join();
      assertTrue(done.await(30, TimeUnit.SECONDS), "destructors after a throwing one did not run");
      assertEquals(1, semaphore.await(1, Duration.ofSeconds(1)));
    }
  }
}
