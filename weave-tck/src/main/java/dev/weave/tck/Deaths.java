package dev.weave.tck;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.abort;

import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import java.lang.management.ManagementFactory;
import java.lang.reflect.Method;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
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
 *
 * <p>Every thread a case starts is waited for this way before the case ends, so that the next case
 * finds no thread of it still dying: checked mode's exact block counts (rule 14) rely on it.
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
   * Runs {@code body} on {@code count} new platform threads, lets them all die at once once every
   * body has run, and checks that each one's sentinel, registered after the body's registrations,
   * ran: a native one ({@code sem_post}) if {@code nativeSentinel}, else a Java one.
   */
  static void dieTogether(
      DestructorRegistry registry, int count, boolean nativeSentinel, Body body) {
    CountDownLatch javaSentinels = new CountDownLatch(count);
    try (ThreadLocalSlot sentinel = registry.newSlot();
        NativeFixtures.Semaphore nativeSentinels = new NativeFixtures.Semaphore()) {
      Body withSentinel =
          () -> {
            body.run();
            if (nativeSentinel) {
              sentinel.set(nativeSentinels.address());
              registry.registerNative(sentinel, NativeFixtures.SEM_POST);
            } else {
              registry.register(sentinel, value -> javaSentinels.countDown());
            }
          };
      boolean allExited = true;
      try (Helpers helpers = new Helpers()) {
        for (int i = 0; i < count; i++) {
          helpers.start("weave-tck-dying-" + i, withSentinel, () -> {});
        }
        allExited = helpers.finish();
      }
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
    try (Helper thread = Helper.start("weave-tck-dying", body, () -> {})) {
      return thread.finish();
    }
  }

  /**
   * A thread that helps a case: it runs a first body, then waits until the case releases it, then
   * runs a second body and dies. The case waits until the first body has run ({@link
   * #awaitReady()}), does its part, and lets the thread finish ({@link #finish()}): released,
   * joined, its OS thread exited, and what either body threw rethrown. Closing it releases it, so
   * that a case that fails does not leave it waiting.
   */
  static final class Helper implements AutoCloseable {
    private final CountDownLatch ready = new CountDownLatch(1);
    private final CountDownLatch release = new CountDownLatch(1);
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final AtomicLong osThread = new AtomicLong();
    private final Thread thread;

    private Helper(String name, Body beforeRelease, Body afterRelease) {
      thread =
          new Thread(
              () -> {
                try {
                  osThread.set(NativeFixtures.osThreadId());
                  beforeRelease.run();
                } catch (Throwable t) {
                  failure.compareAndSet(null, t);
                  return;
                } finally {
                  ready.countDown();
                }
                try {
                  release.await();
                  afterRelease.run();
                } catch (Throwable t) {
                  failure.compareAndSet(null, t);
                }
              },
              name);
    }

    /**
     * Starts a thread named {@code name} that runs {@code beforeRelease}, waits for its release,
     * then runs {@code afterRelease}.
     */
    static Helper start(String name, Body beforeRelease, Body afterRelease) {
      Helper helper = new Helper(name, beforeRelease, afterRelease);
      helper.thread.start();
      return helper;
    }

    /** Waits until the first body has run, and rethrows what it threw. */
    void awaitReady() {
      await(ready, thread.getName() + "'s part before its release");
      rethrow(failure.get());
    }

    /**
     * Releases the thread, joins it, waits until its OS thread has exited, and rethrows what it
     * threw.
     *
     * @return whether the OS thread was seen to exit (false where {@code /proc} cannot tell)
     */
    boolean finish() {
      release.countDown();
      join(thread);
      boolean exited = awaitExit(thread.getName(), osThread.get());
      rethrow(failure.get());
      return exited;
    }

    /**
     * @return the helper's OS thread id, once it has started its first body
     */
    long osThread() {
      return osThread.get();
    }

    @Override
    public void close() {
      release.countDown();
    }
  }

  /** Helpers started together and finished together. */
  static final class Helpers implements AutoCloseable {
    private final List<Helper> started = new ArrayList<>();

    Helper start(String name, Body beforeRelease, Body afterRelease) {
      Helper helper = Helper.start(name, beforeRelease, afterRelease);
      started.add(helper);
      return helper;
    }

    /** Waits until every helper's first body has run. */
    void awaitReady() {
      started.forEach(Helper::awaitReady);
    }

    /**
     * Releases every helper at once, then finishes each ({@link Helper#finish()}).
     *
     * @return whether every OS thread was seen to exit
     */
    boolean finish() {
      started.forEach(Helper::close);
      boolean allExited = true;
      for (Helper helper : started) {
        allExited &= helper.finish();
      }
      return allExited;
    }

    @Override
    public void close() {
      started.forEach(Helper::close);
    }
  }

  /**
   * Waits until the OS thread {@code osThread} has exited; fails if it has not within {@link
   * #TIMEOUT} where {@code /proc} can tell.
   *
   * @return whether it was seen to exit
   */
  static boolean awaitExit(String name, long osThread) {
    boolean exited = NativeFixtures.awaitThreadExit(osThread, TIMEOUT);
    if (!exited && NativeFixtures.canSeeThreads()) {
      fail(
          name
              + " (OS thread "
              + osThread
              + ") did not exit within "
              + TIMEOUT
              + ": its destructors did not return");
    }
    return exited;
  }

  /**
   * Waits until {@code count} reaches {@code expected}, where {@code /proc} cannot say that the
   * threads have exited.
   */
  static void awaitCount(AtomicInteger count, int expected, String what) {
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    while (count.get() < expected && System.nanoTime() < deadline) {
      LockSupport.parkNanos(1_000_000);
    }
    assertTrue(
        count.get() >= expected,
        what + ": " + count.get() + " of " + expected + " ran within " + TIMEOUT);
  }

  /**
   * Starts {@code task} on a virtual thread; skips the case on a JVM without virtual threads (Java
   * 17 to 20), saying so.
   */
  static Thread startVirtualThread(Runnable task) throws ReflectiveOperationException {
    Method start;
    try {
      start = Thread.class.getMethod("startVirtualThread", Runnable.class);
    } catch (NoSuchMethodException e) {
      abort("this JVM (Java " + Runtime.version().feature() + ") has no virtual threads");
      throw new AssertionError(e); // not reached
    }
    return (Thread) start.invoke(null, task);
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
