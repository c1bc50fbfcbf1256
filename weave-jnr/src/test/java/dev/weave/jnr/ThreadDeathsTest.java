package dev.weave.jnr;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.weave.ThreadLocalSlot;
import dev.weave.spi.Engine;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * jffi attaches a dying thread to the JVM for the walker's closure and detaches it afterwards, and
 * has its own thread-exit key: after many deaths no thread of theirs is left, in the JVM or in the
 * OS, and the walker ran exactly once per thread. Only the threads this work could leave are looked
 * at (the dying threads, by name, and jffi's unnamed attachments, {@code Thread-N}): the JVM's own
 * threads, such as GC workers started lazily, may come and go meanwhile.
 */
class ThreadDeathsTest {
  private static final int DEATHS = 1_000;
  private static final int BATCH = 50;

  /**
   * At most 15 characters with the number: the OS thread's name is the Java name cut to 15 bytes.
   */
  private static final String NAME_PREFIX = "jnr-death-";

  private static final Pattern LEFT_BY_THIS_WORK =
      Pattern.compile(Pattern.quote(NAME_PREFIX) + "\\d+|Thread-\\d+");

  @Test
  void thousandDeathsLeaveNoThreadAndRunTheWalkerOncePerThread() throws Exception {
    AtomicInteger walks = new AtomicInteger();
    Engine engine = new Engine("jnr-counted", new ClosureLifetimeTest.CountingPrimitives(walks));
    try (ThreadLocalSlot slot = engine.newSlot();
        Fixtures.Semaphore posted = new Fixtures.Semaphore()) {
      // Warm up: the first registration creates the walker key and jnr-ffi's closure machinery.
      dieInBatches(engine, slot, posted, 1);
      Fixtures.awaitNoOsThreadNamed(NAME_PREFIX, "the warm-up thread");
      Set<Thread> before = Fixtures.jvmThreadSet();
      int jvmBefore = Fixtures.jvmThreads();
      walks.set(0);

      long start = System.nanoTime();
      dieInBatches(engine, slot, posted, DEATHS);
      long destructorsDone = System.nanoTime();
      int leftWhenDone =
          Fixtures.awaitNoJvmThreadLeft(before, LEFT_BY_THIS_WORK, "threads attached to the JVM");
      // Every dying OS thread gone: no key destructor of theirs can still be running or pending.
      Fixtures.awaitNoOsThreadNamed(NAME_PREFIX, "the dying threads");

      System.out.printf(
          "jnr: %d deaths, walker calls %d, %.1f us per death (start, register, die, destructors);"
              + " threads left when the destructors were done %d, after the wait 0; JVM live threads %d -> %d"
              + " (housekeeping included)%n",
          DEATHS,
          walks.get(),
          (destructorsDone - start) / 1_000.0 / DEATHS,
          leftWhenDone,
          jvmBefore,
          Fixtures.jvmThreads());
      assertEquals(DEATHS, walks.get(), "walker calls, one per dying thread with registrations");
      assertEquals(DEATHS + 1, posted.value(), "native destructor calls");
      assertEquals(0, engine.threadsWithRegistrations());
    }
  }

  /** Threads that die in batches; each registers a native destructor and a Java one after it. */
  private static void dieInBatches(
      Engine engine, ThreadLocalSlot slot, Fixtures.Semaphore posted, int deaths)
      throws InterruptedException {
    for (int done = 0; done < deaths; done += BATCH) {
      int batch = Math.min(BATCH, deaths - done);
      CountDownLatch ran = new CountDownLatch(batch);
      Thread[] threads = new Thread[batch];
      for (int i = 0; i < batch; i++) {
        threads[i] =
            new Thread(
                () -> {
                  slot.set(posted.address);
                  engine.registerNative(slot, Fixtures.SEM_POST);
                  engine.register(slot, value -> ran.countDown());
                },
                NAME_PREFIX + (done + i));
        threads[i].start();
      }
      for (Thread thread : threads) {
        thread.join();
      }
      Fixtures.await(ran, "the destructors of " + batch + " dying threads");
    }
  }
}
