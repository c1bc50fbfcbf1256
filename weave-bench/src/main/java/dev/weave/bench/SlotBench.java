package dev.weave.bench;

import dev.weave.ThreadLocalSlot;
import dev.weave.Weave;
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
 * {@code slot.get()} and {@code slot.set(v)} on a thread whose cell exists, per backend. Baselines
 * in the same run: {@link SlotBaseline}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@State(Scope.Thread)
public class SlotBench {
  @Param({"ffm", "jnr", "jna"})
  public String backend;

  private ThreadLocalSlot slot;
  private long next;

  @Setup
  public void open() {
    slot = Weave.registry(backend).newSlot();
  }

  /** On whichever thread runs the iteration: its cell exists, as in steady use. */
  @Setup(Level.Iteration)
  public void touch() {
    slot.set(42);
  }

  @TearDown
  public void close() {
    slot.close();
  }

  @Benchmark
  public long get() {
    return slot.get();
  }

  /** A new value each time, as {@link SlotBaseline#threadLocalSet()} does. */
  @Benchmark
  public void set() {
    slot.set(next++);
  }
}
