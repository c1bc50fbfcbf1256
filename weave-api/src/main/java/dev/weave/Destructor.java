package dev.weave;

/**
 * A Java destructor: called once on the dying OS thread with the value its variable holds at the
 * moment of the call (0 included).
 *
 * <p>It runs after the thread's Java code has finished, with the thread briefly re-attached to the
 * JVM: {@link Thread#currentThread()} is not the thread that registered it and that thread's {@link
 * ThreadLocal}s are gone. Slot and registry calls made from it act on the dying thread's cells and
 * registrations. An exception it throws is logged through {@link System.Logger} {@code dev.weave}
 * and the remaining destructors still run.
 */
@FunctionalInterface
public interface Destructor {
  /**
   * Releases whatever {@code value} stands for.
   *
   * @param value the value of the variable this destructor was registered against, read just before
   *     this call
   */
  void destroy(long value);
}
