package dev.weave.jna;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.Weave;
import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * JNA frees a callback's native stub when the Java callback object is collected. The thread-death
 * callback must survive any number of collections between registration and death.
 */
class GcTest {
  private static final int THREADS = 8;

  @Test
  void destructorsRunAfterCollectionsBetweenRegistrationAndDeath() throws Exception {
    DestructorRegistry registry = Weave.registry("jna");
    CountDownLatch registered = new CountDownLatch(THREADS);
    CountDownLatch die = new CountDownLatch(1);
    CountDownLatch destroyed = new CountDownLatch(THREADS);
    AtomicLong sum = new AtomicLong();
    try (Libc.Semaphore semaphore = new Libc.Semaphore();
        ThreadLocalSlot slot = registry.newSlot()) {
      List<Thread> threads = new ArrayList<>();
      for (int i = 0; i < THREADS; i++) {
        long value = i + 1;
        Thread thread =
            new Thread(
                () -> {
                  slot.set(value);
                  registry.register(
                      slot,
                      v -> {
                        sum.addAndGet(v);
                        slot.set(semaphore.address);
                      });
                  registry.registerNative(slot, Libc.SEM_POST);
                  registry.register(slot, v -> destroyed.countDown());
                  registered.countDown();
                  awaitQuietly(die);
                });
        thread.start();
        threads.add(thread);
      }
      assertTrue(registered.await(30, TimeUnit.SECONDS));
      collectGarbage();
      die.countDown();
      for (Thread thread : threads) {
        thread.join();
      }
      assertTrue(destroyed.await(30, TimeUnit.SECONDS), "destructors did not run after GC");
      assertEquals(THREADS * (THREADS + 1) / 2, sum.get());
      assertEquals(THREADS, semaphore.await(THREADS, Duration.ofSeconds(5)));
    }
    // And a thread that registers after the collections, with a fresh slot, still works.
    collectGarbage();
    CountDownLatch after = new CountDownLatch(1);
    Thread late = new Thread(() -> registry.register(registry.newSlot(), v -> after.countDown()));
    late.start();
    late.join();
    assertTrue(after.await(30, TimeUnit.SECONDS));
  }

  /** Collects until a fresh weakly reachable object is gone, a few times over. */
  private static void collectGarbage() {
    for (int round = 0; round < 3; round++) {
      WeakReference<Object> probe = new WeakReference<>(new Object());
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (probe.get() != null && System.nanoTime() < deadline) {
        System.gc();
        byte[][] garbage = new byte[64][];
        for (int i = 0; i < garbage.length; i++) {
          garbage[i] = new byte[16 * 1024];
        }
      }
      System.runFinalization();
    }
  }

  private static void awaitQuietly(CountDownLatch latch) {
    try {
      latch.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
