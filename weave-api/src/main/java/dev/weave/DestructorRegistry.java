package dev.weave;

/**
 * The registry of destructors that run when an OS thread dies, and the factory of native
 * thread-local slots. One per backend per JVM; get it from {@link Weave#registry()}.
 *
 * <p>A registration belongs to the calling thread and is keyed by its <em>variable</em>: a {@code
 * void*}-sized native cell. A slot's variable on a thread is its cell there, so {@code
 * registerNative(slot, f)} and {@code registerNative(slot.cellAddress(), f)} register the same
 * thing, and {@code unregister(slot)} and {@code unregister(slot.cellAddress())} each remove
 * registrations made either way.
 *
 * <p>When the thread dies, each of its registrations runs once, on that OS thread, in the order
 * registered across all slots and variables, with the value its variable holds when that destructor
 * is called. Registrations made by a destructor run after the current ones, for at most 4 rounds in
 * all; what is left after that is dropped with a warning. Threads still alive when the JVM exits do
 * not run their destructors. {@link Thread#join()} may return before a thread's destructors have
 * run.
 *
 * <p>Every method but {@link #backendName()} throws {@link IllegalStateException} on a virtual
 * thread: native thread-local storage belongs to OS threads. Bad arguments throw an exception whose
 * message names the problem and leave all state as it was.
 */
public interface DestructorRegistry {
  /**
   * @return the name of the backend behind this registry, such as {@code "ffm"}
   */
  String backendName();

  /**
   * Creates a slot: a native thread-local {@code void*} that reads 0 on every thread until set.
   * Slots are unlimited (they are not pthread keys) and should be {@linkplain
   * ThreadLocalSlot#close() closed} when no longer needed.
   *
   * @return the new slot
   */
  ThreadLocalSlot newSlot();

  /**
   * Registers a Java destructor for the calling thread against {@code slot}'s cell.
   *
   * @throws NullPointerException if {@code slot} or {@code destructor} is null
   * @throws IllegalArgumentException if {@code slot} belongs to another backend
   * @throws IllegalStateException if {@code slot} is closed
   */
  void register(ThreadLocalSlot slot, Destructor destructor);

  /**
   * Registers a C function {@code void (*)(void*)} for the calling thread against {@code slot}'s
   * cell. It is called on the dying thread with no help from the JVM, so it must not call into
   * Java.
   *
   * @param function the address of the function
   * @throws NullPointerException if {@code slot} is null
   * @throws IllegalArgumentException if {@code function} is 0 or {@code slot} belongs to another
   *     backend
   * @throws IllegalStateException if {@code slot} is closed
   */
  void registerNative(ThreadLocalSlot slot, long function);

  /**
   * The seed form: registers a C function {@code void (*)(void*)} for the calling thread against
   * the {@code void*} at address {@code variable}. The variable must stay readable until the
   * thread's destructors have run.
   *
   * @param variable the address of a {@code void*} (a {@code void**})
   * @param function the address of the function
   * @throws IllegalArgumentException if {@code variable} or {@code function} is 0
   */
  void registerNative(long variable, long function);

  /**
   * Removes every registration of the calling thread against {@code slot}'s cell, Java and native,
   * made through the slot or its cell address. Other threads' registrations stay.
   *
   * @return whether there was one
   * @throws NullPointerException if {@code slot} is null
   * @throws IllegalArgumentException if {@code slot} belongs to another backend
   * @throws IllegalStateException if {@code slot} is closed
   */
  boolean unregister(ThreadLocalSlot slot);

  /**
   * Removes every registration of the calling thread against the variable at {@code variable}.
   *
   * @return whether there was one
   * @throws IllegalArgumentException if {@code variable} is 0
   */
  boolean unregister(long variable);

  /**
   * Ends the calling thread's weave life early (contract rule 13): runs, at once and on the calling
   * thread, every registration it holds, exactly as its death would (in order, each with its
   * variable's value at call time, a throwing Java destructor logged and the rest still run,
   * registrations made meanwhile in further rounds, at most 4), but on the live thread: a Java
   * destructor sees the real {@link Thread#currentThread()} and its {@link ThreadLocal}s.
   * Afterwards the thread holds no registration and every slot reads 0 on it; its cells keep their
   * addresses and stay valid until the OS thread dies, and it may use weave again: what it
   * registers later runs at its death, or at the next {@code runDestructors()}.
   *
   * <p>The default, for registries written before this method, throws.
   *
   * @throws IllegalStateException on a virtual thread, or when called from a destructor
   * @throws UnsupportedOperationException if this backend does not implement it
   */
  default void runDestructors() {
    throw new UnsupportedOperationException(
        "the " + backendName() + " backend does not implement runDestructors() (contract rule 13)");
  }
}
