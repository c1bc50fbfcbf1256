package dev.weave.jnr;

import jnr.ffi.annotations.Delegate;
import jnr.ffi.annotations.IgnoreError;
import jnr.ffi.annotations.Out;
import jnr.ffi.byref.IntByReference;
import jnr.ffi.byref.LongLongByReference;
import jnr.ffi.types.intptr_t;
import jnr.ffi.types.size_t;
import jnr.ffi.types.u_int32_t;
import jnr.ffi.types.u_int64_t;

/**
 * What jnr-ffi binds for {@link JnrPrimitives}. The interfaces are public (jnr-ffi's generated
 * classes, in a class loader of their own, implement them) but nested in a class that is not, so
 * they are no part of weave's API.
 */
final class Bindings {
  private Bindings() {}

  /** The memory functions of libc weave needs; jnr-ffi declares none of them. */
  public interface LibC {
    @IgnoreError
    @intptr_t
    long calloc(@size_t long count, @size_t long size);

    @IgnoreError
    void free(@intptr_t long address);
  }

  /** The pthread key functions where {@code pthread_key_t} is 4 bytes; bound only there. */
  public interface Keys {
    @IgnoreError
    int pthread_key_create(@Out IntByReference key, @intptr_t long destructor);

    @IgnoreError
    int pthread_key_delete(@u_int32_t int key);

    @IgnoreError
    @intptr_t
    long pthread_getspecific(@u_int32_t int key);

    @IgnoreError
    int pthread_setspecific(@u_int32_t int key, @intptr_t long value);
  }

  /** The pthread key functions where {@code pthread_key_t} is 8 bytes; bound only there. */
  public interface WideKeys {
    @IgnoreError
    int pthread_key_create(@Out LongLongByReference key, @intptr_t long destructor);

    @IgnoreError
    int pthread_key_delete(@u_int64_t long key);

    @IgnoreError
    @intptr_t
    long pthread_getspecific(@u_int64_t long key);

    @IgnoreError
    int pthread_setspecific(@u_int64_t long key, @intptr_t long value);
  }

  /** A pthread key destructor, {@code void (*)(void*)}, implemented in Java. */
  public interface KeyDestructor {
    @Delegate
    void destroy(@intptr_t long value);
  }
}
