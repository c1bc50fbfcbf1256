package dev.weave.jnr;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The primitives on their own, below the engine. */
class JnrPrimitivesTest {
  private final JnrPrimitives primitives = new JnrPrimitives();

  @Test
  void memoryAndNativeCalls() {
    long memory = primitives.allocateZeroed(2 * Long.BYTES);
    try {
      assertEquals(0, primitives.getWord(memory));
      assertEquals(0, primitives.getWord(memory + Long.BYTES));
      primitives.putWord(memory + Long.BYTES, 0x8765_4321_0fed_cba9L);
      assertEquals(0x8765_4321_0fed_cba9L, primitives.getWord(memory + Long.BYTES));
      assertEquals(0, primitives.getWord(memory));
    } finally {
      primitives.free(memory);
    }
    assertEquals(Fixtures.FREE, primitives.freeFunction(), "free as the process resolves it");
    try (Fixtures.Semaphore semaphore = new Fixtures.Semaphore()) {
      primitives.callDestructor(Fixtures.SEM_POST, semaphore.address);
      primitives.callDestructor(Fixtures.SEM_POST, semaphore.address);
      assertEquals(2, semaphore.value());
    }
  }

  /**
   * Issue 13 §3: the engine may read and write cells through the view instead of getWord/putWord.
   */
  @Test
  void aDirectBufferViewReadsAndWritesTheSameWordsAsGetWordAndPutWord() {
    int words = 16;
    long memory = primitives.allocateZeroed(words * Long.BYTES);
    try {
      ByteBuffer view =
          primitives.directBuffer(memory, words * Long.BYTES).order(ByteOrder.nativeOrder());
      assertTrue(view.isDirect());
      assertEquals(words * Long.BYTES, view.capacity());
      for (int i = 0; i < words; i++) {
        assertEquals(0, view.getLong(i * Long.BYTES), "calloc'd word " + i);
        primitives.putWord(memory + i * Long.BYTES, word(i));
      }
      for (int i = 0; i < words; i++) {
        assertEquals(word(i), view.getLong(i * Long.BYTES), "word " + i + " written with putWord");
        view.putLong(i * Long.BYTES, ~word(i));
      }
      for (int i = 0; i < words; i++) {
        assertEquals(
            ~word(i),
            primitives.getWord(memory + i * Long.BYTES),
            "word " + i + " written through the view");
      }
      ByteBuffer second =
          primitives.directBuffer(memory + Long.BYTES, Long.BYTES).order(ByteOrder.nativeOrder());
      assertEquals(~word(1), second.getLong(0), "a view at an offset");
    } finally {
      primitives.free(memory); // the views own nothing: this is the only free
    }
    assertThrows(IllegalArgumentException.class, () -> primitives.directBuffer(0, 8));
    assertThrows(IllegalArgumentException.class, () -> primitives.directBuffer(memory, -1));
  }

  /** The view must not bring jffi's Unsafe accessor in where it was kept out. */
  @Test
  void aDirectBufferLeavesJffisMemoryAccessorAsItWas() {
    String before = com.kenai.jffi.MemoryIO.getInstance().getClass().getName();
    long memory = primitives.allocateZeroed(Long.BYTES);
    try {
      primitives.directBuffer(memory, Long.BYTES);
    } finally {
      primitives.free(memory);
    }
    assertEquals(before, com.kenai.jffi.MemoryIO.getInstance().getClass().getName());
  }

  private static long word(int i) {
    return 0x0123_4567_89ab_cdefL * (i + 1);
  }

  @Test
  void onJava24AndLaterJffiDoesNotUseUnsafe() {
    String accessor = com.kenai.jffi.MemoryIO.getInstance().getClass().getName();
    if (Runtime.version().feature() >= 24
        && System.getProperty(JnrPrimitives.UNSAFE_DISABLED) == null) {
      assertTrue(
          !accessor.contains("Unsafe"), "jffi uses " + accessor + ": the JVM prints a warning");
    }
    assertEquals(
        null, System.getProperty(JnrPrimitives.UNSAFE_DISABLED), "the property was left set");
  }

  @Test
  void aThrowingHandlerDoesNotStopLaterDeaths() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    CountDownLatch called = new CountDownLatch(3);
    long key =
        primitives.createKey(
            value -> {
              calls.incrementAndGet();
              called.countDown();
              throw new IllegalStateException("thrown on purpose into the closure");
            });
    for (int i = 0; i < 3; i++) {
      Fixtures.runAndJoin(() -> primitives.setKey(key, 1));
    }
    Fixtures.await(called, "three thread-death callbacks that throw");
    assertEquals(3, calls.get());
  }

  /** What the engine's shutdown hook relies on: glibc calls no destructor of a deleted key. */
  @Test
  void aDeletedKeyCallsNothing() throws Exception {
    AtomicInteger deletedCalls = new AtomicInteger();
    CountDownLatch sentinel = new CountDownLatch(1);
    long deleted = primitives.createKey(value -> deletedCalls.incrementAndGet());
    long kept = primitives.createKey(value -> sentinel.countDown());
    CountDownLatch set = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Thread thread =
        new Thread(
            () -> {
              primitives.setKey(deleted, 1);
              primitives.setKey(kept, 1);
              set.countDown();
              try {
                release.await();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            },
            "jnr-deleted-key");
    thread.start();
    Fixtures.await(set, "the keys' values");
    primitives.deleteKey(deleted);
    release.countDown();
    thread.join();
    Fixtures.await(sentinel, "the kept key's callback");
    // The OS thread gone: its key destructors, the deleted key's included, are all past.
    Fixtures.awaitNoOsThreadNamed("jnr-deleted-key", "the thread with the deleted key");
    assertEquals(0, deletedCalls.get(), "a deleted key's callback ran");
  }

  /**
   * Issue 18: keys travel as long and are narrowed only by the platform's width; a key that does
   * not fit glibc's 4-byte {@code pthread_key_t} is refused, not cut to one that does.
   */
  @Test
  void aKeyWiderThanThePlatformsPthreadKeyIsRefusedNotTruncated() {
    long key = primitives.createKey(0);
    try {
      primitives.setKey(key, 42);
      long wide = key | (1L << 32);
      assertThrows(IllegalArgumentException.class, () -> primitives.getKey(wide));
      assertThrows(IllegalArgumentException.class, () -> primitives.setKey(wide, 7));
      assertThrows(IllegalArgumentException.class, () -> primitives.deleteKey(wide));
      assertEquals(42, primitives.getKey(key));
      primitives.setKey(key, 0);
    } finally {
      primitives.deleteKey(key);
    }
  }
}
