package dev.weave.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.Weave;
import dev.weave.WeaveThread;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Rule 13's weave threads: {@link WeaveThread}, {@link Weave#threadFactory} and {@link Weave#wrap}
 * run a thread's destructors on it when its task ends, so they have run when {@link Thread#join()}
 * returns, also when the task throws.
 */
final class WeaveThreadCases {
  private WeaveThreadCases() {}

  static List<TckCase> all() {
    return List.of(
        TckCase.of(
            "r13-weave-thread-join",
            Rule.R13,
            "a WeaveThread's destructors have run on it when join() returns, also when its task throws",
            WeaveThreadCases::weaveThreadJoin),
        TckCase.of(
            "r13-thread-factory-join",
            Rule.R13,
            "Weave.threadFactory makes named non-daemon WeaveThreads whose destructors have run when join() returns",
            WeaveThreadCases::threadFactoryJoin),
        TckCase.of(
            "r13-wrap-join",
            Rule.R13,
            "a Weave.wrap task's destructors have run when its thread's join() returns, also when the task throws",
            WeaveThreadCases::wrapJoin));
  }

  static void weaveThreadJoin(DestructorRegistry registry) throws Exception {
    for (boolean taskThrows : new boolean[] {false, true}) {
      checkJoin(
          registry,
          task -> new WeaveThread(task, "weave-tck-weave-thread"),
          taskThrows,
          "a WeaveThread");
    }
  }

  static void threadFactoryJoin(DestructorRegistry registry) throws Exception {
    ThreadFactory factory = Weave.threadFactory("weave-tck-factory");
    Thread first = factory.newThread(() -> {});
    assertTrue(
        first instanceof WeaveThread, "Weave.threadFactory made a " + first.getClass().getName());
    assertEquals("weave-tck-factory-1", first.getName());
    assertFalse(first.isDaemon(), "a thread of Weave.threadFactory is a daemon");
    checkJoin(registry, factory::newThread, false, "a thread of Weave.threadFactory");
  }

  static void wrapJoin(DestructorRegistry registry) throws Exception {
    for (boolean taskThrows : new boolean[] {false, true}) {
      checkJoin(
          registry,
          task -> new Thread(Weave.wrap(task), "weave-tck-wrapped"),
          taskThrows,
          "a Weave.wrap task's thread");
    }
  }

  /**
   * Starts a thread made by {@code threads} whose task registers a Java and a native destructor
   * (and throws, if {@code taskThrows}); when {@code join()} returns, both must have run, the Java
   * one on that very thread.
   */
  private static void checkJoin(
      DestructorRegistry registry, ThreadFactory threads, boolean taskThrows, String what)
      throws Exception {
    List<String> calls = Collections.synchronizedList(new ArrayList<>());
    AtomicReference<Thread> self = new AtomicReference<>();
    AtomicLong osThread = new AtomicLong();
    AtomicReference<Throwable> uncaught = new AtomicReference<>();
    RuntimeException taskFailure = new IllegalStateException("thrown by a TCK task on purpose");
    try (ThreadLocalSlot slot = registry.newSlot();
        NativeFixtures.Semaphore sem = new NativeFixtures.Semaphore()) {
      Thread thread =
          threads.newThread(
              () -> {
                self.set(Thread.currentThread());
                osThread.set(NativeFixtures.osThreadId());
                slot.set(sem.address());
                registry.registerNative(slot, NativeFixtures.SEM_POST);
                registry.register(
                    slot,
                    value ->
                        calls.add(
                            "java, on the same Thread: " + (Thread.currentThread() == self.get())));
                if (taskThrows) {
                  throw taskFailure;
                }
              });
      thread.setUncaughtExceptionHandler((t, e) -> uncaught.set(e));
      thread.start();
      Deaths.join(thread);
      // no waiting: when join() returns, the destructors have run
      List<String> atJoin = List.copyOf(calls);
      int postedAtJoin = sem.value();
      assertEquals(
          List.of("java, on the same Thread: true"),
          atJoin,
          what
              + (taskThrows ? " whose task threw" : "")
              + ": the Java destructor when join() returned");
      assertEquals(
          1,
          postedAtJoin,
          what
              + (taskThrows ? " whose task threw" : "")
              + ": the native destructor when join() returned");
      if (taskThrows) {
        assertSame(
            taskFailure,
            uncaught.get(),
            what + ": the task's exception reaches the uncaught-exception handler");
      } else {
        assertEquals(null, uncaught.get(), what + ": an exception escaped the thread");
      }
      Deaths.awaitExit(thread.getName(), osThread.get());
      assertEquals(atJoin, calls, what + ": destructors ran again at the thread's death");
      assertEquals(
          1, sem.value(), what + ": the native destructor ran again at the thread's death");
    }
  }
}
