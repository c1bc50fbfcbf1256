package dev.weave.jna;

import com.sun.jna.CallbackProxy;
import com.sun.jna.CallbackReference;
import com.sun.jna.Function;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import dev.weave.spi.Diagnostics;
import dev.weave.spi.NativePrimitives;
import dev.weave.spi.Platform;
import dev.weave.spi.Platform.PthreadKeys;
import dev.weave.spi.SharedLibrary;
import dev.weave.spi.ThreadDeathHandler;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * libc's memory and pthread-key functions through JNA's direct mapping, a thread-death callback as
 * a JNA {@link com.sun.jna.Callback}, and native destructors called through a JNA {@link Function}.
 *
 * <p>JNA attaches a dying thread to the JVM for the callback and detaches it again right after (its
 * default without a {@code CallbackThreadInitializer}), so the thread count stays level with no
 * trick; a thread that is still attached when the callback begins JNA leaves attached. The
 * per-thread data that JNA keeps for its calls is freed by JNA's own pthread key, which glibc
 * visits again because it was set during the destructor pass. That key's destructor also detaches a
 * thread that is still attached by someone else (a {@code weave.h} thread, say) when it exits: JNA
 * does that to every thread that made a JNA call, with weave or without, and weave leaves it so
 * rather than write into JNA's private per-thread memory.
 *
 * <p>Assumes LP64 (the constructor checks it): {@code void*} and {@code size_t} are passed as Java
 * {@code long}.
 */
public final class JnaPrimitives implements NativePrimitives {
  /**
   * Every thread-death callback ever made, so that none is collected while its key may call it: JNA
   * frees a callback's native stub when the Java object is collected. Keys are never re-pointed,
   * and a deleted key may still be mid-call on a dying thread, so they stay forever. (JNA 5.18
   * happens to pin a {@link CallbackProxy} itself, through the value of its weak callback map; a
   * plain {@code Callback} it does not, and its key then calls freed memory. This list does not
   * rely on either.)
   */
  private static final List<DeathCallback> CALLBACKS = new ArrayList<>();

  /**
   * A pointer at address 0, so that {@code ADDRESS_ZERO.getLong(address)} reads the word at {@code
   * address} with one JNI call and no allocation: measured 6 ns a word, against 7.5 ns for {@code
   * new Pointer(address).getLong(0)}.
   */
  private static final Pointer ADDRESS_ZERO = new Pointer(0);

  private static final long FREE_FUNCTION;

  /** Native destructors by address: a program has few, and JNA's Function is costly to make. */
  private final Map<Long, Function> functions = new ConcurrentHashMap<>();

  /** {@code pthread_key_t}: 4 bytes on glibc and musl, 8 on macOS; weave passes keys as long. */
  private static final PthreadKeys KEYS = Platform.current().requirePthreadKeys();

  private static final boolean WIDE_KEYS = KEYS.keyBytes() == Long.BYTES;

  static {
    NativeLibrary process = NativeLibrary.getProcess();
    Native.register(Libc.class, process);
    Native.register(WIDE_KEYS ? WideKeys.class : Keys.class, process);
    FREE_FUNCTION = Pointer.nativeValue(process.getFunction("free"));
  }

  /** Loads JNA's native library and binds libc; throws a {@link LinkageError} where it cannot. */
  public JnaPrimitives() {
    if (Native.POINTER_SIZE != Long.BYTES) {
      throw new UnsupportedOperationException(
          "needs a 64-bit JVM (native pointers here are " + Native.POINTER_SIZE + " bytes)");
    }
  }

  @Override
  public long allocateZeroed(long bytes) {
    long address = Libc.calloc(1, bytes);
    if (address == 0) {
      throw new OutOfMemoryError("calloc(1, " + bytes + ") failed");
    }
    return address;
  }

  @Override
  public void free(long address) {
    Libc.free(address);
  }

  @Override
  public long getWord(long address) {
    return ADDRESS_ZERO.getLong(address);
  }

  @Override
  public void putWord(long address, long value) {
    ADDRESS_ZERO.setLong(address, value);
  }

  /** A JNI {@code NewDirectByteBuffer} over the memory: one JNI call, then plain Java reads. */
  @Override
  public ByteBuffer directBuffer(long address, int bytes) {
    if (address == 0 || bytes < 0) {
      throw new IllegalArgumentException(
          "directBuffer(" + address + ", " + bytes + "): needs a non-NULL address and bytes >= 0");
    }
    return ADDRESS_ZERO.getByteBuffer(address, bytes);
  }

  @Override
  public long freeFunction() {
    return FREE_FUNCTION;
  }

  @Override
  public long createKey(long destructorFunction) {
    if (WIDE_KEYS) {
      long[] key = new long[1];
      Diagnostics.check(WideKeys.pthread_key_create(key, destructorFunction), "pthread_key_create");
      return key[0];
    }
    int[] key = new int[1];
    Diagnostics.check(Keys.pthread_key_create(key, destructorFunction), "pthread_key_create");
    return Integer.toUnsignedLong(key[0]);
  }

  @Override
  public long createKey(ThreadDeathHandler handler) {
    return createKey(callbackFunction(handler));
  }

  /**
   * A JNA callback, kept for the JVM's life. The native walker calls it on a thread it has
   * attached, so JNA neither attaches the thread for it nor detaches it afterwards.
   */
  @Override
  public long callbackFunction(ThreadDeathHandler handler) {
    if (handler == null) {
      throw new NullPointerException("handler is null");
    }
    DeathCallback callback = new DeathCallback(handler);
    synchronized (CALLBACKS) {
      CALLBACKS.add(callback);
    }
    return Pointer.nativeValue(CallbackReference.getFunctionPointer(callback));
  }

  @Override
  public long getKey(long key) {
    return WIDE_KEYS
        ? WideKeys.pthread_getspecific(key)
        : Keys.pthread_getspecific(KEYS.narrow(key));
  }

  @Override
  public void setKey(long key, long value) {
    int error =
        WIDE_KEYS
            ? WideKeys.pthread_setspecific(key, value)
            : Keys.pthread_setspecific(KEYS.narrow(key), value);
    Diagnostics.check(error, "pthread_setspecific");
  }

  @Override
  public void deleteKey(long key) {
    int error =
        WIDE_KEYS ? WideKeys.pthread_key_delete(key) : Keys.pthread_key_delete(KEYS.narrow(key));
    Diagnostics.check(error, "pthread_key_delete");
  }

  /** Opens weave's native walker with JNA's {@code NativeLibrary}. */
  @Override
  public Optional<SharedLibrary.Loader> libraryLoader() {
    return Optional.of(JnaLibrary.LOADER);
  }

  @Override
  public void callDestructor(long function, long argument) {
    functions
        .computeIfAbsent(function, address -> Function.getFunction(new Pointer(address)))
        .invoke(Void.class, new Object[] {argument});
  }

  /** libc, bound with JNA's direct mapping: pointers and sizes as {@code long}. */
  private static final class Libc {
    static native long calloc(long count, long size);

    static native void free(long address);

    private Libc() {}
  }

  /** The pthread key functions where {@code pthread_key_t} is 4 bytes; bound only there. */
  private static final class Keys {
    static native int pthread_key_create(int[] key, long destructor);

    static native int pthread_key_delete(int key);

    static native long pthread_getspecific(int key);

    static native int pthread_setspecific(int key, long value);

    private Keys() {}
  }

  /** The pthread key functions where {@code pthread_key_t} is 8 bytes; bound only there. */
  private static final class WideKeys {
    static native int pthread_key_create(long[] key, long destructor);

    static native int pthread_key_delete(long key);

    static native long pthread_getspecific(long key);

    static native int pthread_setspecific(long key, long value);

    private WideKeys() {}
  }

  /**
   * The key's destructor, {@code void (*)(void*)}. A {@link CallbackProxy} rather than a plain
   * callback interface, so JNA calls it without reflection: no {@code setAccessible} into this
   * module on the module path. Nothing may reach JNA's callback exception handler, which would
   * print to stderr.
   */
  private static final class DeathCallback implements CallbackProxy {
    private static final Class<?>[] PARAMETERS = {long.class};

    private final ThreadDeathHandler handler;

    DeathCallback(ThreadDeathHandler handler) {
      this.handler = handler;
    }

    @Override
    public Object callback(Object[] args) {
      try {
        handler.threadDied((Long) args[0]);
      } catch (Throwable ignored) {
        // the handler never throws; this only keeps JNA's exception handler out of it
      }
      return null;
    }

    @Override
    public Class<?>[] getParameterTypes() {
      return PARAMETERS.clone();
    }

    @Override
    public Class<?> getReturnType() {
      return void.class;
    }
  }
}
