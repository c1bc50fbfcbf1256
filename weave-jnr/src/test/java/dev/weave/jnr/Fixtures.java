package dev.weave.jnr;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import jnr.ffi.LibraryLoader;
import jnr.ffi.annotations.IgnoreError;
import jnr.ffi.annotations.Out;
import jnr.ffi.byref.IntByReference;
import jnr.ffi.types.intptr_t;
import jnr.ffi.types.size_t;

/** Native tools for this module's tests, on jnr-ffi itself: libc semaphores and thread counts. */
final class Fixtures {
  static final Duration TIMEOUT = Duration.ofSeconds(30);
  private static final int SEM_T_BYTES = 64; // sizeof(sem_t) is 32 on x86-64 and aarch64 glibc

  /** libc functions the tests call. Public for jnr-ffi's generated code. */
  public interface TestLibc {
    @IgnoreError
    @intptr_t
    long malloc(@size_t long size);

    @IgnoreError
    @intptr_t
    long calloc(@size_t long count, @size_t long size);

    @IgnoreError
    void free(@intptr_t long address);

    @IgnoreError
    int sem_init(@intptr_t long semaphore, int shared, int value);

    @IgnoreError
    int sem_getvalue(@intptr_t long semaphore, @Out IntByReference value);

    @IgnoreError
    int sem_destroy(@intptr_t long semaphore);
  }

  static {
    // jffi picks its memory accessor at first use; let the backend be that first use, as in an
    // application that uses jnr-ffi only through weave.
    new JnrPrimitives();
  }

  /**
   * The process's own libc first, as the backend loads it: {@code load("c")} alone opens the first
   * {@code libc.so.6} on jnr-ffi's search path, which is a second C library where the JVM runs on
   * another one (a JDK run through its own glibc's loader), and memory from one freed by the other.
   */
  static final TestLibc LIBC =
      LibraryLoader.create(TestLibc.class)
          .library(LibraryLoader.DEFAULT_LIBRARY)
          .library("c")
          .failImmediately()
          .load();

  /** {@code sem_post(sem_t*)}: a native destructor whose calls show in the semaphore's count. */
  static final long SEM_POST = address("sem_post");

  /** libc {@code free}. */
  static final long FREE = address("free");

  private Fixtures() {}

  static long address(String symbol) {
    long address = com.kenai.jffi.Library.getDefault().getSymbolAddress(symbol);
    assertTrue(address != 0, "no symbol " + symbol);
    return address;
  }

  /** A {@code sem_t} in native memory. */
  static final class Semaphore implements AutoCloseable {
    final long address = LIBC.calloc(1, SEM_T_BYTES);

    Semaphore() {
      assertEquals(0, LIBC.sem_init(address, 0, 0), "sem_init");
    }

    int value() {
      IntByReference value = new IntByReference();
      assertEquals(0, LIBC.sem_getvalue(address, value), "sem_getvalue");
      return value.intValue();
    }

    @Override
    public void close() {
      LIBC.sem_destroy(address);
      LIBC.free(address);
    }
  }

  static void await(CountDownLatch latch, String what) throws InterruptedException {
    if (!latch.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
      fail(what + " did not happen within " + TIMEOUT + " (" + latch.getCount() + " left)");
    }
  }

  /** Threads the JVM knows (attached ones included). */
  static int jvmThreads() {
    return ManagementFactory.getThreadMXBean().getThreadCount();
  }

  /** The JVM's threads now, to compare with {@link #awaitNoJvmThreadLeft} later. */
  static Set<Thread> jvmThreadSet() {
    return Set.copyOf(Thread.getAllStackTraces().keySet());
  }

  /**
   * Waits until no thread whose name matches {@code left} is alive that was not in {@code before},
   * failing at the deadline with their names. Only threads this work could leave are looked at: the
   * JVM's housekeeping threads may start or end meanwhile.
   *
   * @return how many there were when the wait began
   */
  static int awaitNoJvmThreadLeft(Set<Thread> before, Pattern left, String what) {
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    int first = -1;
    List<String> alive;
    while (!(alive = newThreads(before, left)).isEmpty()) {
      first = first < 0 ? alive.size() : first;
      if (System.nanoTime() - deadline > 0) {
        fail(what + ": " + alive.size() + " still alive after " + TIMEOUT + ": " + alive);
      }
      LockSupport.parkNanos(1_000_000);
    }
    return Math.max(first, 0);
  }

  private static List<String> newThreads(Set<Thread> before, Pattern left) {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> !before.contains(t) && left.matcher(t.getName()).matches())
        .map(Thread::getName)
        .sorted()
        .collect(Collectors.toList());
  }

  /**
   * OS threads of this process whose name starts with {@code prefix}, whether the JVM knows them or
   * not: the JVM names a thread it starts after its Java name, cut to 15 bytes, so a prefix of up
   * to 15 characters finds them until they have exited, key destructors included.
   */
  static int osThreadsNamed(String prefix) {
    int count = 0;
    try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
      for (Path task : (Iterable<Path>) tasks::iterator) {
        try {
          if (Files.readString(task.resolve("comm")).startsWith(prefix)) {
            count++;
          }
        } catch (IOException exited) {
          // gone between the listing and the read
        }
      }
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return count;
  }

  /** Polls until no OS thread is named with {@code prefix}, or fails at the deadline. */
  static void awaitNoOsThreadNamed(String prefix, String what) {
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    int now;
    while ((now = osThreadsNamed(prefix)) > 0) {
      if (System.nanoTime() - deadline > 0) {
        fail(
            what
                + ": "
                + now
                + " OS thread(s) named "
                + prefix
                + "... still exist after "
                + TIMEOUT);
      }
      LockSupport.parkNanos(1_000_000);
    }
  }

  /** Runs {@code body} on a new platform thread and joins it; rethrows what it threw. */
  static void runAndJoin(ThrowingRunnable body) throws Exception {
    Throwable[] thrown = new Throwable[1];
    Thread thread =
        new Thread(
            () -> {
              try {
                body.run();
              } catch (Throwable t) {
                thrown[0] = t;
              }
            });
    thread.start();
    thread.join(TIMEOUT.toMillis());
    assertTrue(!thread.isAlive(), "thread still alive after " + TIMEOUT);
    if (thrown[0] instanceof Exception) {
      throw (Exception) thrown[0];
    }
    if (thrown[0] instanceof Error) {
      throw (Error) thrown[0];
    }
  }

  @FunctionalInterface
  interface ThrowingRunnable {
    void run() throws Exception;
  }
}
