package dev.weave.bench;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What {@link SlotBench} is compared with: {@code ThreadLocal.get()/set()} (the Java way to keep a
 * per-thread value) and {@code pthread_getspecific}/{@code pthread_setspecific} through a raw FFM
 * downcall (the native floor; once as a normal downcall, once as a critical one).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@State(Scope.Thread)
public class SlotBaseline {
  /** An instance field, as the engine's own ThreadLocal is. */
  private final ThreadLocal<Object> local = new ThreadLocal<>();

  /** Pre-boxed, so that {@code set} measures ThreadLocal and not allocation. */
  private final Object[] values = {Long.valueOf(1_000_001), Long.valueOf(1_000_002)};

  private int key;
  private long next;

  @Setup
  public void createKey() {
    key = Libc.newKey();
  }

  @Setup(Level.Iteration)
  public void touch() {
    local.set(values[0]);
    Libc.setSpecific(key, 42);
  }

  @Benchmark
  public Object threadLocalGet() {
    return local.get();
  }

  @Benchmark
  public void threadLocalSet() {
    local.set(values[(int) (next++ & 1)]);
  }

  @Benchmark
  public long pthreadGetspecific() {
    return Libc.getSpecific(key);
  }

  @Benchmark
  public long pthreadGetspecificCritical() {
    return Libc.getSpecificCritical(key);
  }

  @Benchmark
  public int pthreadSetspecific() {
    return Libc.setSpecific(key, next++);
  }
}
