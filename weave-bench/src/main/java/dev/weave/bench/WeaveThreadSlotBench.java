package dev.weave.bench;

import dev.weave.ThreadLocalSlot;
import dev.weave.Weave;
import dev.weave.WeaveThread;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * {@code slot.get()} and {@code slot.set(v)} on a {@link WeaveThread} (JMH's threads are weave
 * threads in these forks: {@link WeaveThreadExecutor}), with {@code ThreadLocal.get()}/{@code set}
 * measured in the same fork, on the same threads, as the baseline.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(
    value = 1,
    jvmArgsAppend = {
      "--enable-native-access=ALL-UNNAMED",
      "-Djmh.executor=CUSTOM",
      "-Djmh.executor.class=dev.weave.bench.WeaveThreadExecutor"
    })
@State(Scope.Thread)
public class WeaveThreadSlotBench {
  @Param({"ffm", "jnr", "jna"})
  public String backend;

  private ThreadLocalSlot slot;
  private long next;

  /** As {@link SlotBaseline}'s: an instance field, values boxed beforehand. */
  private final ThreadLocal<Object> local = new ThreadLocal<>();

  private final Object[] values = {Long.valueOf(1_000_001), Long.valueOf(1_000_002)};

  @Setup
  public void open() {
    slot = Weave.registry(backend).newSlot();
  }

  @Setup(Level.Iteration)
  public void touch() {
    if (!(Thread.currentThread() instanceof WeaveThread)) {
      throw new IllegalStateException("not on a weave thread: run with -Djmh.executor=CUSTOM");
    }
    slot.set(42);
    local.set(values[0]);
  }

  @TearDown
  public void close() {
    slot.close();
  }

  @Benchmark
  public long get() {
    return slot.get();
  }

  @Benchmark
  public void set() {
    slot.set(next++);
  }

  @Benchmark
  public Object threadLocalGet() {
    return local.get();
  }

  @Benchmark
  public void threadLocalSet() {
    local.set(values[(int) (next++ & 1)]);
  }
}
