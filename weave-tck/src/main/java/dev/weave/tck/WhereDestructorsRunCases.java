package dev.weave.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Rule 4, where destructors run: on the dying OS thread, after its Java code, with slot and
 * registry calls acting on that thread; for deaths of every kind (plain threads, pool threads,
 * threads started by {@code pthread_create}).
 */
final class WhereDestructorsRunCases {
  private WhereDestructorsRunCases() {}

  static List<TckCase> all() {
    return List.of(
        TckCase.of(
            "r04-where-destructors-run",
            Rule.R4,
            "destructors run on the dying OS thread, after its Java code, on its own cells",
            WhereDestructorsRunCases::whereDestructorsRun),
        TckCase.of(
            "r04-unregister-in-destructor",
            Rule.R4,
            "a destructor that unregisters a later registration of its thread stops it from running",
            WhereDestructorsRunCases::unregisterInDestructor),
        TckCase.of(
            "r04-pool-threads",
            Rule.R4,
            "executor pool threads run their destructors when the pool shuts down",
            WhereDestructorsRunCases::poolThreads),
        TckCase.of(
            "r04-pthread-threads-java",
            Rule.R4,
            "threads started by pthread_create run their Java destructors",
            WhereDestructorsRunCases::nativeThreads),
        TckCase.of(
            "r04-pthread-threads-native",
            Rule.R4,
            "threads started by pthread_create run their native destructors",
            WhereDestructorsRunCases::nativeThreadsNative));
  }

  static void whereDestructorsRun(DestructorRegistry registry) throws Exception {
    ThreadLocal<String> threadLocal = new ThreadLocal<>();
    AtomicLong dyingOsThread = new AtomicLong();
    AtomicReference<Thread> dyingThread = new AtomicReference<>();
    AtomicLong destructorOsThread = new AtomicLong();
    AtomicReference<Thread> destructorThread = new AtomicReference<>();
    AtomicReference<String> threadLocalSeen = new AtomicReference<>("unset");
    AtomicLong slotSeen = new AtomicLong();
    AtomicLong cellSeen = new AtomicLong();
    AtomicLong cell = new AtomicLong();
    AtomicInteger javaCodeFinished = new AtomicInteger();
    AtomicInteger finishedWhenCalled = new AtomicInteger(-1);
    try (ThreadLocalSlot slot = registry.newSlot()) {
      Deaths.die(
          registry,
          () -> {
            dyingOsThread.set(NativeFixtures.osThreadId());
            dyingThread.set(Thread.currentThread());
            threadLocal.set("alive");
            slot.set(42);
            cell.set(slot.cellAddress());
            registry.register(
                slot,
                value -> {
                  finishedWhenCalled.set(javaCodeFinished.get());
                  destructorOsThread.set(NativeFixtures.osThreadId());
                  destructorThread.set(Thread.currentThread());
                  threadLocalSeen.set(threadLocal.get());
                  slotSeen.set(slot.get());
                  cellSeen.set(slot.cellAddress());
                });
            javaCodeFinished.set(1);
          });
      assertEquals(
          1, finishedWhenCalled.get(), "the destructor ran before the thread's Java code finished");
      assertEquals(
          dyingOsThread.get(), destructorOsThread.get(), "the destructor ran on another OS thread");
      assertNotSame(
          dyingThread.get(),
          destructorThread.get(),
          "Thread.currentThread() in a destructor is the dead Thread");
      assertNull(threadLocalSeen.get(), "the dead thread's ThreadLocal was still visible");
      assertEquals(42, slotSeen.get(), "slot.get() in a destructor reads the dying thread's cell");
      assertEquals(
          cell.get(), cellSeen.get(), "cellAddress() in a destructor is the dying thread's cell");
    }
  }

  /**
   * A destructor unregisters, on its dying thread, registrations made after it (on a slot and on a
   * plain variable): they must not run (rule 4: registry calls in a destructor act on the dying
   * thread's own registrations).
   */
  static void unregisterInDestructor(DestructorRegistry registry) throws Exception {
    List<String> calls = Collections.synchronizedList(new ArrayList<>());
    try (ThreadLocalSlot first = registry.newSlot();
        ThreadLocalSlot later = registry.newSlot();
        NativeFixtures.Word variable = new NativeFixtures.Word();
        NativeFixtures.Semaphore sem = new NativeFixtures.Semaphore()) {
      Deaths.die(
          registry,
          () -> {
            registry.register(
                first,
                value -> {
                  calls.add("unregister(later)=" + registry.unregister(later));
                  calls.add("unregister(variable)=" + registry.unregister(variable.address()));
                });
            later.set(sem.address());
            registry.register(later, value -> calls.add("later ran"));
            registry.registerNative(later, NativeFixtures.SEM_POST);
            variable.set(sem.address());
            registry.registerNative(variable.address(), NativeFixtures.SEM_POST);
          });
      assertEquals(
          List.of("unregister(later)=true", "unregister(variable)=true"),
          calls,
          "what the first destructor's unregister calls returned, and which later destructors ran");
      assertEquals(
          0, sem.value(), "native registrations unregistered by an earlier destructor ran");
    }
  }

  static void poolThreads(DestructorRegistry registry) throws Exception {
    int threads = 4;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    CyclicBarrier allThreads = new CyclicBarrier(threads);
    AtomicInteger calls = new AtomicInteger();
    Set<Long> poolOsThreads = Collections.synchronizedSet(new HashSet<>());
    Set<Long> ranOnOwnThread = Collections.synchronizedSet(new HashSet<>());
    try (ThreadLocalSlot slot = registry.newSlot()) {
      List<Future<?>> tasks = new ArrayList<>();
      for (int i = 0; i < threads; i++) {
        tasks.add(
            pool.submit(
                () -> {
                  long id = NativeFixtures.osThreadId();
                  poolOsThreads.add(id);
                  slot.set(id);
                  registry.register(
                      slot,
                      value -> {
                        if (value == NativeFixtures.osThreadId()) {
                          ranOnOwnThread.add(value);
                        }
                        calls.incrementAndGet();
                      });
                  allThreads.await(
                      Deaths.TIMEOUT.toMillis(), TimeUnit.MILLISECONDS); // one task per thread
                  return null;
                }));
      }
      for (Future<?> task : tasks) {
        task.get(Deaths.TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      }
      assertEquals(0, calls.get(), "destructors ran while the pool's threads were alive");
      pool.shutdown();
      assertTrue(pool.awaitTermination(Deaths.TIMEOUT.toMillis(), TimeUnit.MILLISECONDS));
      for (long osThread : poolOsThreads) { // then every destructor they will run has run
        Deaths.awaitExit("a pool thread", osThread);
      }
      Deaths.awaitCount(calls, threads, "the pool threads' destructors");
      assertEquals(threads, calls.get(), "destructor calls, one per pool thread");
      assertEquals(
          threads,
          ranOnOwnThread.size(),
          "each destructor ran on its own thread with its own value");
    } finally {
      pool.shutdownNow();
    }
  }

  static void nativeThreads(DestructorRegistry registry) throws Exception {
    int threads = 4;
    AtomicInteger calls = new AtomicInteger();
    Set<Long> seen = Collections.synchronizedSet(new HashSet<>());
    try (ThreadLocalSlot slot = registry.newSlot()) {
      // pthread_join returns once a thread has exited, after its key destructors: every destructor
      // ran
      NativeFixtures.runOnNativeThreads(
          threads,
          () -> {
            slot.set(NativeFixtures.osThreadId());
            registry.register(
                slot,
                value -> {
                  if (value == NativeFixtures.osThreadId()) {
                    seen.add(value);
                  }
                  calls.incrementAndGet();
                });
          });
      assertEquals(
          threads, calls.get(), "destructor calls, one per thread started by pthread_create");
      assertEquals(threads, seen.size(), "each ran on its own thread with its own value");
    }
  }

  static void nativeThreadsNative(DestructorRegistry registry) throws Exception {
    int threads = 4;
    try (ThreadLocalSlot slot = registry.newSlot();
        NativeFixtures.Semaphore sem = new NativeFixtures.Semaphore()) {
      NativeFixtures.runOnNativeThreads(
          threads,
          () -> {
            slot.set(sem.address());
            registry.registerNative(slot, NativeFixtures.SEM_POST);
          });
      for (int i = 0; i < threads; i++) {
        assertTrue(
            sem.await(Deaths.TIMEOUT),
            "native destructor " + (i + 1) + " of " + threads + " did not run");
      }
    }
  }
}
