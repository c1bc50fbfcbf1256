package dev.weave.bench;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;

/**
 * The benchmarks' own native tools, on raw {@code java.lang.foreign} so that they cost the same
 * whichever backend is measured: the pthread-key floor, libc semaphores that native destructors
 * post, the addresses of two libc functions to register, and glibc's heap figures.
 */
final class Libc {
  private static final Linker LINKER = Linker.nativeLinker();

  /**
   * {@code void free(void*)}: as a native destructor of a variable holding 0 it does nothing, in C.
   */
  static final long FREE = address("free");

  /** {@code int sem_post(sem_t*)}: as a native destructor, says "the destructors before me ran". */
  static final long SEM_POST = address("sem_post");

  /** {@code void *pthread_getspecific(pthread_key_t)}, the pointer returned as a {@code long}. */
  private static final MethodHandle GETSPECIFIC =
      downcall("pthread_getspecific", FunctionDescriptor.of(JAVA_LONG, JAVA_INT));

  /** The same, as a critical downcall: no thread-state transition (the call cannot block). */
  private static final MethodHandle GETSPECIFIC_CRITICAL =
      downcall(
          "pthread_getspecific",
          FunctionDescriptor.of(JAVA_LONG, JAVA_INT),
          Linker.Option.critical(false));

  private static final MethodHandle SETSPECIFIC =
      downcall("pthread_setspecific", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));
  private static final MethodHandle KEY_CREATE =
      downcall("pthread_key_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
  private static final MethodHandle SEM_INIT =
      downcall("sem_init", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT));
  private static final MethodHandle SEM_WAIT =
      downcall("sem_wait", FunctionDescriptor.of(JAVA_INT, JAVA_LONG));

  /** glibc's {@code struct mallinfo2}: ten {@code size_t}. */
  private static final StructLayout MALLINFO2_LAYOUT =
      MemoryLayout.structLayout(
          JAVA_LONG.withName("arena"),
          JAVA_LONG.withName("ordblks"),
          JAVA_LONG.withName("smblks"),
          JAVA_LONG.withName("hblks"),
          JAVA_LONG.withName("hblkhd"),
          JAVA_LONG.withName("usmblks"),
          JAVA_LONG.withName("fsmblks"),
          JAVA_LONG.withName("uordblks"),
          JAVA_LONG.withName("fordblks"),
          JAVA_LONG.withName("keepcost"));

  private static final MethodHandle MALLINFO2 =
      downcall("mallinfo2", FunctionDescriptor.of(MALLINFO2_LAYOUT));
  private static final long HBLKHD =
      MALLINFO2_LAYOUT.byteOffset(MemoryLayout.PathElement.groupElement("hblkhd"));
  private static final long UORDBLKS =
      MALLINFO2_LAYOUT.byteOffset(MemoryLayout.PathElement.groupElement("uordblks"));

  /**
   * Where mallinfo2 returns its struct: allocated once, so that reading the heap figures mallocs
   * nothing.
   */
  private static final MemorySegment MALLINFO2_RESULT = Arena.global().allocate(MALLINFO2_LAYOUT);

  private static final SegmentAllocator MALLINFO2_ALLOCATOR =
      SegmentAllocator.prefixAllocator(MALLINFO2_RESULT);

  private static final int SEM_T_BYTES = 64; // sizeof(sem_t) is 32 on x86-64 and aarch64 glibc

  private Libc() {}

  static long address(String function) {
    return LINKER
        .defaultLookup()
        .find(function)
        .orElseThrow(() -> new UnsatisfiedLinkError(function))
        .address();
  }

  /**
   * @return a new pthread key with no destructor
   */
  static int newKey() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment key = arena.allocate(JAVA_INT);
      check((int) KEY_CREATE.invokeExact(key, 0L), "pthread_key_create");
      return key.get(JAVA_INT, 0);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  static long getSpecific(int key) {
    try {
      return (long) GETSPECIFIC.invokeExact(key);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  static long getSpecificCritical(int key) {
    try {
      return (long) GETSPECIFIC_CRITICAL.invokeExact(key);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  static int setSpecific(int key, long value) {
    try {
      return (int) SETSPECIFIC.invokeExact(key, value);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /**
   * @return the address of a new process-private {@code sem_t} with count 0; never freed
   */
  static long newSemaphore() {
    long sem = Arena.global().allocate(SEM_T_BYTES, 16).address();
    try {
      check((int) SEM_INIT.invokeExact(sem, 0, 0), "sem_init");
    } catch (Throwable t) {
      throw rethrow(t);
    }
    return sem;
  }

  /** Blocks until the semaphore has a count, and takes it (again after a signal, as under JFR). */
  static void semWait(long sem) {
    try {
      while ((int) SEM_WAIT.invokeExact(sem) != 0) {
        // EINTR: the semaphore is valid, so nothing else can fail
      }
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /**
   * @return bytes of C heap in use, as glibc's {@code mallinfo2} counts them over every arena:
   *     allocated chunks (with their headers) plus mmapped blocks. Mallocs nothing itself; not
   *     thread-safe (one result buffer).
   */
  static synchronized long heapInUse() {
    MemorySegment info;
    try {
      info = (MemorySegment) MALLINFO2.invokeExact(MALLINFO2_ALLOCATOR);
    } catch (Throwable t) {
      throw rethrow(t);
    }
    return info.get(JAVA_LONG, UORDBLKS) + info.get(JAVA_LONG, HBLKHD);
  }

  @SuppressWarnings("restricted") // the benchmarks run with --enable-native-access=ALL-UNNAMED
  private static MethodHandle downcall(
      String name, FunctionDescriptor descriptor, Linker.Option... options) {
    return LINKER.downcallHandle(
        LINKER.defaultLookup().find(name).orElseThrow(() -> new UnsatisfiedLinkError(name)),
        descriptor,
        options);
  }

  private static void check(int error, String function) {
    if (error != 0) {
      throw new IllegalStateException(function + " failed: " + error);
    }
  }

  private static RuntimeException rethrow(Throwable t) {
    if (t instanceof RuntimeException runtime) {
      return runtime;
    }
    if (t instanceof Error error) {
      throw error;
    }
    return new IllegalStateException(t);
  }
}
