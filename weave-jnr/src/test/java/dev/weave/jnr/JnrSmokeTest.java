package dev.weave.jnr;

import static dev.weave.jnr.Fixtures.LIBC;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.weave.Backend;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.Weave;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** The jnr backend through the public API, on plain platform threads. */
class JnrSmokeTest {
  private final DestructorRegistry registry = Weave.registry("jnr");

  @Test
  void isDiscoveredAndAvailable() {
    Backend jnr =
        Weave.backends().stream().filter(b -> b.name().equals("jnr")).findFirst().orElse(null);
    assertNotNull(jnr, "jnr missing from " + Weave.backends());
    assertTrue(jnr.available(), "jnr unavailable: " + jnr.unavailabilityReason());
    assertEquals(20, jnr.priority());
    assertEquals("jnr", registry.backendName());
  }

  @Test
  void javaDestructorGetsTheValueOnTheDyingThread() throws Exception {
    try (ThreadLocalSlot slot = registry.newSlot()) {
      CountDownLatch ran = new CountDownLatch(1);
      AtomicReference<Long> seen = new AtomicReference<>();
      AtomicReference<Thread> dying = new AtomicReference<>();
      AtomicReference<Thread> destructorThread = new AtomicReference<>();
      Fixtures.runAndJoin(
          () -> {
            dying.set(Thread.currentThread());
            slot.set(42);
            registry.register(
                slot,
                value -> {
                  seen.set(value);
                  destructorThread.set(Thread.currentThread());
                  ran.countDown();
                });
          });
      Fixtures.await(ran, "the Java destructor");
      assertEquals(42L, seen.get());
      assertTrue(
          destructorThread.get() != dying.get(), "the destructor ran on the dead Thread object");
      assertEquals(0, slot.get(), "the slot's value leaked to the main thread");
    }
  }

  @Test
  void nativeDestructorsRunInOrderWithTheirValues() throws Exception {
    try (ThreadLocalSlot slot = registry.newSlot();
        Fixtures.Semaphore posted = new Fixtures.Semaphore()) {
      long variable = LIBC.calloc(1, Long.BYTES);
      long buffer = LIBC.malloc(1024);
      CountDownLatch ran = new CountDownLatch(1);
      List<Integer> semaphoreBeforeJava = new CopyOnWriteArrayList<>();
      try {
        Fixtures.runAndJoin(
            () -> {
              // the slot form: sem_post(the slot's value)
              slot.set(posted.address);
              registry.registerNative(slot, Fixtures.SEM_POST);
              // the seed form: free(*variable) on malloc'd memory
              new JnrPrimitives().putWord(variable, buffer);
              registry.registerNative(variable, Fixtures.FREE);
              // the seed form again on the slot's cell: the same registration key as the slot
              registry.registerNative(slot.cellAddress(), Fixtures.SEM_POST);
              registry.register(
                  slot,
                  value -> {
                    semaphoreBeforeJava.add(posted.value());
                    ran.countDown();
                  });
            });
        Fixtures.await(ran, "the destructors");
        assertEquals(
            List.of(2), semaphoreBeforeJava, "both sem_posts ran before the later Java destructor");
        assertEquals(2, posted.value());
      } finally {
        LIBC.free(variable);
      }
    }
  }

  @Test
  void unregisterOnAnotherThreadLeavesTheOthers() throws Exception {
    try (ThreadLocalSlot slot = registry.newSlot();
        Fixtures.Semaphore posted = new Fixtures.Semaphore()) {
      CountDownLatch ran = new CountDownLatch(1);
      Fixtures.runAndJoin(
          () -> {
            slot.set(posted.address);
            registry.registerNative(slot, Fixtures.SEM_POST);
            assertTrue(registry.unregister(slot.cellAddress()));
            assertFalse(registry.unregister(slot));
            registry.register(slot, value -> ran.countDown());
          });
      Fixtures.await(ran, "the Java destructor");
      assertEquals(0, posted.value(), "an unregistered native destructor ran");
    }
  }

  @Test
  void throwingJavaDestructorDoesNotStopTheOthers() throws Exception {
    try (ThreadLocalSlot slot = registry.newSlot()) {
      CountDownLatch ran = new CountDownLatch(2);
      Fixtures.runAndJoin(
          () -> {
            registry.register(slot, value -> ran.countDown());
            registry.register(
                slot,
                value -> {
                  throw new IllegalStateException("thrown on purpose by a test destructor");
                });
            registry.register(
                slot,
                value -> {
                  throw new StackOverflowError("thrown on purpose by a test destructor");
                });
            registry.register(slot, value -> ran.countDown());
          });
      Fixtures.await(ran, "the destructors around the throwing ones");
    }
  }

  @Test
  void virtualThreadsAreRefused() throws Exception {
    assumeTrue(Runtime.version().feature() >= 21, "no virtual threads before Java 21");
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    Runnable body =
        () -> {
          try {
            registry.newSlot();
          } catch (Throwable t) {
            thrown.set(t);
          }
        };
    Thread virtual =
        (Thread) Thread.class.getMethod("startVirtualThread", Runnable.class).invoke(null, body);
    virtual.join();
    assertTrue(thrown.get() instanceof IllegalStateException, "got " + thrown.get());
    assertTrue(thrown.get().getMessage().contains("virtual thread"), thrown.get().getMessage());
  }
}
