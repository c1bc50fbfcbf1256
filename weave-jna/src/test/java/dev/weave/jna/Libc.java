package dev.weave.jna;

import com.sun.jna.Function;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import java.time.Duration;

/** The native fixtures these tests need: libc semaphores and raw memory, through plain JNA. */
final class Libc {
  private static final NativeLibrary PROCESS = NativeLibrary.getProcess();
  private static final int SEM_T_BYTES = 64; // sizeof(sem_t) is 32 on x86-64 and aarch64 glibc

  static final long SEM_POST = address("sem_post");
  static final long FREE = address("free");

  private Libc() {}

  static long address(String name) {
    return Pointer.nativeValue(function(name));
  }

  static Function function(String name) {
    return PROCESS.getFunction(name);
  }

  static long malloc(long bytes) {
    long address = Native.malloc(bytes);
    if (address == 0) {
      throw new OutOfMemoryError("malloc(" + bytes + ")");
    }
    return address;
  }

  /** A {@code sem_t} in native memory; its count shows how often {@code sem_post} was called. */
  static final class Semaphore implements AutoCloseable {
    final long address = malloc(SEM_T_BYTES);

    Semaphore() {
      int error = function("sem_init").invokeInt(new Object[] {new Pointer(address), 0, 0});
      if (error != 0) {
        throw new IllegalStateException("sem_init failed");
      }
    }

    int value() {
      int[] out = new int[1];
      function("sem_getvalue").invokeInt(new Object[] {new Pointer(address), out});
      return out[0];
    }

    /** Takes {@code count} posts, waiting up to {@code timeout} in all; returns how many it got. */
    int await(int count, Duration timeout) {
      long deadline = System.nanoTime() + timeout.toNanos();
      Function timedwait = function("sem_timedwait");
      Function clock = function("clock_gettime");
      long[] when = new long[2];
      int taken = 0;
      while (taken < count && System.nanoTime() < deadline) {
        clock.invokeInt(new Object[] {0 /* CLOCK_REALTIME */, when});
        when[1] += 50_000_000L;
        if (when[1] >= 1_000_000_000L) {
          when[0]++;
          when[1] -= 1_000_000_000L;
        }
        if (timedwait.invokeInt(new Object[] {new Pointer(address), when}) == 0) {
          taken++;
        }
      }
      return taken;
    }

    @Override
    public void close() {
      function("sem_destroy").invokeInt(new Object[] {new Pointer(address)});
      Native.free(address);
    }
  }
}
