package dev.weave.ffm;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import dev.weave.spi.Diagnostics;
import dev.weave.spi.NativePrimitives;
import dev.weave.spi.Platform;
import dev.weave.spi.Platform.PthreadKeys;
import dev.weave.spi.SharedLibrary;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * libc and the JVM's invocation interface through {@code java.lang.foreign}.
 *
 * <p>An FFM upcall on a dying thread attaches the thread to the JVM and never detaches it, so a
 * thread-death upcall that had to attach the thread ends by setting a second key, the detach key,
 * whose destructor is the JVM's own {@code DetachCurrentThread}: glibc calls it after the upcall
 * has returned. A thread that was still attached when the upcall began (by weave.h, or by its own
 * code) is left attached, for its own detach. What this relies on:
 *
 * <ul>
 *   <li>The JDK's {@code UpcallLinker::maybe_attach_and_get_thread} (JDK 22 to 25) attaches an
 *       unattached thread with {@code AttachCurrentThreadAsDaemon} and no name, so the attachment's
 *       {@link Thread} is a daemon named {@code Thread-N}; it detaches it only from a C++ {@code
 *       thread_local} destructor, which glibc runs before pthread key destructors, so an attachment
 *       made during them is never detached by the JDK.
 *   <li>An attachment is a new {@link Thread}, with no {@link ThreadLocal}s. The engine calls
 *       {@link #getKey} or {@link #setKey} on a thread in every attachment that used weave, and
 *       these mark the attachment in a {@code ThreadLocal} of this class; so does a walker that
 *       made one. An upcall that finds an unmarked daemon named {@code Thread-N} made that
 *       attachment itself. (An attachment its owner made as an unnamed daemon and never used weave
 *       in, still attached at exit, is taken for the upcall's own and detached.)
 *   <li>glibc gives a new key the lowest free index, visits keys in index order in each of its 4
 *       destructor passes, and visits a key set during a pass in that pass if its index is higher.
 *       The detach key is kept above every thread-death key of this instance (the engine's walker
 *       key, and in checked mode the checker's memory keys, which free through a callback too): a
 *       thread-death key made above it gets a new detach key above it. So the detach follows the
 *       walk in the same pass, the 4th and last included. An older detach key is kept, never
 *       deleted: a dying thread may have set it.
 *   <li>{@code DetachCurrentThread} on a thread that is not attached does nothing.
 * </ul>
 */
public final class FfmPrimitives implements NativePrimitives {
  private static final Linker LINKER = Linker.nativeLinker();
  private static final SymbolLookup LIBC = LINKER.defaultLookup();
  private static final MemorySegment ALL_MEMORY = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

  /**
   * Cells are 8-byte aligned by calloc; the unaligned layout only spares the check on each access.
   */
  private static final ValueLayout.OfLong WORD = JAVA_LONG_UNALIGNED;

  private static final FunctionDescriptor DESTRUCTOR = FunctionDescriptor.ofVoid(ADDRESS);
  private static final int JNI_OK = 0;
  private static final int DETACH_CURRENT_THREAD_SLOT = 5;

  private static final MethodHandle CALLOC =
      downcall("calloc", FunctionDescriptor.of(ADDRESS, JAVA_LONG, JAVA_LONG));
  private static final MethodHandle FREE = downcall("free", DESTRUCTOR);

  /** {@code pthread_key_t}: 4 bytes on glibc and musl, 8 on macOS; weave passes keys as long. */
  private static final PthreadKeys KEYS = Platform.current().requirePthreadKeys();

  private static final ValueLayout KEY = KEYS.keyBytes() == Long.BYTES ? JAVA_LONG : JAVA_INT;

  private static final MethodHandle KEY_CREATE =
      downcall("pthread_key_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
  private static final MethodHandle KEY_DELETE =
      keyAsLong(downcall("pthread_key_delete", FunctionDescriptor.of(JAVA_INT, KEY)));
  // Critical: short calls that never block or call back, on every register and unregister.
  private static final MethodHandle GET_SPECIFIC =
      keyAsLong(
          downcall(
              "pthread_getspecific",
              FunctionDescriptor.of(ADDRESS, KEY),
              Linker.Option.critical(false)));
  private static final MethodHandle SET_SPECIFIC =
      keyAsLong(
          downcall(
              "pthread_setspecific",
              FunctionDescriptor.of(JAVA_INT, KEY, ADDRESS),
              Linker.Option.critical(false)));
  private static final MethodHandle CALL_DESTRUCTOR = LINKER.downcallHandle(DESTRUCTOR);
  private static final MethodHandle THREAD_DIED;
  private static final MethodHandle CALLED;

  static {
    try {
      MethodType ofAddress = MethodType.methodType(void.class, MemorySegment.class);
      THREAD_DIED = MethodHandles.lookup().findVirtual(Walker.class, "threadDied", ofAddress);
      CALLED = MethodHandles.lookup().findVirtual(Callback.class, "called", ofAddress);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** Set on an attachment (a {@link Thread}) that weave has seen before a thread-death upcall. */
  private static final ThreadLocal<Boolean> ATTACHMENT_SEEN = new ThreadLocal<>();

  private static final String UNNAMED_THREAD_PREFIX = "Thread-";

  private final long freeFunction = LIBC.find("free").orElseThrow().address();
  private final long javaVm;
  private final long detachCurrentThread;

  /** Above every thread-death key made so far. Guarded by this for writes. */
  private volatile long detachKey;

  /** Finds the JVM and its {@code DetachCurrentThread}; throws where the foreign API is denied. */
  public FfmPrimitives() {
    javaVm = createdJavaVm();
    detachCurrentThread = getWord(getWord(javaVm) + DETACH_CURRENT_THREAD_SLOT * (long) Long.BYTES);
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
    Objects.requireNonNull(handler, "handler is null");
    // The stub lives as long as the JVM: the key may call it until the process ends.
    MemorySegment stub =
        LINKER.upcallStub(THREAD_DIED.bindTo(new Walker(handler)), DESTRUCTOR, Arena.global());
    long walkerKey = createKey(stub);
    synchronized (this) {
      if (detachKey < walkerKey) {
        try {
          detachKey = createKeyAbove(walkerKey, MemorySegment.ofAddress(detachCurrentThread));
        } catch (RuntimeException | Error e) {
          deleteKeyQuietly(walkerKey, e);
          throw e;
        }
      }
    }
    return walkerKey;
  }

  /**
   * An upcall stub in the global arena: the native walker calls it on a thread it has attached, so
   * the JDK neither attaches the thread for it nor leaves an attachment behind.
   */
  @Override
  public long callbackFunction(ThreadDeathHandler handler) {
    Objects.requireNonNull(handler, "handler is null");
    return LINKER
        .upcallStub(CALLED.bindTo(new Callback(handler)), DESTRUCTOR, Arena.global())
        .address();
  }

  private static long createKey(MemorySegment destructor) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment key = arena.allocate(KEY);
      int error = (int) KEY_CREATE.invokeExact(key, destructor);
      Diagnostics.check(error, "pthread_key_create");
      return KEY == JAVA_LONG
          ? key.get(JAVA_LONG, 0)
          : Integer.toUnsignedLong(key.get(JAVA_INT, 0));
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /**
   * A key whose index is above {@code floor}: glibc gives the lowest free index, so the free ones
   * below are held until one above comes, then given back.
   */
  private long createKeyAbove(long floor, MemorySegment destructor) {
    List<Long> below = new ArrayList<>();
    try {
      while (true) {
        long key = createKey(destructor);
        if (key > floor) {
          return key;
        }
        below.add(key);
      }
    } finally {
      for (long key : below) {
        deleteKeyQuietly(key, null);
      }
    }
  }

  /** Gives back a key this instance just made; a failure to is added to {@code failure}, if any. */
  private void deleteKeyQuietly(long key, Throwable failure) {
    try {
      deleteKey(key);
    } catch (RuntimeException | Error e) {
      if (failure != null) {
        failure.addSuppressed(e);
      }
    }
  }

  @Override
  public long getKey(long key) {
    markAttachmentSeen();
    try {
      return ((MemorySegment) GET_SPECIFIC.invokeExact(fit(key))).address();
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  @Override
  public void setKey(long key, long value) {
    markAttachmentSeen();
    int error;
    try {
      error = (int) SET_SPECIFIC.invokeExact(fit(key), MemorySegment.ofAddress(value));
    } catch (Throwable t) {
      throw rethrow(t);
    }
    Diagnostics.check(error, "pthread_setspecific");
  }

  @Override
  public void deleteKey(long key) {
    int error;
    try {
      error = (int) KEY_DELETE.invokeExact(fit(key));
    } catch (Throwable t) {
      throw rethrow(t);
    }
    Diagnostics.check(error, "pthread_key_delete");
  }

  /** Opens weave's native walker with {@link SymbolLookup#libraryLookup}, for the JVM's life. */
  @Override
  public Optional<SharedLibrary.Loader> libraryLoader() {
    return Optional.of(FfmLibrary.LOADER);
  }

  @Override
  public void callDestructor(long function, long argument) {
    try {
      CALL_DESTRUCTOR.invokeExact(
          MemorySegment.ofAddress(function), MemorySegment.ofAddress(argument));
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** Called by the engine on every attachment that used weave: see the class's Javadoc. */
  private static void markAttachmentSeen() {
    if (ATTACHMENT_SEEN.get() == null) {
      ATTACHMENT_SEEN.set(Boolean.TRUE);
    }
  }

  /**
   * Whether the JDK attached the calling thread for the upcall now running: an unmarked daemon
   * named {@code Thread-N} (see the class's Javadoc).
   */
  private static boolean attachedForThisUpcall() {
    Thread thread = Thread.currentThread();
    if (ATTACHMENT_SEEN.get() != null || !thread.isDaemon()) {
      return false;
    }
    String name = thread.getName();
    if (!name.startsWith(UNNAMED_THREAD_PREFIX)
        || name.length() == UNNAMED_THREAD_PREFIX.length()) {
      return false;
    }
    for (int i = UNNAMED_THREAD_PREFIX.length(); i < name.length(); i++) {
      if (!Character.isDigit(name.charAt(i))) {
        return false;
      }
    }
    return true;
  }

  /** The upcall target. Nothing may escape it: an exception in an upcall ends the JVM. */
  private final class Walker {
    private final ThreadDeathHandler handler;

    Walker(ThreadDeathHandler handler) {
      this.handler = handler;
    }

    @SuppressWarnings("unused") // called from native code
    void threadDied(MemorySegment value) {
      boolean attachedHere =
          true; // if even that cannot be told, detach: a leaked thread stays for good
      try {
        attachedHere = attachedForThisUpcall();
        // A later walker in this pass finds the attachment seen, and leaves its detach to this one.
        markAttachmentSeen();
      } catch (Throwable ignored) {
        // keeps the default
      }
      try {
        handler.threadDied(value.address());
      } catch (Throwable ignored) {
        // the handler never throws; this only keeps native code safe if it does
      }
      if (attachedHere) {
        try {
          setKey(detachKey, javaVm);
        } catch (Throwable ignored) {
          // the thread then stays attached; nothing better can be done from here
        }
      }
    }
  }

  /** The target of {@link #callbackFunction}. Nothing may escape it: that would end the JVM. */
  private static final class Callback {
    private final ThreadDeathHandler handler;

    Callback(ThreadDeathHandler handler) {
      this.handler = handler;
    }

    @SuppressWarnings("unused") // called from native code
    void called(MemorySegment value) {
      try {
        handler.threadDied(value.address());
      } catch (Throwable ignored) {
        // the handler never throws; this only keeps native code safe if it does
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

  /** The JVM's own library, loaded already: where {@code JNI_GetCreatedJavaVMs} is. */
  static Path libjvm() {
    String file = Platform.current().libjvmFileName();
    Path lib = Path.of(System.getProperty("java.home"), "lib");
    for (String variant : new String[] {"server", "client", "zero", "minimal"}) {
      Path candidate = lib.resolve(variant).resolve(file);
      if (Files.exists(candidate)) {
        return candidate;
      }
    }
    try (Stream<Path> found = Files.find(lib, 2, (path, attributes) -> path.endsWith(file))) {
      return found
          .findFirst()
          .orElseThrow(() -> new IllegalStateException("no " + file + " under " + lib));
    } catch (java.io.IOException e) {
      throw new IllegalStateException("no " + file + " under " + lib, e);
    }
  }

  private static MethodHandle downcall(
      String name, FunctionDescriptor descriptor, Linker.Option... options) {
    return LINKER.downcallHandle(
        LIBC.find(name).orElseThrow(() -> new UnsatisfiedLinkError(name)), descriptor, options);
  }

  /**
   * A handle whose first parameter, a {@code pthread_key_t}, is taken as a long: {@link #fit} has
   * checked that the key fits the platform's width.
   */
  private static MethodHandle keyAsLong(MethodHandle handle) {
    return MethodHandles.explicitCastArguments(
        handle, handle.type().changeParameterType(0, long.class));
  }

  /** The key, checked to fit a 4-byte {@code pthread_key_t} where keys are 4 bytes. */
  private static long fit(long key) {
    return KEY == JAVA_LONG ? key : KEYS.narrow(key);
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
