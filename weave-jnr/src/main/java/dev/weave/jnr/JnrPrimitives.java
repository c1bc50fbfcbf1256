package dev.weave.jnr;

import com.kenai.jffi.CallContext;
import com.kenai.jffi.CallingConvention;
import com.kenai.jffi.Invoker;
import com.kenai.jffi.MemoryIO;
import com.kenai.jffi.Type;
import dev.weave.jnr.Bindings.KeyDestructor;
import dev.weave.jnr.Bindings.Keys;
import dev.weave.jnr.Bindings.LibC;
import dev.weave.jnr.Bindings.WideKeys;
import dev.weave.spi.Diagnostics;
import dev.weave.spi.NativePrimitives;
import dev.weave.spi.Platform;
import dev.weave.spi.Platform.PthreadKeys;
import dev.weave.spi.SharedLibrary;
import dev.weave.spi.ThreadDeathHandler;
import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.Optional;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.Delegate;
import jnr.ffi.byref.IntByReference;
import jnr.ffi.byref.LongLongByReference;

/**
 * libc through jnr-ffi: calloc, free and the pthread key functions bound with {@link
 * LibraryLoader}, memory read and written through jnr-ffi's memory manager, native destructors
 * called through a function pointer with jffi's {@link Invoker}, and the thread-death callback as a
 * jnr-ffi {@link Delegate} closure.
 *
 * <p>jffi attaches the dying thread to the JVM (as a daemon) for the closure and detaches it after
 * the call, so no detach trick is needed here, unlike with FFM.
 *
 * <p>Public, with a public constructor, so that tests elsewhere can wrap it (to break it on
 * purpose, or to count calls). Every instance shares one libc binding.
 */
public final class JnrPrimitives implements NativePrimitives {
  /**
   * Every callback a key may call, for as long as the JVM lives: jnr-ffi recycles the native
   * closure of a callback that is no longer strongly reachable, and a pthread key outlives any
   * object.
   */
  private static final Queue<Walker> WALKERS = new ConcurrentLinkedQueue<>();

  /** jffi's switch from {@code sun.misc.Unsafe} to its own JNI memory accessors. */
  static final String UNSAFE_DISABLED = "jffi.unsafe.disabled";

  /** From this release on the JVM warns at the first use of Unsafe's memory accessors. */
  private static final int UNSAFE_WARNS_FROM = 24;

  static {
    // Before anything else of jffi's: its memory accessor is chosen once, at first use.
    chooseMemoryAccessor();
  }

  private static final Runtime RUNTIME = Runtime.getSystemRuntime();
  private static final LibC LIBC = loadLibc(LibC.class);

  /** {@code pthread_key_t}: 4 bytes on glibc and musl, 8 on macOS; weave passes keys as long. */
  private static final PthreadKeys KEYS = Platform.current().requirePthreadKeys();

  private static final boolean WIDE_KEYS = KEYS.keyBytes() == Long.BYTES;

  /** One of the two is bound, for the platform's width. */
  private static final Keys KEY_FUNCTIONS = WIDE_KEYS ? null : loadLibc(Keys.class);

  private static final WideKeys WIDE_KEY_FUNCTIONS = WIDE_KEYS ? loadLibc(WideKeys.class) : null;

  /**
   * All of memory, from address 0: {@code MEMORY.getLong(address)} reads the word at {@code
   * address}.
   */
  private static final Pointer MEMORY = RUNTIME.getMemoryManager().newPointer(0);

  private static final Invoker INVOKER = Invoker.getInstance();
  private static final CallContext VOID_OF_POINTER =
      CallContext.getCallContext(
          Type.VOID, new Type[] {Type.POINTER}, CallingConvention.DEFAULT, false);

  /**
   * {@code free} as the process resolves it (an interposed allocator included), the same symbol
   * that {@link LibC#free} is bound to.
   */
  private static final long FREE_FUNCTION = symbol("free");

  /**
   * The first instance loads jffi's native library and binds libc; if either fails, this throws (an
   * {@link ExceptionInInitializerError}, then {@link NoClassDefFoundError}s) with the reason.
   */
  public JnrPrimitives() {}

  @Override
  public long allocateZeroed(long bytes) {
    long address = LIBC.calloc(1, bytes);
    if (address == 0) {
      throw new OutOfMemoryError("calloc(1, " + bytes + ") failed");
    }
    return address;
  }

  @Override
  public void free(long address) {
    LIBC.free(address);
  }

  @Override
  public long getWord(long address) {
    return MEMORY.getLong(address);
  }

  @Override
  public void putWord(long address, long value) {
    MEMORY.putLong(address, value);
  }

  /**
   * A JNI {@code NewDirectByteBuffer} over the memory (jffi's {@code Foreign}, whichever memory
   * accessor jffi uses): one JNI call, then plain Java reads.
   */
  @Override
  public ByteBuffer directBuffer(long address, int bytes) {
    if (address == 0 || bytes < 0) {
      throw new IllegalArgumentException(
          "directBuffer(" + address + ", " + bytes + "): needs a non-NULL address and bytes >= 0");
    }
    return MemoryIO.getInstance().newDirectByteBuffer(address, bytes);
  }

  @Override
  public long freeFunction() {
    return FREE_FUNCTION;
  }

  @Override
  public long createKey(long destructorFunction) {
    if (WIDE_KEYS) {
      LongLongByReference key = new LongLongByReference();
      Diagnostics.check(
          WIDE_KEY_FUNCTIONS.pthread_key_create(key, destructorFunction), "pthread_key_create");
      return key.longValue();
    }
    IntByReference key = new IntByReference();
    Diagnostics.check(
        KEY_FUNCTIONS.pthread_key_create(key, destructorFunction), "pthread_key_create");
    return Integer.toUnsignedLong(key.intValue());
  }

  @Override
  public long createKey(ThreadDeathHandler handler) {
    return createKey(callbackFunction(handler));
  }

  /**
   * A jnr-ffi closure, kept for the JVM's life. The native walker calls it on a thread it has
   * attached, so jffi neither attaches the thread for it nor detaches it afterwards.
   */
  @Override
  public long callbackFunction(ThreadDeathHandler handler) {
    Walker walker = new Walker(Objects.requireNonNull(handler, "handler"));
    long closure =
        RUNTIME.getClosureManager().getClosurePointer(KeyDestructor.class, walker).address();
    // Never let go: a key or the native walker may call the closure until the process ends.
    WALKERS.add(walker);
    return closure;
  }

  @Override
  public long getKey(long key) {
    return WIDE_KEYS
        ? WIDE_KEY_FUNCTIONS.pthread_getspecific(key)
        : KEY_FUNCTIONS.pthread_getspecific(KEYS.narrow(key));
  }

  @Override
  public void setKey(long key, long value) {
    int error =
        WIDE_KEYS
            ? WIDE_KEY_FUNCTIONS.pthread_setspecific(key, value)
            : KEY_FUNCTIONS.pthread_setspecific(KEYS.narrow(key), value);
    Diagnostics.check(error, "pthread_setspecific");
  }

  @Override
  public void deleteKey(long key) {
    int error =
        WIDE_KEYS
            ? WIDE_KEY_FUNCTIONS.pthread_key_delete(key)
            : KEY_FUNCTIONS.pthread_key_delete(KEYS.narrow(key));
    Diagnostics.check(error, "pthread_key_delete");
  }

  /** Opens weave's native walker with jffi's {@code Library}. */
  @Override
  public Optional<SharedLibrary.Loader> libraryLoader() {
    return Optional.of(JnrLibrary.LOADER);
  }

  @Override
  public void callDestructor(long function, long argument) {
    INVOKER.invokeN1(VOID_OF_POINTER, function, argument);
  }

  /** The closure's target. Nothing may escape it into jffi's native frame. */
  private static final class Walker implements KeyDestructor {
    private final ThreadDeathHandler handler;

    Walker(ThreadDeathHandler handler) {
      this.handler = handler;
    }

    @Override
    public void destroy(long value) {
      try {
        handler.threadDied(value);
      } catch (Throwable ignored) {
        // the handler never throws; this only keeps jffi's frame clean if it does
      }
    }
  }

  /**
   * On Java 24 and newer, jffi's default memory accessor ({@code sun.misc.Unsafe}) makes the JVM
   * print a deprecation warning at its first use (and later releases will refuse it), so jffi is
   * told to use its JNI accessors instead, unless {@value #UNSAFE_DISABLED} is already set either
   * way. The property is removed again once jffi has read it; the choice holds for every jffi user
   * in this JVM. If jffi's memory accessor was already chosen by another of its users, this changes
   * nothing.
   */
  private static void chooseMemoryAccessor() {
    if (java.lang.Runtime.version().feature() < UNSAFE_WARNS_FROM
        || System.getProperty(UNSAFE_DISABLED) != null) {
      return;
    }
    System.setProperty(UNSAFE_DISABLED, "true");
    try {
      MemoryIO.getInstance();
    } finally {
      System.clearProperty(UNSAFE_DISABLED);
    }
  }

  /**
   * The process's default symbol scope first (where an interposed malloc, and on glibc before 2.34
   * the pthread functions of libpthread, are found), then libc itself.
   */
  private static <T> T loadLibc(Class<T> functions) {
    return LibraryLoader.create(functions)
        .library(LibraryLoader.DEFAULT_LIBRARY)
        .library("c")
        .failImmediately()
        .load();
  }

  private static long symbol(String name) {
    long address = com.kenai.jffi.Library.getDefault().getSymbolAddress(name);
    if (address == 0) {
      throw new UnsatisfiedLinkError(
          "no symbol " + name + ": " + com.kenai.jffi.Library.getLastError());
    }
    return address;
  }
}
