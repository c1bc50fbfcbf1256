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
   * Frees the slot. Every registration on it, on every thread, is dropped without being run, made
   * through the slot or through its cell's address; one made on a closed slot is refused. A
   * thread's cell memory stays valid until that thread dies, but native code must not write through
   * a closed slot's cell: a new slot may reuse it. Closing twice is allowed.
   *
   * <p>When it returns, no destructor on the slot starts any more, and one that a walk had already
   * begun has returned, with one exception that would otherwise deadlock: a destructor that closes
   * a slot whose close is waiting for that very destructor (two threads whose destructors close
   * each other's slots, say) does not wait for it. Its close then returns once the slot is closed,
   * while the destructor it did not wait for, already begun, may still be running on its thread.
   */
  @Override
  void close();
}
