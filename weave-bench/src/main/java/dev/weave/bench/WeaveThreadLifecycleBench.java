package dev.weave.bench;

import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.Weave;
import dev.weave.WeaveThread;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A {@link WeaveThread}'s whole life: start, set a slot, register one destructor (native: libc
 * {@code free} of the slot's value, NULL; or Java), end its task, run its destructors on the live
 * thread, and be joined, when its destructors have run. Bare threads are timed in the same fork,
 * alternating with these in blocks, as in {@link LifecycleBench}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@State(Scope.Benchmark)
public class WeaveThreadLifecycleBench {
  @Param({"ffm", "jnr", "jna"})
  public String backend;

  @Param({"native", "java"})
  public String destructor;

  private Runnable body;

  @Setup
  public void open() {
    DestructorRegistry registry = Weave.registry(backend);
    ThreadLocalSlot slot = registry.newSlot();
    body =
        destructor.equals("native")
            ? () -> {
              slot.set(0);
              registry.registerNative(slot, Libc.FREE);
            }
            : () -> {
              slot.set(0);
              registry.register(slot, value -> {});
            };
  }

  @Benchmark
  @OperationsPerInvocation(LifecycleBench.BLOCK)
  public void weaveThreadLifecycle(LifecycleBench.PairedBare bare) throws InterruptedException {
    for (int i = 0; i < LifecycleBench.BLOCK; i++) {
      Thread thread = new WeaveThread(body);
      thread.start();
      thread.join();
    }
  }
}
