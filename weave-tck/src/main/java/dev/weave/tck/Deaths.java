package dev.weave.tck;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * Lets threads die and waits, with a deadline, until their destructors have run. {@link
 * Thread#join()} alone would not do: it returns before destructors run. Where {@code /proc} shows
 * the process's threads (Linux), the wait is for the dying OS thread to exit, which it does only
 * after every destructor has returned, whatever order a backend runs them in; a sentinel destructor
 * registered after the body's registrations must then have run too. Elsewhere the sentinel's signal
 * is what is waited for.
 */
final class Deaths {

  static final Duration TIMEOUT =
      Duration.ofSeconds(Long.getLong(WeaveTckTest.TIMEOUT_SECONDS, 20));

  /** How long {@link #awaitLiveThreadsAtMost} waits for the thread count to go down at all. */
  static final Duration STALL = Duration.ofSeconds(5);

  private Deaths() {}

  /** A body run on the thread that is about to die. */
  @FunctionalInterface
  interface Body {
    void run() throws Exception;
  }

  /**
   * Runs {@code body} on a new platform thread, lets it die, and checks that a Java sentinel,
   * registered after the body's registrations, ran.
   */
  static void die(DestructorRegistry registry, Body body) {
    CountDownLatch done = new CountDownLatch(1);
    try (ThreadLocalSlot sentinel = registry.newSlot()) {
      boolean exited =
          runAndJoin(
              () -> {
                body.run();
                registry.register(sentinel, value -> done.countDown());
              });
      await(done, "the thread's destructors", exited);
    }
  }

  /**
   * Runs {@code body} on a new platform thread, lets it die, and checks that a native sentinel
   * ({@code sem_post}) ran, so that no Java destructor at all is registered unless the body
   * registers one.
   */
  static void dieNative(DestructorRegistry registry, Body body) {
    try (ThreadLocalSlot sentinel = registry.newSlot();
        NativeFixtures.Semaphore done = new NativeFixtures.Semaphore()) {
      boolean exited =
          runAndJoin(
              () -> {
                body.run();
                sentinel.set(done.address());
                registry.registerNative(sentinel, NativeFixtures.SEM_POST);
              });
      assertTrue(
          done.await(exited ? Duration.ZERO : TIMEOUT),
          exited
              ? "the native sentinel, registered last, did not run, and the thread has exited"
              : "the thread's native destructors did not run within " + TIMEOUT);
    }
  }

  /**
   * Runs {@code body} on {@code count} new platform threads at once (they start together and die
   * together), and checks that each one's sentinel, registered after the body's registrations, ran:
   * a native one ({@code sem_post}) if {@code nativeSentinel}, else a Java one.
   */
  static void dieTogether(
      DestructorRegistry registry, int count, boolean nativeSentinel, Body body) {
    CountDownLatch javaSentinels = new CountDownLatch(count);
    CyclicBarrier together = new CyclicBarrier(count);
    try (ThreadLocalSlot sentinel = registry.newSlot();
        NativeFixtures.Semaphore nativeSentinels = new NativeFixtures.Semaphore()) {
      List<AtomicLong> osThreads = new ArrayList<>();
      List<Thread> threads = new ArrayList<>();
      AtomicReference<Throwable> failure = new AtomicReference<>();
      for (int i = 0; i < count; i++) {
        AtomicLong osThread = new AtomicLong();
        osThreads.add(osThread);
        Thread thread =
            new Thread(
                () -> {
                  try {
                    osThread.set(NativeFixtures.osThreadId());
                    together.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
                    body.run();
                    if (nativeSentinel) {
                      sentinel.set(nativeSentinels.address());
                      registry.registerNative(sentinel, NativeFixtures.SEM_POST);
                    } else {
                      registry.register(sentinel, value -> javaSentinels.countDown());
                    }
                  } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                  }
                },
                "weave-tck-dying-" + i);
        threads.add(thread);
      }
      threads.forEach(Thread::start);
      boolean allExited = true;
      for (int i = 0; i < count; i++) {
        join(threads.get(i));
        boolean exited = NativeFixtures.awaitThreadExit(osThreads.get(i).get(), TIMEOUT);
        if (!exited && NativeFixtures.canSeeThreads()) {
          fail(
              threads.get(i).getName()
                  + " (OS thread "
                  + osThreads.get(i).get()
                  + ") did not exit within "
                  + TIMEOUT
                  + ": its destructors did not return");
        }
        allExited &= exited;
      }
      rethrow(failure.get());
      if (nativeSentinel) {
        for (int i = 0; i < count; i++) {
          assertTrue(
              nativeSentinels.await(allExited ? Duration.ZERO : TIMEOUT),
              "native sentinel "
                  + (i + 1)
                  + " of "
                  + count
                  + ", registered last on its thread, did not run");
        }
      } else {
        await(
            javaSentinels,
            "the destructors of " + count + " threads that died together",
            allExited);
      }
    }
  }

  /**
   * Runs {@code body} on a new platform thread, joins it and, where {@code /proc} shows threads,
   * waits until its OS thread has exited: then every destructor it will ever run has run, in
   * whatever order the backend ran them. {@link Thread#join()} alone returns before that. Rethrows
   * what the body threw.
   *
   * @return whether the OS thread was seen to exit (false where {@code /proc} cannot tell)
   */
  static boolean runAndJoin(Body body) {
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicLong osThread = new AtomicLong();
    Thread thread =
        new Thread(
            () -> {
              try {
                osThread.set(NativeFixtures.osThreadId());
                body.run();
              } catch (Throwable t) {
                failure.set(t);
              }
            },
            "weave-tck-dying");
    thread.start();
    join(thread);
    boolean exited = NativeFixtures.awaitThreadExit(osThread.get(), TIMEOUT);
    if (!exited && NativeFixtures.canSeeThreads()) {
      fail(
          thread.getName()
              + " (OS thread "
              + osThread.get()
              + ") did not exit within "
              + TIMEOUT
              + ": its destructors did not return");
    }
    rethrow(failure.get());
    return exited;
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

  /** Waits for {@code latch}; not at all when the thread that would count it down has exited. */
  static void await(CountDownLatch latch, String what, boolean threadExited) {
    if (threadExited) {
      assertTrue(
          latch.getCount() == 0,
          what
              + " did not all run: the sentinel registered last did not, and the thread has exited");
    } else {
      await(latch, what);
    }
  }

  static void await(CountDownLatch latch, String what) {
    try {
      assertTrue(
          latch.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS),
          what + " did not run within " + TIMEOUT);
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
   * destructors is detached only after they have returned. Gives up after {@link #TIMEOUT}, or
   * sooner when the count has not gone down for {@link #STALL}: threads left attached stay.
   */
  static void awaitLiveThreadsAtMost(int baseline) {
    long start = System.nanoTime();
    long lastProgress = start;
    int lowest = Integer.MAX_VALUE;
    int live;
    while ((live = liveThreads()) > baseline) {
      long now = System.nanoTime();
      if (live < lowest) {
        lowest = live;
        lastProgress = now;
      }
      if (now - start > TIMEOUT.toNanos() || now - lastProgress > STALL.toNanos()) {
        fail(
            "live thread count stayed at "
                + live
                + ", above the baseline "
                + baseline
                + ": dying threads were left attached");
      }
      LockSupport.parkNanos(1_000_000);
    }
  }
}
