package org.example;

import dev.weave.WeaveThread;
import java.util.concurrent.TimeUnit;

/**
 * Per-thread resources created, and freed as their threads' destructors report it. An example
 * registers a Java destructor that calls {@link #countFreed()} after the native one that frees: a
 * thread's destructors run in the order registered (rule 2), so when it is called, the native one
 * has returned.
 */
final class Tally {
  private int created;
  private int freed;
  private int freedOnWeaveThreads;

  synchronized void countCreated() {
    created++;
  }

  synchronized void countFreed() {
    freed++;
    // At a weave thread's end its destructors run on it (rule 13); at another thread's death they
    // run on the OS thread re-attached to the JVM as a new Thread (rule 4), never a WeaveThread.
    if (Thread.currentThread() instanceof WeaveThread) {
      freedOnWeaveThreads++;
    }
    notifyAll();
  }

  /** Counts from zero again; every one created must have been freed. */
  synchronized void reset() {
    if (freed != created) {
      throw new IllegalStateException("reset with " + (created - freed) + " not freed");
    }
    created = 0;
    freed = 0;
    freedOnWeaveThreads = 0;
  }

  synchronized int created() {
    return created;
  }

  synchronized int freed() {
    return freed;
  }

  /**
   * @return how many were counted freed on a {@link WeaveThread}, as rule 13 has it
   */
  synchronized int freedOnWeaveThreads() {
    return freedOnWeaveThreads;
  }

  /**
   * Waits until as many were freed as created (rule 4: {@link Thread#join()} may return before a
   * thread's destructors have run), or until {@code seconds} have passed.
   *
   * @return how many were freed
   */
  synchronized int awaitAllFreed(long seconds) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    long left;
    while (freed < created && (left = deadline - System.nanoTime()) > 0) {
      TimeUnit.NANOSECONDS.timedWait(this, left);
    }
    return freed;
  }
}
