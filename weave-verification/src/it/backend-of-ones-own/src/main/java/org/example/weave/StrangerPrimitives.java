package org.example.weave;

import com.sun.jna.Callback;
import com.sun.jna.CallbackReference;
import com.sun.jna.Function;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import dev.weave.spi.NativePrimitives;
import dev.weave.spi.ThreadDeathHandler;
import java.util.ArrayList;
import java.util.List;

/**
 * libc through JNA's direct mapping: the few native operations weave's engine needs. 64-bit Linux.
 */
final class StrangerPrimitives implements NativePrimitives {
  /**
   * JNA frees a callback's stub when its object is collected: keep every key's callback for good.
   */
  private static final List<KeyDestructor> CALLBACKS = new ArrayList<>();

  private static final Pointer ZERO = new Pointer(0);
  private static final long FREE;

  static {
    NativeLibrary libc = NativeLibrary.getInstance("c");
    Native.register(Libc.class, libc);
    FREE = Pointer.nativeValue(libc.getFunction("free"));
  }

  /** {@code void (*)(void*)} for {@code pthread_key_create}. */
  public interface KeyDestructor extends Callback {
    void invoke(long value);
  }

  static final class Libc {
    static native long calloc(long count, long size);

    static native void free(long address);

    static native int pthread_key_create(int[] key, long destructor);

    static native int pthread_key_delete(int key);

    static native int pthread_setspecific(int key, long value);

    static native long pthread_getspecific(int key);

    private Libc() {}
  }

  @Override
  public long allocateZeroed(long bytes) {
    long address = Libc.calloc(1, bytes);
    if (address == 0) {
      throw new OutOfMemoryError("calloc(1, " + bytes + ")");
    }
    return address;
  }

  @Override
  public void free(long address) {
    Libc.free(address);
  }

  @Override
  public long getWord(long address) {
    return ZERO.getLong(address);
  }

  @Override
  public void putWord(long address, long value) {
    ZERO.setLong(address, value);
  }

  @Override
  public long freeFunction() {
    return FREE;
  }

  @Override
  public long createKey(long destructorFunction) {
    int[] key = new int[1];
    check(Libc.pthread_key_create(key, destructorFunction), "pthread_key_create");
    return key[0];
  }

  @Override
  public long createKey(ThreadDeathHandler handler) {
    KeyDestructor callback =
        value -> {
          try {
            handler.threadDied(value);
          } catch (Throwable ignored) {
            // nothing may reach JNA's callback exception handler
          }
        };
    synchronized (CALLBACKS) {
      CALLBACKS.add(callback);
    }
    return createKey(Pointer.nativeValue(CallbackReference.getFunctionPointer(callback)));
  }

  // no @Override: older weave-api versions of NativePrimitives have no getKey
  public long getKey(long key) {
    return Libc.pthread_getspecific((int) key);
  }

  @Override
  public void setKey(long key, long value) {
    check(Libc.pthread_setspecific((int) key, value), "pthread_setspecific");
  }

  @Override
  public void deleteKey(long key) {
    check(Libc.pthread_key_delete((int) key), "pthread_key_delete");
  }

  @Override
  public void callDestructor(long function, long argument) {
    Function.getFunction(new Pointer(function)).invoke(Void.class, new Object[] {argument});
  }

  private static void check(int error, String function) {
    if (error != 0) {
      throw new IllegalStateException(function + " failed with error " + error);
    }
  }
}
