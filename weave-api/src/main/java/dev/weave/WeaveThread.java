package dev.weave;

/**
 * A thread whose weave destructors run when its task ends, on the live thread (contract rule 13),
 * rather than at the OS thread's death: {@link #run()} runs the task, then {@link
 * Weave#runDestructors()}, even when the task throws. So when {@link #join()} returns, its
 * destructors have run; Java destructors see this very {@code Thread}, its name and its {@link
 * ThreadLocal}s; and the thread dies at the cost of a bare thread, with no re-attach to the JVM.
 * What it registers afterwards (in an uncaught-exception handler, say) runs at its OS death as on
 * any thread.
 *
 * <p>On a weave thread, {@link ThreadLocalSlot#get()} and {@link ThreadLocalSlot#set(long)} find
 * the thread's cell through a field of the thread instead of a {@link ThreadLocal}.
 *
 * <p>A subclass that overrides {@link #run()} must call {@code super.run()} to keep this. {@link
 * Weave#threadFactory(String)} makes weave threads for executors; {@link Weave#wrap(Runnable)}
 * gives the same end to a task on any thread.
 */
public class WeaveThread extends Thread {
  private static final Object[] NO_STATES = new Object[0];

  /** Per engine, this thread's state; read and written only on this thread, by the engine. */
  @SuppressWarnings("unused") // reached through a VarHandle by dev.weave.spi.Engine
  private Object[] engineStates = NO_STATES;

  /**
   * @param task what the thread runs; its destructors run when it ends
   */
  public WeaveThread(Runnable task) {
    super(task);
  }

  /**
   * @param task what the thread runs; its destructors run when it ends
   * @param name the thread's name
   */
  public WeaveThread(Runnable task, String name) {
    super(task, name);
  }

  /**
   * @param group the thread group, or null for the current one
   * @param task what the thread runs; its destructors run when it ends
   * @param name the thread's name
   * @param stackSize the desired stack size, or 0 to ignore it (as {@link Thread})
   */
  public WeaveThread(ThreadGroup group, Runnable task, String name, long stackSize) {
    super(group, task, name, stackSize);
  }

  /** Runs the task, then {@link Weave#runDestructors()}, even when the task throws. */
  @Override
  public void run() {
    try {
      super.run();
    } finally {
      Weave.runDestructors();
    }
  }
}
