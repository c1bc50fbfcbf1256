package org.example;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The pool the examples run their tasks on, as a server's pool under bursts of load: it grows to
 * {@value #WIDTH} threads for each burst of {@value #WIDTH} tasks and shrinks to none after it (an
 * idle thread retires after 1 ms). Each thread runs one task and dies, so N tasks are N thread
 * deaths.
 */
final class ShrinkingPool {
  /** The threads that run at once. */
  static final int WIDTH = 4;

  /** A task, run on a pool thread; returns a figure the example reports (the largest is kept). */
  @FunctionalInterface
  interface Task {
    long run() throws Throwable; // FFM's MethodHandle.invokeExact throws Throwable
  }

  private ShrinkingPool() {}

  /**
   * Runs {@code tasks} tasks, {@value #WIDTH} at a time, on threads made by {@code factory};
   * returns when every thread has ended ({@link Thread#join()}; rule 4: a thread's destructors may
   * still be running then, unless it is a weave thread).
   *
   * @return the largest figure a task returned
   * @throws ExecutionException if a task threw (the first one, as its cause)
   */
  static long run(int tasks, ThreadFactory factory, Task task) throws Exception {
    if (tasks < 1) {
      throw new IllegalArgumentException("tasks must be at least 1: " + tasks);
    }
    List<Thread> threads = Collections.synchronizedList(new ArrayList<>());
    ThreadPoolExecutor pool =
        new ThreadPoolExecutor(
            WIDTH,
            WIDTH,
            1,
            TimeUnit.MILLISECONDS,
            new LinkedBlockingQueue<>(),
            runnable -> {
              Thread thread = factory.newThread(runnable);
              threads.add(thread);
              return thread;
            });
    pool.allowCoreThreadTimeOut(true); // so idle threads retire and the pool shrinks to none
    Callable<Long> callable =
        () -> {
          try {
            return task.run();
          } catch (Exception | Error e) {
            throw e;
          } catch (Throwable t) {
            throw new ExecutionException(t);
          }
        };
    long largest = 0;
    try {
      for (int started = 0; started < tasks; started += WIDTH) {
        // The pool is empty here, so each task of the burst gets a new thread of its own.
        for (Future<Long> result :
            pool.invokeAll(Collections.nCopies(Math.min(WIDTH, tasks - started), callable))) {
          largest = Math.max(largest, result.get());
        }
        for (Thread thread : List.copyOf(threads)) {
          thread.join(); // it retires 1 ms after its task
        }
        threads.clear();
      }
    } finally {
      pool.shutdownNow();
    }
    return largest;
  }
}
