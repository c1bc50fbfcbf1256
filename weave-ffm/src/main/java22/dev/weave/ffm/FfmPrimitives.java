package dev.weave.ffm;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import dev.weave.spi.NativePrimitives;
import dev.weave.spi.ThreadDeathHandler;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * libc and the JVM's invocation interface through {@code java.lang.foreign}.
 *
 * <p>An FFM upcall on a dying thread attaches the thread to the JVM and never detaches it, so each
 * thread-death upcall ends by setting a second key whose destructor is the JVM's own {@code
 * DetachCurrentThread}: glibc calls it after the upcall has returned.
 */
public final class FfmPrimitives implements NativePrimitives {
  private static final Linker LINKER = Linker.nativeLinker();
  private static final SymbolLookup LIBC = LINKER.defaultLookup();
  private static final MemorySegment ALL_MEMORY = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);
  /** Cells are 8-byte aligned by calloc; the unaligned layout only spares the check on each access. */
  private static final ValueLayout.OfLong WORD = JAVA_LONG_UNALIGNED;
  private static final FunctionDescriptor DESTRUCTOR = FunctionDescriptor.ofVoid(ADDRESS);
  private static final int JNI_OK = 0;
  private static final int DETACH_CURRENT_THREAD_SLOT = 5;

  private static final MethodHandle CALLOC =
      downcall("calloc", FunctionDescriptor.of(ADDRESS, JAVA_LONG, JAVA_LONG));
  private static final MethodHandle FREE = downcall("free", DESTRUCTOR);
  private static final MethodHandle KEY_CREATE =
      downcall("pthread_key_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
  private static final MethodHandle KEY_DELETE =
      downcall("pthread_key_delete", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
  private static final MethodHandle GET_SPECIFIC =
      downcall("pthread_getspecific", FunctionDescriptor.of(ADDRESS, JAVA_INT));
  private static final MethodHandle SET_SPECIFIC =
      downcall("pthread_setspecific", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
  private static final MethodHandle CALL_DESTRUCTOR = LINKER.downcallHandle(DESTRUCTOR);
  private static final MethodHandle THREAD_DIED;

  static {
    try {
      THREAD_DIED =
          MethodHandles.lookup()
              .findVirtual(
                  Walker.class, "threadDied", MethodType.methodType(void.class, MemorySegment.class));
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final long freeFunction = LIBC.find("free").orElseThrow().address();
  private final long javaVm;
  private final long detachKey;

  public FfmPrimitives() {
    javaVm = createdJavaVm();
    long detachCurrentThread = getWord(getWord(javaVm) + DETACH_CURRENT_THREAD_SLOT * (long) Long.BYTES);
    detachKey = createKey(detachCurrentThread);
  }

  @Override
  public long allocateZeroed(long bytes) {
    MemorySegment memory;
    try {
      memory = (MemorySegment) CALLOC.invokeExact(1L, bytes);
    } catch (Throwable t) {
      throw rethrow(t);
    }
    if (memory.address() == 0) {
      throw new OutOfMemoryError("calloc(1, " + bytes + ") failed");
    }
    return memory.address();
  }

  @Override
  public void free(long address) {
    try {
      FREE.invokeExact(MemorySegment.ofAddress(address));
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  @Override
  public long getWord(long address) {
    return ALL_MEMORY.get(WORD, address);
  }

  @Override
  public void putWord(long address, long value) {
    ALL_MEMORY.set(WORD, address, value);
  }

  @Override
  public long freeFunction() {
    return freeFunction;
  }

  @Override
  public long createKey(long destructorFunction) {
    return createKey(MemorySegment.ofAddress(destructorFunction));
  }

  @Override
  public long createKey(ThreadDeathHandler handler) {
    // The stub lives as long as the JVM: the key may call it until the process ends.
    MemorySegment stub =
        LINKER.upcallStub(THREAD_DIED.bindTo(new Walker(handler)), DESTRUCTOR, Arena.global());
    return createKey(stub);
  }

  private static long createKey(MemorySegment destructor) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment key = arena.allocate(JAVA_INT);
      int error = (int) KEY_CREATE.invokeExact(key, destructor);
      check(error, "pthread_key_create");
      return Integer.toUnsignedLong(key.get(JAVA_INT, 0));
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  @Override
  public long getKey(long key) {
    try {
      return ((MemorySegment) GET_SPECIFIC.invokeExact((int) key)).address();
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  @Override
  public void setKey(long key, long value) {
    int error;
    try {
      error = (int) SET_SPECIFIC.invokeExact((int) key, MemorySegment.ofAddress(value));
    } catch (Throwable t) {
      throw rethrow(t);
    }
    check(error, "pthread_setspecific");
  }

  @Override
  public void deleteKey(long key) {
    int error;
    try {
      error = (int) KEY_DELETE.invokeExact((int) key);
    } catch (Throwable t) {
      throw rethrow(t);
    }
    check(error, "pthread_key_delete");
  }

  @Override
  public void callDestructor(long function, long argument) {
    try {
      CALL_DESTRUCTOR.invokeExact(MemorySegment.ofAddress(function), MemorySegment.ofAddress(argument));
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** The upcall target. Nothing may escape it: an exception in an upcall ends the JVM. */
  private final class Walker {
    private final ThreadDeathHandler handler;

    Walker(ThreadDeathHandler handler) {
      this.handler = handler;
    }

    @SuppressWarnings("unused") // called from native code
    void threadDied(MemorySegment value) {
      try {
        handler.threadDied(value.address());
      } catch (Throwable ignored) {
        // the handler never throws; this only keeps native code safe if it does
      }
      try {
        setKey(detachKey, javaVm);
      } catch (Throwable ignored) {
        // the thread then stays attached; nothing better can be done from here
      }
    }
  }

  private static long createdJavaVm() {
    SymbolLookup jvm = SymbolLookup.libraryLookup(libjvm(), Arena.global());
    MethodHandle getCreatedJavaVms =
        LINKER.downcallHandle(
            jvm.find("JNI_GetCreatedJavaVMs").orElseThrow(),
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment vms = arena.allocate(ADDRESS);
      MemorySegment count = arena.allocate(JAVA_INT);
      int result = (int) getCreatedJavaVms.invokeExact(vms, 1, count);
      if (result != JNI_OK || count.get(JAVA_INT, 0) < 1) {
        throw new IllegalStateException("JNI_GetCreatedJavaVMs returned " + result);
      }
      return vms.get(ADDRESS, 0).address();
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  private static Path libjvm() {
    Path lib = Path.of(System.getProperty("java.home"), "lib");
    for (String variant : new String[] {"server", "client", "zero", "minimal"}) {
      Path candidate = lib.resolve(variant).resolve("libjvm.so");
      if (Files.exists(candidate)) {
        return candidate;
      }
    }
    try (Stream<Path> found = Files.find(lib, 2, (path, attributes) -> path.endsWith("libjvm.so"))) {
      return found.findFirst().orElseThrow(() -> new IllegalStateException("no libjvm.so under " + lib));
    } catch (java.io.IOException e) {
      throw new IllegalStateException("no libjvm.so under " + lib, e);
    }
  }

  private static MethodHandle downcall(String name, FunctionDescriptor descriptor) {
    return LINKER.downcallHandle(LIBC.find(name).orElseThrow(() -> new UnsatisfiedLinkError(name)), descriptor);
  }

  private static void check(int error, String function) {
    if (error != 0) {
      throw new IllegalStateException(function + " failed with error " + error);
    }
  }

  private static RuntimeException rethrow(Throwable t) {
    if (t instanceof RuntimeException runtime) {
      throw runtime;
    }
    if (t instanceof Error error) {
      throw error;
    }
    throw new IllegalStateException(t);
  }
}
