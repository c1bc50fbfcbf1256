package dev.weave.bench;

import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.Weave;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
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
 * One thread dying with {@value #DESTRUCTORS} native destructors (libc {@code free} of a variable
 * holding 0, so the C side costs next to nothing and the figure is weave's). The primary score is
 * the whole life per destructor: start, {@value #DESTRUCTORS} registrations, death, walk. The walk
 * alone is timed between two Java destructors registered first and last, which run in the same
 * walk: the {@link Walk} counters {@code walkNanos} and {@code walkedDestructors} give ns per
 * native destructor, and {@code walkCpuNanos} the dying thread's CPU time over the same stretch
 * (which, unlike wall-clock time, does not grow while the thread waits for a CPU on a busy
 * machine).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@State(Scope.Benchmark)
public class WalkBench {
  static final int DESTRUCTORS = 10_000;
  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

  @Param({"ffm", "jnr", "jna"})
  public String backend;

  private DestructorRegistry registry;
  private ThreadLocalSlot markSlot;
  private ThreadLocalSlot zeroSlot;

  /** Written by the dying thread, read after the latch. */
  private long walkStart;

  private long walkEnd;
  private long walkCpuStart;
  private long walkCpuEnd;
  private CountDownLatch done;
  private Runnable body;

  /** The walk alone, summed over an iteration. */
  @State(Scope.Thread)
  @AuxCounters(AuxCounters.Type.EVENTS)
  public static class Walk {
    public long walkNanos;
    public long walkCpuNanos;
    public long walkedDestructors;

    @Setup(Level.Iteration)
    public void reset() {
      walkNanos = 0;
      walkCpuNanos = 0;
      walkedDestructors = 0;
    }
  }

  @Setup
  public void open() {
    registry = Weave.registry(backend);
    markSlot = registry.newSlot();
    zeroSlot = registry.newSlot();
    body =
        () -> {
          registry.register(
              markSlot,
              value -> {
                walkCpuStart = THREADS.getCurrentThreadCpuTime();
                walkStart = System.nanoTime();
              });
          for (int i = 0; i < DESTRUCTORS; i++) {
            registry.registerNative(zeroSlot, Libc.FREE);
          }
          registry.register(
              markSlot,
              value -> {
                walkEnd = System.nanoTime();
                walkCpuEnd = THREADS.getCurrentThreadCpuTime();
                done.countDown();
              });
        };
  }

  @Benchmark
  @OperationsPerInvocation(DESTRUCTORS)
  public void threadWith10000Destructors(Walk walk) throws InterruptedException {
    done = new CountDownLatch(1);
    Thread thread = new Thread(body);
    thread.start();
    done.await();
    thread.join();
    walk.walkNanos += walkEnd - walkStart;
    walk.walkCpuNanos += walkCpuEnd - walkCpuStart;
    walk.walkedDestructors += DESTRUCTORS;
  }
}
