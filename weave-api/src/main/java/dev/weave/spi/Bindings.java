package dev.weave.spi;

import dev.weave.WeaveThread;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Which {@link ThreadState} of one engine the calling {@link Thread} holds: a field of a {@link
 * WeaveThread}, else a {@link ThreadLocal}. A state is bound to an attachment (a {@code Thread}
 * object), and the pthread keys, not the binding, say what an OS thread owns: an OS thread that
 * attaches again is a new {@code Thread} with nothing bound, which adopts its state from the keys.
 *
 * <p>A binding may outlive the memory it names only on a {@code Thread} the JVM did not start
 * (contract rule 15): one attached through JNI or by an upcall stays attached while the OS thread
 * runs its pthread key destructors, and glibc frees an unarmed state's chunks there with no Java
 * running. A thread started by {@link Thread#start()} has no such moment: its {@code Thread} is
 * done before the key destructors run, and Java code there runs in a new attachment. {@link
 * #startedByJava} tells the two apart; a state asks once per binding, after a few calls ({@link
 * ThreadCells#countSlowCall}), and until then treats its attachment as one the JVM did not start.
 */
final class Bindings {
  private static final VarHandle WEAVE_THREAD_STATES = weaveThreadStates();
  private static final AtomicInteger IDS = new AtomicInteger();
  private static final StackWalker FRAMES = StackWalker.getInstance();

  /** This engine's index in each {@link WeaveThread}'s states. */
  private final int id = IDS.getAndIncrement();

  private final ThreadLocal<ThreadState> states = new ThreadLocal<>();

  /** The calling thread's state, if it has one in this attachment. Never allocates. */
  ThreadState bound() {
    Thread thread = Thread.currentThread();
    if (thread instanceof WeaveThread) {
      Object[] all = (Object[]) WEAVE_THREAD_STATES.get((WeaveThread) thread);
      return id < all.length ? (ThreadState) all[id] : null;
    }
    return states.get();
  }

  /** Makes {@code state} (or none, if null) the calling thread's. */
  void bind(ThreadState state) {
    Thread thread = Thread.currentThread();
    if (thread instanceof WeaveThread) {
      Object[] all = (Object[]) WEAVE_THREAD_STATES.get((WeaveThread) thread);
      if (id >= all.length) {
        all = Arrays.copyOf(all, id + 1);
        WEAVE_THREAD_STATES.set((WeaveThread) thread, all);
      }
      all[id] = state;
    } else if (state == null) {
      states.remove();
    } else {
      states.set(state);
    }
  }

  /**
   * Whether {@code thread}, the calling thread, was started by {@link Thread#start()}. The JVM
   * makes a plain {@code java.lang.Thread} for every attachment (JNI's {@code AttachCurrentThread},
   * an FFM upcall, a JNA or jffi callback), so an instance of a subclass was started by Java; a
   * plain one was if the bottom frame of its stack is {@code Thread.run()}, where an attached
   * thread's is the method native code called. (Native code that called {@code Thread.run()} itself
   * through JNI would be taken for a started thread.) It walks the stack, which costs about 10 µs
   * on a new thread: call it once per binding.
   */
  static boolean startedByJava(Thread thread) {
    if (thread.getClass() != Thread.class) {
      return true;
    }
    return FRAMES
        .walk(frames -> frames.reduce((above, below) -> below))
        .map(
            bottom ->
                bottom.getClassName().equals("java.lang.Thread")
                    && bottom.getMethodName().equals("run"))
        .orElse(false);
  }

  /**
   * {@link WeaveThread}'s private field: the fast path reads it instead of a {@link ThreadLocal}.
   */
  private static VarHandle weaveThreadStates() {
    try {
      return MethodHandles.privateLookupIn(WeaveThread.class, MethodHandles.lookup())
          .findVarHandle(WeaveThread.class, "engineStates", Object[].class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }
}
