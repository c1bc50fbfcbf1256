package dev.weave.spi;

import java.nio.ByteBuffer;
import java.util.Optional;

/**
 * The few native operations the {@link Engine} needs from a backend's FFI library. Addresses and
 * pthread keys are passed as {@code long}. Every method may be called on any platform thread,
 * including a dying one from inside {@link ThreadDeathHandler#threadDied(long)}. Words and pointers
 * are 8 bytes: the engine needs an LP64 platform.
 */
public interface NativePrimitives {
  /**
   * {@code calloc(1, bytes)}.
   *
   * @throws OutOfMemoryError if the memory cannot be had
   */
  long allocateZeroed(long bytes);

  /** {@code free(address)}. */
  void free(long address);

  /** Reads the {@code void*} at {@code address}. */
  long getWord(long address);

  /** Writes the {@code void*} at {@code address}. */
  void putWord(long address, long value);

  /**
   * @return the address of libc's {@code free}, for keys whose destructor only frees memory
   */
  long freeFunction();

  /**
   * {@code pthread_key_create} with a C destructor.
   *
   * @param destructorFunction a {@code void (*)(void*)}, or 0 for none
   * @return the key
   */
  long createKey(long destructorFunction);

  /**
   * {@code pthread_key_create} whose destructor calls {@code handler} on the dying thread, with the
   * thread attached to the JVM for the call and detached again afterwards. The callback stub and
   * everything it needs must stay alive as long as the key exists.
   *
   * @return the key
   */
  long createKey(ThreadDeathHandler handler);

  /** {@code pthread_getspecific(key)} on the calling thread. */
  long getKey(long key);

  /** {@code pthread_setspecific(key, value)} on the calling thread. */
  void setKey(long key, long value);

  /** {@code pthread_key_delete(key)}: glibc then calls no destructor of this key. */
  void deleteKey(long key);

  /** Calls the C function {@code void (*function)(void*)} with {@code argument}. */
  void callDestructor(long function, long argument);

  /**
   * An optional fast path for backends whose {@link #getWord}/{@link #putWord} cost a native call
   * each: a direct buffer over {@code bytes} bytes at {@code address}, in any byte order (the
   * engine sets the native one on it), that does not own the memory. The engine makes one per chunk
   * of cells, on the chunk's own thread, and reads and writes cells through it on that thread only,
   * until it frees the chunk.
   *
   * @param address the start of memory this engine allocated with {@link #allocateZeroed}
   * @param bytes its length
   * @return the view, or null if {@link #getWord}/{@link #putWord} are as fast (the default)
   */
  default ByteBuffer directBuffer(long address, int bytes) {
    return null;
  }

  /**
   * A C function {@code void (*)(void*)} that calls {@code handler} with its argument, for weave's
   * native walker to call into Java with ({@link WalkerLibrary}). The walker calls it only on a
   * thread it has made sure is attached to the JVM, so the function attaches nothing and detaches
   * nothing. It, and everything it needs, must stay alive as long as the JVM.
   *
   * @return the function's address
   * @throws UnsupportedOperationException if this backend makes no such function (the default):
   *     weave then runs its Java walker, which needs only {@link #createKey(ThreadDeathHandler)}
   */
  default long callbackFunction(ThreadDeathHandler handler) {
    throw new UnsupportedOperationException(
        getClass().getName() + " makes no callback function (NativePrimitives.callbackFunction)");
  }

  /**
   * How this backend loads a shared library through its FFI library, for weave's native walker
   * ({@link WalkerLibrary}). The loader is given the absolute path of a library that weave has
   * extracted and checked, and deleted once the loader returns; the library must stay loaded for
   * the JVM's life.
   *
   * @return the loader, or empty if this backend loads no library (the default): weave then runs
   *     its Java walker, on the methods above alone
   */
  default Optional<SharedLibrary.Loader> libraryLoader() {
    return Optional.empty();
  }
}
