package dev.weave.spi;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

/**
 * Contract rule 9: native thread-local storage belongs to OS threads, so weave refuses virtual
 * threads. One check, for the engine, for {@link dev.weave.Weave}, and for a backend of one's own
 * that is not built on {@link Engine}; it runs on Java 17, which has no virtual threads.
 */
public final class PlatformThreads {
  private static final MethodHandle IS_VIRTUAL = isVirtualHandle();

  private PlatformThreads() {}

  /**
   * @throws IllegalStateException if the calling thread is a virtual thread, saying why
   */
  public static void require() {
    if (isVirtual(Thread.currentThread())) {
      throw new IllegalStateException(
          "weave was called from a virtual thread; native thread-local storage belongs to OS threads:"
              + " call it from a platform thread");
    }
  }

  /**
   * @return whether {@code thread} is a virtual thread; never, before Java 21
   */
  public static boolean isVirtual(Thread thread) {
    if (IS_VIRTUAL == null) {
      return false;
    }
    try {
      return (boolean) IS_VIRTUAL.invokeExact(thread);
    } catch (Throwable t) {
      throw new AssertionError(t);
    }
  }

  private static MethodHandle isVirtualHandle() {
    try {
      return MethodHandles.publicLookup()
          .findVirtual(Thread.class, "isVirtual", MethodType.methodType(boolean.class));
    } catch (ReflectiveOperationException e) {
      return null; // before Java 21 there are no virtual threads
    }
  }
}
