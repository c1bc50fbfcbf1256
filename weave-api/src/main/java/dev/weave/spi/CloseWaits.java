package dev.weave.spi;

import java.util.HashMap;
import java.util.Map;

/**
 * Who waits for whom in {@code close()}, across every engine: a closer waits for the thread whose
 * walk runs a destructor on its slot, and for the thread that holds the slot's close. A destructor
 * may itself close a slot, so two such waits can form a cycle (two threads whose destructors close
 * each other's slots): a wait that would close one is refused, and the thread that asked goes on
 * without it. The thread it did not wait for is waiting for it, directly or through others, so
 * whatever that thread was doing on the slot has already begun.
 *
 * <p>Its lock is the last one taken: nothing is called while it is held.
 */
final class CloseWaits {
  /** Guarded by itself: each waiting thread, and the thread it waits for. */
  private static final Map<Thread, Thread> WAITING_FOR = new HashMap<>();

  private CloseWaits() {}

  /**
   * Records that the calling thread is about to wait for {@code holder}, unless {@code holder}
   * waits, directly or through others, for the calling thread. Call {@link #stop()} after the wait.
   *
   * @return false, recording nothing, if the wait would close a cycle
   */
  static boolean start(Thread holder) {
    Thread self = Thread.currentThread();
    synchronized (WAITING_FOR) {
      for (Thread next = holder; next != null; next = WAITING_FOR.get(next)) {
        if (next == self) {
          return false;
        }
      }
      WAITING_FOR.put(self, holder);
      return true;
    }
  }

  /** The calling thread's wait has ended. */
  static void stop() {
    synchronized (WAITING_FOR) {
      WAITING_FOR.remove(Thread.currentThread());
    }
  }
}
