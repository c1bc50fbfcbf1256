package dev.weave.jna;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.Weave;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;
import org.junit.jupiter.api.Test;

/**
 * JNA attaches a dying thread for the thread-death callback; it must detach it again, or every
 * death leaves a live thread behind.
 */
class ThreadCountTest {
  private static final int DEATHS = 1_000;
  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

  @Test
  void aThousandDeathsWithDestructorsLeaveTheThreadCountLevel() throws Exception {
    DestructorRegistry registry = Weave.registry("jna");
    try (ThreadLocalSlot slot = registry.newSlot(); Libc.Semaphore semaphore = new Libc.Semaphore()) {
      runThreads(registry, slot, semaphore, 20); // warm up: JIT, the walker key, JNA's stubs
      int liveBefore = settledCount(THREADS::getThreadCount, -1);
      int activeBefore = settledCount(Thread::activeCount, -1);
      long started = THREADS.getTotalStartedThreadCount();

      long nanos = runThreads(registry, slot, semaphore, DEATHS);

      int liveAfter = settledCount(THREADS::getThreadCount, liveBefore);
      int activeAfter = settledCount(Thread::activeCount, activeBefore);
      System.out.printf(
          Locale.ROOT,
          "weave-jna: %d deaths with a Java and a native destructor, %.1f us each (start to last"
              + " destructor); live threads %d -> %d, active %d -> %d; %d threads started%n",
          DEATHS,
          nanos / 1e3 / DEATHS,
          liveBefore,
          liveAfter,
          activeBefore,
          activeAfter,
          THREADS.getTotalStartedThreadCount() - started);
      assertEquals(liveBefore, liveAfter, "ThreadMXBean live thread count");
      assertEquals(activeBefore, activeAfter, "Thread.activeCount()");
    }
  }

  /** Starts and joins {@code count} threads, one at a time, and waits for all their destructors. */
  private static long runThreads(
      DestructorRegistry registry, ThreadLocalSlot slot, Libc.Semaphore semaphore, int count)
      throws InterruptedException {
    CountDownLatch destroyed = new CountDownLatch(count);
    long start = System.nanoTime();
    for (int i = 0; i < count; i++) {
      Thread thread =
          new Thread(
              () -> {
                slot.set(semaphore.address);
                registry.registerNative(slot, Libc.SEM_POST);
                registry.register(slot, value -> destroyed.countDown());
              },
              "death-" + i);
      thread.start();
      thread.join();
    }
    assertTrue(destroyed.await(60, TimeUnit.SECONDS), () -> destroyed.getCount() + " threads did not run their destructors");
    long elapsed = System.nanoTime() - start;
    assertEquals(count, semaphore.await(count, Duration.ofSeconds(10)), "native destructor calls");
    return elapsed;
  }

  /**
   * Polls until the count equals {@code expected} (or, with -1, stays put for a moment), with a
   * deadline: a dying thread may still be between its destructors and its detach.
   */
  private static int settledCount(IntSupplier count, int expected) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    int last = count.getAsInt();
    int stable = 0;
    while (System.nanoTime() < deadline) {
      Thread.onSpinWait();
      Thread.yield();
      int now = count.getAsInt();
      if (expected >= 0 ? now == expected : now == last && ++stable > 1000) {
        return now;
      }
      if (now != last) {
        stable = 0;
      }
      last = now;
    }
    return last;
  }
}
