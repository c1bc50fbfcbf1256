package dev.weave.tck;

import com.sun.jna.Callback;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import dev.weave.spi.Platform;
import java.lang.ref.Reference;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Assumptions;

/**
 * The TCK's own native tools, on JNA so that they work on every JDK the TCK runs on and with any
 * backend: libc semaphores whose counts show native destructor calls with no Java in them, threads
 * started by {@code pthread_create}, the OS thread id and glibc's heap figures.
 */
public final class NativeFixtures {
  private static final NativeLibrary LIBC = NativeLibrary.getInstance("c");

  /**
   * sizeof(sem_t) is 32 on x86-64 and aarch64 glibc; a block is as big as a sigset_t (128), see
   * {@link #SIGEMPTYSET}.
   */
  private static final int SEM_T_BYTES = 128;

  /** {@code void sem_post(sem_t*)}, usable as a native destructor. */
  public static final long SEM_POST = address("sem_post");

  /** {@code int sem_trywait(sem_t*)}, usable as a native destructor that takes one count away. */
  public static final long SEM_TRYWAIT = address("sem_trywait");

  /**
   * {@code int sigemptyset(sigset_t*)}, usable as a native destructor on a {@link Semaphore}: it
   * zeroes the 128 bytes at its argument, which leaves a valid semaphore with count 0, and it
   * returns {@code EINVAL} for NULL instead of crashing. A destructor that a faulty backend calls
   * with 0 then leaves the count as it was, where {@code sem_post} would bring the JVM down.
   */
  public static final long SIGEMPTYSET = address("sigemptyset");

  /**
   * {@code int unlink(const char*)}: a native destructor whose call outlives the JVM (the file is
   * gone).
   */
  public static final long UNLINK = address("unlink");

  /** glibc's {@code M_PERTURB} option of {@code mallopt}: a glibc-only fixture. */
  private static final int M_PERTURB = -6;

  /** The byte glibc fills freed memory with once {@link #perturbFreedMemory()} has run. */
  public static final int PERTURB_BYTE = 0xA5;

  private NativeFixtures() {}

  /**
   * @return the address of a libc function
   */
  public static long address(String function) {
    return Pointer.nativeValue(LIBC.getFunction(function));
  }

  /**
   * Semaphores' memory is never freed: a backend that runs a destructor late, after the case that
   * registered it is over (a broken one may), must find a semaphore there, not freed memory. It is
   * 128 bytes a semaphore and 8 a {@link Word}, a few hundred of them in a run of the TCK.
   */
  private static final List<Memory> RETIRED = new ArrayList<>();

  /** A {@code sem_t} in native memory; {@link #close()} retires it but keeps its memory valid. */
  public static final class Semaphore implements AutoCloseable {
    private final Memory memory = new Memory(SEM_T_BYTES);

    public Semaphore() {
      memory.clear();
      int error = LIBC.getFunction("sem_init").invokeInt(new Object[] {memory, 0, 0});
      if (error != 0) {
        throw new IllegalStateException("sem_init failed: errno " + Native.getLastError());
      }
    }

    /**
     * @return the address of the {@code sem_t}, the value a native destructor is passed
     */
    public long address() {
      return Pointer.nativeValue(memory);
    }

    /** Adds {@code count} to the semaphore's count, as that many {@code sem_post}s. */
    public void post(int count) {
      for (int i = 0; i < count; i++) {
        LIBC.getFunction("sem_post").invokeInt(new Object[] {memory});
      }
    }

    /**
     * @return the semaphore's count: how many posts minus takes so far
     */
    public int value() {
      Memory out = new Memory(4);
      LIBC.getFunction("sem_getvalue").invokeInt(new Object[] {memory, out});
      return out.getInt(0);
    }

    /**
     * Waits for one post and takes it.
     *
     * @return false if none came within {@code timeout}
     */
    public boolean await(Duration timeout) {
      long deadline = System.nanoTime() + timeout.toNanos();
      Memory now = new Memory(16);
      while (true) {
        LIBC.getFunction("clock_gettime").invokeInt(new Object[] {0 /* CLOCK_REALTIME */, now});
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return LIBC.getFunction("sem_trywait").invokeInt(new Object[] {memory}) == 0;
        }
        long nanos = now.getLong(8) + Math.min(left, 100_000_000L);
        now.setLong(0, now.getLong(0) + nanos / 1_000_000_000L);
        now.setLong(8, nanos % 1_000_000_000L);
        if (LIBC.getFunction("sem_timedwait").invokeInt(new Object[] {memory, now}) == 0) {
          return true;
        }
      }
    }

    /**
     * Keeps the memory valid for good (see {@link NativeFixtures#RETIRED}); no {@code sem_destroy}.
     */
    @Override
    public void close() {
      synchronized (RETIRED) {
        RETIRED.add(memory);
      }
    }
  }

  /**
   * Makes glibc fill every block it frees from now on with {@link #PERTURB_BYTE} ({@code
   * mallopt(M_PERTURB)}, as {@code MALLOC_PERTURB_} does from the start), so that a cell read after
   * its memory was freed shows a value nobody set, instead of its old value. A glibc-only fixture:
   * elsewhere it does nothing, and a case that relies on it calls {@link #assumeGlibc(String)}.
   */
  public static void perturbFreedMemory() {
    if (Platform.current().cLibrary() == Platform.CLibrary.GLIBC) {
      LIBC.getFunction("mallopt").invokeInt(new Object[] {M_PERTURB, PERTURB_BYTE});
    }
  }

  /**
   * Skips the calling case off glibc, with the reason: for cases that rely on a glibc-only fixture
   * ({@code mallinfo2}, {@code M_PERTURB} or {@code MALLOC_PERTURB_}).
   *
   * @param fixture what the case relies on, for the reason
   */
  public static void assumeGlibc(String fixture) {
    Platform platform = Platform.current();
    Assumptions.assumeTrue(
        platform.cLibrary() == Platform.CLibrary.GLIBC,
        () -> "glibc-only fixture: " + fixture + "; this is " + platform);
  }

  /**
   * A {@code void*} variable in native memory that the test owns, as the seed's {@code thread_local
   * void*} variables are: a plain variable, not a slot's cell. A word of 0 follows it, so that a
   * word read at an unaligned address inside it reads as much of the variable's bytes as it covers
   * and zeros, never memory outside. {@link #close()} retires it like a {@link Semaphore}: a faulty
   * backend may read it late.
   */
  public static final class Word implements AutoCloseable {
    private final Memory memory = new Memory(2 * Long.BYTES);

    public Word() {
      memory.clear();
    }

    /**
     * @return the variable's address, for {@code registerNative(variable, function)}
     */
    public long address() {
      return Pointer.nativeValue(memory);
    }

    public long get() {
      return memory.getLong(0);
    }

    public void set(long value) {
      memory.setLong(0, value);
    }

    @Override
    public void close() {
      synchronized (RETIRED) {
        RETIRED.add(memory);
      }
    }
  }

  /**
   * @return the word at {@code address}: a cell read through its memory, not through its slot
   */
  public static long readWord(long address) {
    return new Pointer(address).getLong(0);
  }

  /** Writes the word at {@code address}, as native code holding a cell's address would. */
  public static void writeWord(long address, long value) {
    new Pointer(address).setLong(0, value);
  }

  /**
   * @return the calling thread's OS thread id ({@code syscall(SYS_gettid)}, its number from {@link
   *     Platform#gettidSyscall()})
   * @throws IllegalStateException naming the platform, where weave has no {@code gettid} number
   */
  public static long osThreadId() {
    Platform platform = Platform.current();
    long number =
        platform
            .gettidSyscall()
            .orElseThrow(
                () -> new IllegalStateException("no gettid system call number for " + platform));
    return LIBC.getFunction("syscall").invokeLong(new Object[] {number});
  }

  private static final Path TASKS = Path.of("/proc/self/task");

  /**
   * @return whether {@code /proc/self/task} lists this process's OS threads here
   */
  public static boolean canSeeThreads() {
    return Files.isDirectory(TASKS);
  }

  /**
   * Waits until the OS thread {@code tid} of this process has exited: after its pthread key
   * destructors, so after every weave destructor it runs.
   *
   * @return true once it has gone; false after {@code timeout}, or at once if {@link
   *     #canSeeThreads()} is false
   */
  public static boolean awaitThreadExit(long tid, Duration timeout) {
    if (!canSeeThreads()) {
      return false;
    }
    Path task = TASKS.resolve(Long.toString(tid));
    long deadline = System.nanoTime() + timeout.toNanos();
    long pause = 50_000;
    while (Files.exists(task)) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      LockSupport.parkNanos(pause);
      pause = Math.min(pause * 2, 5_000_000);
    }
    return true;
  }

  /** glibc's {@code struct mallinfo2}. */
  @Structure.FieldOrder({
    "arena",
    "ordblks",
    "smblks",
    "hblks",
    "hblkhd",
    "usmblks",
    "fsmblks",
    "uordblks",
    "fordblks",
    "keepcost"
  })
  public static class MallInfo2 extends Structure implements Structure.ByValue {
    public long arena,
        ordblks,
        smblks,
        hblks,
        hblkhd,
        usmblks,
        fsmblks,
        uordblks,
        fordblks,
        keepcost;

    /** Made by JNA for the returned structure. */
    public MallInfo2() {}
  }

  /**
   * A glibc-only fixture: elsewhere it skips the calling case, with that reason ({@link
   * #assumeGlibc(String)}).
   *
   * @return bytes of C heap in use (glibc {@code mallinfo2}: allocated small blocks plus mmapped
   *     ones)
   */
  public static long heapInUse() {
    assumeGlibc("mallinfo2");
    MallInfo2 info =
        (MallInfo2) LIBC.getFunction("mallinfo2").invoke(MallInfo2.class, new Object[0]);
    return info.uordblks + info.hblkhd;
  }

  /** {@code void *(*start_routine)(void *)} for {@code pthread_create}. */
  public interface StartRoutine extends Callback {
    Pointer run(Pointer argument);
  }

  /** {@code ssize_t (*)(void *cookie, const char *buffer, size_t size)}, a stream's write. */
  public interface CookieWrite extends Callback {
    long invoke(Pointer cookie, Pointer buffer, long size);
  }

  /** {@code int (*)(void *cookie)}, a stream's close. */
  public interface CookieClose extends Callback {
    int invoke(Pointer cookie);
  }

  /** glibc's {@code cookie_io_functions_t}, passed by value to {@code fopencookie}. */
  @Structure.FieldOrder({"read", "write", "seek", "close"})
  public static class CookieFunctions extends Structure implements Structure.ByValue {
    public Pointer read;
    public CookieWrite write;
    public Pointer seek;
    public CookieClose close;

    /** Made by JNA and by {@link #runAttachedTwice}. */
    public CookieFunctions() {}
  }

  /**
   * Runs {@code first}, then {@code second}, on one OS thread started by {@code pthread_create},
   * each in its own attachment to the JVM (so with two different {@link Thread} objects), and joins
   * the thread. The thread's start routine is libc's {@code fclose} on a {@code fopencookie} stream
   * holding one unwritten byte: native code then calls the stream's write and close functions, two
   * JNA callbacks, and JNA attaches the thread for each and detaches it after.
   */
  public static void runAttachedTwice(Runnable first, Runnable second) {
    List<Throwable> failures = new ArrayList<>();
    CookieFunctions functions = new CookieFunctions();
    functions.write =
        (cookie, buffer, size) -> {
          runCatching(first, failures);
          return size;
        };
    functions.close =
        cookie -> {
          runCatching(second, failures);
          return 0;
        };
    Pointer stream =
        LIBC.getFunction("fopencookie").invokePointer(new Object[] {null, "w", functions});
    if (stream == null) {
      throw new IllegalStateException("fopencookie failed: errno " + Native.getLastError());
    }
    LIBC.getFunction("fputc").invokeInt(new Object[] {'x', stream}); // buffered until fclose
    Memory thread = new Memory(8);
    int error =
        LIBC.getFunction("pthread_create")
            .invokeInt(new Object[] {thread, null, LIBC.getFunction("fclose"), stream});
    if (error != 0) {
      throw new IllegalStateException("pthread_create failed: " + error);
    }
    LIBC.getFunction("pthread_join").invokeInt(new Object[] {new Pointer(thread.getLong(0)), null});
    // JNA frees a callback's stub once the object is collected
    Reference.reachabilityFence(functions);
    rethrowFirst(failures);
  }

  private static void runCatching(Runnable body, List<Throwable> failures) {
    try {
      body.run();
    } catch (Throwable t) {
      synchronized (failures) {
        failures.add(t);
      }
    }
  }

  private static void rethrowFirst(List<Throwable> failures) {
    if (!failures.isEmpty()) {
      AssertionError error =
          new AssertionError("a native thread's body failed: " + failures.get(0), failures.get(0));
      failures.stream().skip(1).forEach(error::addSuppressed);
      throw error;
    }
  }

  /**
   * Runs {@code body} on {@code count} threads started by {@code pthread_create}, not by Java, and
   * joins them with {@code pthread_join}. The threads return from native code and die there.
   */
  public static void runOnNativeThreads(int count, Runnable body) {
    List<Throwable> failures = new ArrayList<>();
    StartRoutine routine =
        argument -> {
          runCatching(body, failures);
          return null;
        };
    Memory threads = new Memory(8L * count);
    for (int i = 0; i < count; i++) {
      int error =
          LIBC.getFunction("pthread_create")
              .invokeInt(new Object[] {threads.share(8L * i), null, routine, null});
      if (error != 0) {
        throw new IllegalStateException("pthread_create failed: " + error);
      }
    }
    for (int i = 0; i < count; i++) {
      LIBC.getFunction("pthread_join")
          .invokeInt(new Object[] {new Pointer(threads.getLong(8L * i)), null});
    }
    // JNA frees a callback's stub once the object is collected
    Reference.reachabilityFence(routine);
    rethrowFirst(failures);
  }
}
