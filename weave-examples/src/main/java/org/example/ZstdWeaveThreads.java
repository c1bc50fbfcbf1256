package org.example;

/**
 * A weave thread pool: {@link ZstdContexts} on threads from {@code Weave.threadFactory("zstd")},
 * with libzstd bound through JNA (Java 17+).
 *
 * <p>A weave thread runs its destructors when its task ends, on the live thread (rule 13). A pool
 * thread's task is the pool's worker loop, which ends when the pool retires the thread: so when
 * {@link Thread#join()} returns, the thread's context has been freed, its Java destructor ran on
 * that very thread, and the thread died at the cost of a bare one, with no re-attach to the JVM.
 *
 * <p>NOTE: {@code ThreadPoolExecutor.awaitTermination} is not enough: the pool counts a worker
 * gone, and signals its termination, inside the worker's loop, before {@code WeaveThread.run()}
 * calls the destructors. To know they have run, join the threads, as {@link ShrinkingPool} does.
 *
 * <p>Needs {@code libzstd.so.1} (Debian and Ubuntu: package {@code libzstd1}). Run, optionally with
 * the number of pool threads as {@code -Dexample.args=N} (default 2,000): {@code mvn -B -q
 * -Pexample -Dexample=ZstdWeaveThreads -pl weave-examples -am -DskipTests verify}
 */
public final class ZstdWeaveThreads {
  private ZstdWeaveThreads() {}

  public static void main(String[] args) throws Exception {
    ZstdContexts.main(new ZstdJna(), args, true);
  }
}
