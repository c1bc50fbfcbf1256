package dev.weave.jnr;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.weave.ThreadLocalSlot;
import dev.weave.spi.Engine;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * jffi attaches a dying thread to the JVM for the walker's closure and detaches it afterwards, and
 * has its own thread-exit key: after many deaths the JVM's thread count is back where it was, and
 * the walker ran exactly once per thread.
 */
class ThreadDeathsTest {
  private static final int DEATHS = 1_000;
  private static final int BATCH = 50;

  @Test
  void thousandDeathsLeaveTheThreadCountAndRunTheWalkerOncePerThread() throws Exception {
    AtomicInteger walks = new AtomicInteger();
    Engine engine = new Engine("jnr-counted", new ClosureLifetimeTest.CountingPrimitives(walks));
    try (ThreadLocalSlot slot = engine.newSlot();
        Fixtures.Semaphore posted = new Fixtures.Semaphore()) {
      // Warm up: the first registration creates the walker key and jnr-ffi's closure machinery.
      dieInBatches(engine, slot, posted, 1);
      int osBefore = Fixtures.awaitAtMost(Fixtures::osThreads, Fixtures.osThreads(), "OS threads");
      int jvmBefore = Fixtures.jvmThreads();
      walks.set(0);

      long start = System.nanoTime();
      dieInBatches(engine, slot, posted, DEATHS);
      long destructorsDone = System.nanoTime();
      int jvmAfter = Fixtures.awaitAtMost(Fixtures::jvmThreads, jvmBefore, "the JVM's thread count");
      // Every OS thread gone: no key destructor of theirs can still be running or pending.
      int osAfter = Fixtures.awaitAtMost(Fixtures::osThreads, osBefore, "the OS thread count");

      System.out.printf(
          "jnr: %d deaths, JVM threads %d -> %d, OS threads %d -> %d, walker calls %d, %.1f us per death (start, register, die, destructors)%n",
          DEATHS,
          jvmBefore,
          jvmAfter,
          osBefore,
          osAfter,
          walks.get(),
          (destructorsDone - start) / 1_000.0 / DEATHS);
      assertEquals(DEATHS, walks.get(), "walker calls, one per dying thread with registrations");
      assertEquals(DEATHS + 1, posted.value(), "native destructor calls");
      assertEquals(0, engine.threadsWithRegistrations());
    }
  }

  /** Threads that die in batches; each registers a native destructor and a Java one after it. */
  private static void dieInBatches(Engine engine, ThreadLocalSlot slot, Fixtures.Semaphore posted, int deaths)
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
                });
        threads[i].start();
      }
      for (Thread thread : threads) {
        thread.join();
      }
      Fixtures.await(ran, "the destructors of " + batch + " dying threads");
    }
  }
}
