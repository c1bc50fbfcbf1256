package dev.weave.jni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.DynamicContainer.dynamicContainer;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import dev.weave.Backend;
import dev.weave.ThreadLocalSlot;
import dev.weave.Weave;
import dev.weave.spi.Engine;
import dev.weave.spi.WalkerLibrary;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.TestFactory;

/**
 * Issue 20, on every backend with the walker it runs (the native one unless {@code
 * -Dweave.walker=java}): a thread created in C whose registrations, made through weave.h, are all
 * native dies without being attached to the JVM; and close() waits for a native destructor that the
 * walk runs. The natives are in {@code src/test/native/native_walker_test.c}.
 */
class NativeWalkerTest {
  private static final int THREADS = 16;
  private static final Duration TIMEOUT = WeaveHSeedTest.TIMEOUT;
  private static final ThreadMXBean JVM_THREADS = ManagementFactory.getThreadMXBean();

  static {
    System.load(System.getProperty(WeaveJni.LIBRARY_PROPERTY));
  }

  @TestFactory
  Stream<DynamicNode> everyBackend() {
    return Weave.backends().stream()
        .map(
            backend ->
                dynamicContainer(
                    backend.name(),
                    backend.available()
                        ? Stream.of(
                            dynamicTest(
                                "Weave.backends() says which walker it runs",
                                () -> backendSaysItsWalker(backend)),
                            dynamicTest(
                                "a C thread with only native registrations is attached at its death"
                                    + " only by the Java walker",
                                () -> nativeOnlyDeaths(backend.name())),
                            dynamicTest(
                                "close() waits for a native destructor the walk runs",
                                () -> closeWaitsForARunningNativeDestructor(backend.name())))
                        : Stream.of(
                            dynamicTest(
                                backend.name(), () -> Assumptions.abort(unusable(backend))))));
  }

  /**
   * The walker {@link Weave#backends()} names is the engine's; here (Linux on x86-64 or aarch64
   * with glibc, weave-api built with a C compiler) the native one, unless {@code
   * -Dweave.walker=java} asks for the Java one.
   */
  private static void backendSaysItsWalker(Backend backend) {
    Engine engine = (Engine) Weave.registry(backend.name());
    assertEquals(engine.walker().toString(), backend.walker());
    boolean javaAskedFor = "java".equals(System.getProperty(WalkerLibrary.WALKER_PROPERTY));
    assertEquals(
        javaAskedFor ? "java walker: -Dweave.walker=java" : "native walker", backend.walker());
  }

  private static String unusable(Backend backend) {
    return backend.name() + " is unusable here: " + backend.unavailabilityReason();
  }

  /**
   * The C threads attach themselves once, to register through weave.h, and detach before they exit.
   * Each thread's destructors see whether the thread is attached as they run; the JVM counts every
   * attachment as a started thread ({@link ThreadMXBean#getTotalStartedThreadCount()}), so the
   * count before and after says how many attachments their lives and deaths made.
   */
  private static void nativeOnlyDeaths(String backend) {
    String previous = System.getProperty(Weave.BACKEND_PROPERTY);
    System.setProperty(Weave.BACKEND_PROPERTY, backend);
    try {
      Engine engine = (Engine) Weave.registry();
      assertEquals(backend, engine.backendName());
      boolean nativeWalker = engine.walker().isNative();
      long startedBefore = JVM_THREADS.getTotalStartedThreadCount();
      String summary = dieDetachedWithNativeDestructorsOnly(THREADS);
      long started = JVM_THREADS.getTotalStartedThreadCount() - startedBefore;
      // The walker key's destructor has run on every thread: they were joined in C.
      assertEquals(
          THREADS
              + " threads: "
              + 2 * THREADS
              + " destructors ran, "
              + (nativeWalker ? 0 : 2 * THREADS)
              + " of them attached",
          summary,
          engine.walker().toString());
      // One attachment each to register, and with the Java walker one more at death; another
      // thread the JVM starts meanwhile would add one, never THREADS.
      if (nativeWalker) {
        assertTrue(
            started < 2 * THREADS,
            started + " JVM threads started for " + THREADS + " lives and deaths: " + summary);
      } else {
        assertTrue(started >= 2 * THREADS, started + " JVM threads started: " + summary);
      }
    } finally {
      if (previous == null) {
        System.clearProperty(Weave.BACKEND_PROPERTY);
      } else {
        System.setProperty(Weave.BACKEND_PROPERTY, previous);
      }
    }
  }

  /**
   * A thread's one native destructor blocks until released; once it runs, a close() of its slot
   * must wait for it (polling, with the native walker: C cannot notify a Java monitor), and return
   * only after it has returned.
   */
  private static void closeWaitsForARunningNativeDestructor(String backend) throws Exception {
    Engine engine = (Engine) Weave.registry(backend);
    ThreadLocalSlot slot = engine.newSlot();
    long gate = newGate();
    Thread owner =
        new Thread(
            () -> {
              slot.set(gate);
              engine.registerNative(slot, blockingDestructor());
            },
            "native-walker-owner");
    owner.start();
    owner.join();
    assertTrue(awaitStarted(gate, TIMEOUT.toMillis()), "the destructor did not start");
    AtomicBoolean doneWhenClosed = new AtomicBoolean();
    Thread closer =
        new Thread(
            () -> {
              slot.close();
              doneWhenClosed.set(done(gate));
            },
            "native-walker-closer");
    closer.start();
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    while (!List.of(Thread.State.WAITING, Thread.State.TIMED_WAITING).contains(closer.getState())) {
      assertTrue(closer.isAlive(), "close() returned while the destructor was blocked");
      assertTrue(System.nanoTime() - deadline < 0, "close() never waited: " + closer.getState());
      LockSupport.parkNanos(Duration.ofMillis(1).toNanos());
    }
    release(gate);
    closer.join(TIMEOUT.toMillis());
    assertTrue(!closer.isAlive(), "close() did not return once the destructor had");
    assertTrue(doneWhenClosed.get(), "close() returned before the destructor did");
  }

  private static native String dieDetachedWithNativeDestructorsOnly(int threads);

  private static native long newGate();

  private static native long blockingDestructor();

  private static native boolean awaitStarted(long gate, long timeoutMillis);

  private static native void release(long gate);

  private static native boolean done(long gate);
}
