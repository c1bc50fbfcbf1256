package dev.weave.jnr;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.Weave;
import dev.weave.spi.Engine;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * jnr-ffi recycles the native closure of a callback nobody references; the walker's closure must
 * survive garbage collection for as long as its key can call it.
 */
class ClosureLifetimeTest {
  private static final int THREADS = 16;

  @Test
  void destructorsRunAfterGarbageCollection() throws Exception {
    DestructorRegistry registry = Weave.registry("jnr");
    try (ThreadLocalSlot slot = registry.newSlot();
        Fixtures.Semaphore posted = new Fixtures.Semaphore()) {
      CountDownLatch registered = new CountDownLatch(THREADS);
      CountDownLatch release = new CountDownLatch(1);
      CountDownLatch ran = new CountDownLatch(THREADS);
      List<Thread> threads = new ArrayList<>();
      for (int i = 0; i < THREADS; i++) {
        Thread thread =
            new Thread(
                () -> {
                  slot.set(posted.address);
                  registry.registerNative(slot, Fixtures.SEM_POST);
                  registry.register(slot, value -> ran.countDown());
                  registered.countDown();
                  try {
                    release.await();
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                  }
                });
        thread.start();
        threads.add(thread);
      }
      Fixtures.await(registered, "registration on every thread");
      collectGarbage();
      release.countDown();
      for (Thread thread : threads) {
        thread.join();
      }
      Fixtures.await(ran, "the Java destructors after System.gc()");
      assertEquals(THREADS, posted.value(), "native destructor calls after System.gc()");
    }
  }

  /**
   * An engine nobody references any more: only its key's closure leads to it. Its threads' deaths
   * must still reach it, and not crash.
   */
  @Test
  void anUnreferencedEngineStillRunsItsDestructors() throws Exception {
    AtomicInteger walks = new AtomicInteger();
    CountDownLatch registered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch ran = new CountDownLatch(1);
    Thread thread;
    {
      Engine engine = new Engine("jnr-unreferenced", new CountingPrimitives(walks));
      ThreadLocalSlot slot = engine.newSlot();
      thread =
          new Thread(
              () -> {
                slot.set(7);
                engine.register(slot, value -> ran.countDown());
                registered.countDown();
                try {
                  release.await();
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              });
      thread.start();
    }
    Fixtures.await(registered, "registration");
    collectGarbage();
    release.countDown();
    thread.join();
    Fixtures.await(ran, "the destructor of an unreferenced engine");
    assertEquals(1, walks.get());
  }

  /** The primitives, with a count of thread-death callbacks. */
  static final class CountingPrimitives implements dev.weave.spi.NativePrimitives {
    private final JnrPrimitives primitives = new JnrPrimitives();
    private final AtomicInteger walks;

    CountingPrimitives(AtomicInteger walks) {
      this.walks = walks;
    }

    @Override
    public long allocateZeroed(long bytes) {
      return primitives.allocateZeroed(bytes);
    }

    @Override
    public void free(long address) {
      primitives.free(address);
    }

    @Override
    public long getWord(long address) {
      return primitives.getWord(address);
    }

    @Override
    public void putWord(long address, long value) {
      primitives.putWord(address, value);
    }

    @Override
    public long freeFunction() {
      return primitives.freeFunction();
    }

    @Override
    public long createKey(long destructorFunction) {
      return primitives.createKey(destructorFunction);
    }

    @Override
    public long createKey(dev.weave.spi.ThreadDeathHandler handler) {
      return primitives.createKey(
          value -> {
            walks.incrementAndGet();
            handler.threadDied(value);
          });
    }

    @Override
    public long getKey(long key) {
      return primitives.getKey(key);
    }

    @Override
    public void setKey(long key, long value) {
      primitives.setKey(key, value);
    }

    @Override
    public void deleteKey(long key) {
      primitives.deleteKey(key);
    }

    @Override
    public void callDestructor(long function, long argument) {
      primitives.callDestructor(function, argument);
    }
  }

  static void collectGarbage() {
    for (int i = 0; i < 3; i++) {
      byte[][] garbage = new byte[1024][];
      for (int j = 0; j < garbage.length; j++) {
        garbage[j] = new byte[1024];
      }
      System.gc();
    }
  }
}
