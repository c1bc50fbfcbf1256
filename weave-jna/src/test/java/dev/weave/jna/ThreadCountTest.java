package dev.weave.jna;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.Weave;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * JNA attaches a dying thread for the thread-death callback; it must detach it again, or every
 * death leaves a live thread behind. Only the threads this work could leave are compared: the dying
 * threads and JNA's unnamed attachments ({@code Thread-N}) that were not there before. The JVM's
 * own housekeeping threads (the process reaper after a child JVM, threads it starts lazily) may
 * come and go meanwhile; the JVM's live thread count is printed, not compared.
 */
class ThreadCountTest {
  private static final int DEATHS = 1_000;
  private static final String NAME_PREFIX = "weave-jna-death-";
  private static final Pattern LEFT_BY_THIS_WORK =
      Pattern.compile(Pattern.quote(NAME_PREFIX) + "\\d+|Thread-\\d+");
  private static final Duration DEADLINE = Duration.ofSeconds(30);
  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

  @Test
  void aThousandDeathsWithDestructorsLeaveNoThreadBehind() throws Exception {
    DestructorRegistry registry = Weave.registry("jna");
    try (ThreadLocalSlot slot = registry.newSlot();
        Libc.Semaphore semaphore = new Libc.Semaphore()) {
      runThreads(registry, slot, semaphore, 20); // warm up: JIT, the walker key, JNA's stubs
      Set<Thread> before = Set.copyOf(Thread.getAllStackTraces().keySet());
      int liveBefore = THREADS.getThreadCount();
      long started = THREADS.getTotalStartedThreadCount();

      long nanos = runThreads(registry, slot, semaphore, DEATHS);
      List<String> left = awaitNoneLeftSince(before);

      System.out.printf(
          Locale.ROOT,
          "weave-jna: %d deaths with a Java and a native destructor, %.1f us each (start to last"
              + " destructor); threads left: %d; JVM live threads %d -> %d (housekeeping included);"
              + " %d threads started%n",
          DEATHS,
          nanos / 1e3 / DEATHS,
          left.size(),
          liveBefore,
          THREADS.getThreadCount(),
          THREADS.getTotalStartedThreadCount() - started);
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
              NAME_PREFIX + i);
      thread.start();
      thread.join();
    }
    assertTrue(
        destroyed.await(60, TimeUnit.SECONDS),
        () -> destroyed.getCount() + " threads did not run their destructors");
    long elapsed = System.nanoTime() - start;
    assertEquals(count, semaphore.await(count, Duration.ofSeconds(10)), "native destructor calls");
    return elapsed;
  }

  /**
   * Polls until no thread this work could leave is alive, failing at the deadline with their names:
   * a dying thread may still be between its last destructor and JNA's detach.
   */
  private static List<String> awaitNoneLeftSince(Set<Thread> before) {
    long deadline = System.nanoTime() + DEADLINE.toNanos();
    List<String> left;
    while (!(left = leftSince(before)).isEmpty()) {
      if (System.nanoTime() - deadline > 0) {
        fail(left.size() + " thread(s) still alive " + DEADLINE + " after the deaths: " + left);
      }
      LockSupport.parkNanos(Duration.ofMillis(5).toNanos());
    }
    return left;
  }

  private static List<String> leftSince(Set<Thread> before) {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(
            thread ->
                !before.contains(thread) && LEFT_BY_THIS_WORK.matcher(thread.getName()).matches())
        .map(Thread::getName)
        .sorted()
        .collect(Collectors.toList());
  }
}
