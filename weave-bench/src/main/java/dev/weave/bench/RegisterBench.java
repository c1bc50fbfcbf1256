package dev.weave.bench;

import dev.weave.Destructor;
import dev.weave.DestructorRegistry;
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
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * {@code register} + {@code unregister} of one destructor on a slot, per backend. In the plain
 * benchmarks it is the thread's only registration, so each pair also arms and disarms the thread
 * (the walker key is set and cleared, the cell chunks move between keys); in {@code ...Armed} the
 * thread holds another registration throughout, so the pair only adds and removes one entry.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@State(Scope.Thread)
public class RegisterBench {
  private static final Destructor NOTHING = value -> {};

  @Param({"ffm", "jnr", "jna"})
  public String backend;

  private DestructorRegistry registry;
  private ThreadLocalSlot slot;
  private ThreadLocalSlot other;

  @Setup
  public void open() {
    registry = Weave.registry(backend);
    slot = registry.newSlot();
    other = registry.newSlot();
  }

  /** On whichever thread runs the iteration: cells exist; armed or not as the benchmark needs. */
  @Setup(Level.Iteration)
  public void prepare(BenchmarkParams params) {
    slot.set(0);
    registry.unregister(other);
    if (params.getBenchmark().endsWith("Armed")) {
      registry.registerNative(other, Libc.FREE); // free(NULL) if the thread ever dies
    }
  }

  @Benchmark
  public boolean registerUnregisterJava() {
    registry.register(slot, NOTHING);
    return registry.unregister(slot);
  }

  @Benchmark
  public boolean registerUnregisterNative() {
    registry.registerNative(slot, Libc.FREE);
    return registry.unregister(slot);
  }

  @Benchmark
  public boolean registerUnregisterJavaArmed() {
    registry.register(slot, NOTHING);
    return registry.unregister(slot);
  }

  @Benchmark
  public boolean registerUnregisterNativeArmed() {
    registry.registerNative(slot, Libc.FREE);
    return registry.unregister(slot);
  }
}
