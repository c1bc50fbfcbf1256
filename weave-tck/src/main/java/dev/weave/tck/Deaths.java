package dev.weave.tck;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * Lets threads die and waits, with a deadline, until their destructors have run: a sentinel
 * destructor registered after the body's registrations runs after them, so its signal means they
 * are done. {@link Thread#join()} alone would not do: it may return before destructors run.
 */
final class Deaths {
  static final Duration TIMEOUT = Duration.ofSeconds(20);

  private Deaths() {}

  /** A body run on the thread that is about to die. */
  @FunctionalInterface
  interface Body {
    void run() throws Exception;
  }

  /** Runs {@code body} on a new platform thread, lets it die, waits for a Java sentinel. */
  static void die(DestructorRegistry registry, Body body) {
    CountDownLatch done = new CountDownLatch(1);
    try (ThreadLocalSlot sentinel = registry.newSlot()) {
      runAndJoin(
          () -> {
            body.run();
            registry.register(sentinel, value -> done.countDown());
          });
      await(done, "the thread's destructors");
    }
  }

  /**
   * Runs {@code body} on a new platform thread, lets it die, waits for a native sentinel ({@code
   * sem_post}), so that no Java destructor at all is registered unless the body registers one.
   */
  static void dieNative(DestructorRegistry registry, Body body) {
    try (ThreadLocalSlot sentinel = registry.newSlot();
        NativeFixtures.Semaphore done = new NativeFixtures.Semaphore()) {
      runAndJoin(
          () -> {
            body.run();
            sentinel.set(done.address());
            registry.registerNative(sentinel, NativeFixtures.SEM_POST);
          });
      assertTrue(done.await(TIMEOUT), "the thread's native destructors did not run within " + TIMEOUT);
    }
  }

  /** Runs {@code body} on a new platform thread and joins it; rethrows what the body threw. */
  static void runAndJoin(Body body) {
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread thread =
        new Thread(
            () -> {
              try {
                body.run();
              } catch (Throwable t) {
                failure.set(t);
              }
            },
            "weave-tck-dying");
    thread.start();
    join(thread);
    rethrow(failure.get());
  }

  static void join(Thread thread) {
    try {
      thread.join(TIMEOUT.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      fail("interrupted");
    }
    if (thread.isAlive()) {
      fail(thread.getName() + " did not finish within " + TIMEOUT);
    }
  }

  static void await(CountDownLatch latch, String what) {
    try {
      assertTrue(latch.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS), what + " did not run within " + TIMEOUT);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      fail("interrupted");
    }
  }

  static void rethrow(Throwable failure) {
    if (failure instanceof Error) {
      throw (Error) failure;
    }
    if (failure != null) {
      throw new AssertionError("the dying thread's body failed: " + failure, failure);
    }
  }

  /** The JVM's live thread count, attached native threads included. */
  static int liveThreads() {
    return ManagementFactory.getThreadMXBean().getThreadCount();
  }

  /**
   * Waits until the live thread count is at most {@code baseline}: a thread attached for its
   * destructors is detached only after they have returned.
   */
  static void awaitLiveThreadsAtMost(int baseline) {
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    int live;
    while ((live = liveThreads()) > baseline) {
      if (System.nanoTime() > deadline) {
        fail("live thread count stayed at " + live + ", above the baseline " + baseline + ": dying threads were left attached");
      }
      LockSupport.parkNanos(1_000_000);
    }
  }
}
