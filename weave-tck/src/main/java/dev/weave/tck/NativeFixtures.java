package dev.weave.tck;

import com.sun.jna.Callback;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import java.lang.ref.Reference;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The TCK's own native tools, on JNA so that they work on every JDK the TCK runs on and with any
 * backend: libc semaphores whose counts show native destructor calls with no Java in them, threads
 * started by {@code pthread_create}, the OS thread id and glibc's heap figures.
 */
public final class NativeFixtures {
  private static final NativeLibrary LIBC = NativeLibrary.getInstance("c");
  private static final int SEM_T_BYTES = 64; // sizeof(sem_t) is 32 on x86-64 and aarch64 glibc
  private static final long SYS_GETTID_X86_64 = 186;
  private static final long SYS_GETTID_AARCH64 = 178;

  /** {@code void sem_post(sem_t*)}, usable as a native destructor. */
  public static final long SEM_POST = address("sem_post");

  /** {@code int sem_trywait(sem_t*)}, usable as a native destructor that takes one count away. */
  public static final long SEM_TRYWAIT = address("sem_trywait");

  private NativeFixtures() {}

  /** @return the address of a libc function */
  public static long address(String function) {
    return Pointer.nativeValue(LIBC.getFunction(function));
  }

  /** A {@code sem_t} in native memory, freed by {@link #close()}. */
  public static final class Semaphore implements AutoCloseable {
    private final Memory memory = new Memory(SEM_T_BYTES);

    public Semaphore() {
      int error = LIBC.getFunction("sem_init").invokeInt(new Object[] {memory, 0, 0});
      if (error != 0) {
        throw new IllegalStateException("sem_init failed: errno " + Native.getLastError());
      }
    }

    /** @return the address of the {@code sem_t}, the value a native destructor is passed */
    public long address() {
      return Pointer.nativeValue(memory);
    }

    /** @return the semaphore's count: how many posts minus takes so far */
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

    @Override
    public void close() {
      LIBC.getFunction("sem_destroy").invokeInt(new Object[] {memory});
      memory.close();
    }
  }

  /** @return the calling thread's OS thread id */
  public static long osThreadId() {
    String arch = System.getProperty("os.arch");
    long number = arch.equals("aarch64") ? SYS_GETTID_AARCH64 : SYS_GETTID_X86_64;
    return LIBC.getFunction("syscall").invokeLong(new Object[] {number});
  }

  /** glibc's {@code struct mallinfo2}. */
  @Structure.FieldOrder({"arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost"})
  public static class MallInfo2 extends Structure implements Structure.ByValue {
    public long arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost;
  }

  /** @return bytes of C heap in use (glibc {@code mallinfo2}: allocated small blocks plus mmapped ones) */
  public static long heapInUse() {
    MallInfo2 info = (MallInfo2) LIBC.getFunction("mallinfo2").invoke(MallInfo2.class, new Object[0]);
    return info.uordblks + info.hblkhd;
  }

  /** {@code void *(*start_routine)(void *)} for {@code pthread_create}. */
  public interface StartRoutine extends Callback {
    Pointer run(Pointer argument);
  }

  /**
   * Runs {@code body} on {@code count} threads started by {@code pthread_create}, not by Java, and
   * joins them with {@code pthread_join}. The threads return from native code and die there.
   */
  public static void runOnNativeThreads(int count, Runnable body) {
    List<Throwable> failures = new ArrayList<>();
    StartRoutine routine =
        argument -> {
          try {
            body.run();
          } catch (Throwable t) {
            synchronized (failures) {
              failures.add(t);
            }
          }
          return null;
        };
    Memory threads = new Memory(8L * count);
    for (int i = 0; i < count; i++) {
      int error =
          LIBC.getFunction("pthread_create").invokeInt(new Object[] {threads.share(8L * i), null, routine, null});
      if (error != 0) {
        throw new IllegalStateException("pthread_create failed: " + error);
      }
    }
    for (int i = 0; i < count; i++) {
      LIBC.getFunction("pthread_join").invokeInt(new Object[] {new Pointer(threads.getLong(8L * i)), null});
    }
    // JNA frees a callback's stub once the object is collected
    Reference.reachabilityFence(routine);
    if (!failures.isEmpty()) {
      AssertionError error = new AssertionError("a native thread's body failed", failures.get(0));
      failures.stream().skip(1).forEach(error::addSuppressed);
      throw error;
    }
  }
}
