package dev.weave;

/**
 * A native thread-local {@code void*}: each OS thread has its own cell, in native memory, whose
 * address native code may keep and write through for the thread's life.
 *
 * <p>A cell keeps its value until every destructor of its thread has run (unlike a pthread key,
 * whose value glibc clears before its destructor), and its memory is freed when its thread dies.
 * Threads that use slots but register nothing die at no extra cost.
 *
 * <p>Every method but {@link #registry()} throws {@link IllegalStateException} on a virtual thread,
 * and on a closed slot.
 */
public interface ThreadLocalSlot extends AutoCloseable {
  /**
   * @return the calling OS thread's value; 0 until set
   */
  long get();

  /**
   * @param value the calling OS thread's new value
   */
  void set(long value);

  /**
   * @return the address of the calling thread's cell (a {@code void**}), stable for the thread's
   *     life
   */
  long cellAddress();

  /**
   * @return the registry that made this slot
   */
  DestructorRegistry registry();

  /**
   * Frees the slot. Every registration on it, on every thread, is dropped without being run. A
   * thread's cell memory stays valid until that thread dies, but native code must not write through
   * a closed slot's cell: a new slot may reuse it. Closing twice is allowed.
   */
  @Override
  void close();
}
