package dev.weave.bench;

import dev.weave.Weave;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * JMH's benchmark threads as {@link dev.weave.WeaveThread}s: a fork started with {@code
 * -Djmh.executor=CUSTOM -Djmh.executor.class=dev.weave.bench.WeaveThreadExecutor} runs its
 * benchmark methods on weave threads, where slots take their fast path.
 */
public final class WeaveThreadExecutor extends ThreadPoolExecutor {
  /** The constructor JMH calls for a custom executor. */
  public WeaveThreadExecutor(int threads, String prefix) {
    super(
        threads,
        threads,
        1,
        TimeUnit.MINUTES,
        new LinkedBlockingQueue<>(),
        Weave.threadFactory(prefix));
  }
}
