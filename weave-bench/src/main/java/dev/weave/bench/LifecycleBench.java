package dev.weave.bench;

import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.Weave;
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
 * A thread's whole life with weave: start, set a slot, register {@code destructors} native
 * destructors, die, and every destructor done. The last destructor is libc {@code sem_post} on a
 * semaphore the benchmark thread waits for (registration order makes it the last to run); the
 * others are libc {@code free} of a variable holding 0. With 0 destructors the thread only sets a
 * slot, and its death is done when {@code join} returns.
 *
 * <p>Baseline: before each invocation of {@value #BLOCK} such lives, untimed by JMH, {@link
 * PairedBare} starts and joins {@value #BLOCK} bare {@code Thread}s and times them with {@code
 * System.nanoTime()}, so that every fork measures its own baseline alternately with the weave
 * threads: on a small or busy machine a baseline from another fork, minutes apart, is no baseline.
 * The blocks keep each kind's tail (what a thread still does after the figure stops: the detach
 * after the last destructor, the OS thread's exit) on its own kind, but at a block's edge. {@link
 * LifecycleBaseline#bareThread()} measures the bare thread alone, as JMH times it.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@State(Scope.Benchmark)
public class LifecycleBench {
  /** Thread lives per invocation, of each kind. */
  static final int BLOCK = 16;

  @Param({"ffm", "jnr", "jna"})
  public String backend;

  /** One destructor is {@link WalkerBench}'s, under each walker. */
  @Param({"0", "10"})
  public int destructors;

  private DestructorRegistry registry;
  private ThreadLocalSlot semaphoreSlot;
  private ThreadLocalSlot zeroSlot;
  private long semaphore;
  private Runnable body;

  /**
   * Bare threads' lives, in blocks alternating with the measured ones; summed over an iteration.
   */
  @State(Scope.Thread)
  @AuxCounters(AuxCounters.Type.EVENTS)
  public static class PairedBare {
    private static final Runnable NOTHING = () -> {};

    public long bareThreadNanos;
    public long bareThreads;

    @Setup(Level.Iteration)
    public void reset() {
      bareThreadNanos = 0;
      bareThreads = 0;
    }

    @Setup(Level.Invocation)
    public void bareThreads() throws InterruptedException {
      long start = System.nanoTime();
      for (int i = 0; i < BLOCK; i++) {
        Thread thread = new Thread(NOTHING);
        thread.start();
        thread.join();
      }
      bareThreadNanos += System.nanoTime() - start;
      bareThreads += BLOCK;
    }
  }

  @Setup
  public void open() {
    registry = Weave.registry(backend);
    semaphoreSlot = registry.newSlot();
    zeroSlot = registry.newSlot();
    semaphore = Libc.newSemaphore();
    body =
        () -> {
          semaphoreSlot.set(semaphore);
          for (int i = 1; i < destructors; i++) {
            registry.registerNative(zeroSlot, Libc.FREE);
          }
          if (destructors > 0) {
            registry.registerNative(semaphoreSlot, Libc.SEM_POST);
          }
        };
  }

  @Benchmark
  @OperationsPerInvocation(BLOCK)
  public void threadLifecycle(PairedBare bare) throws InterruptedException {
    for (int i = 0; i < BLOCK; i++) {
      Thread thread = new Thread(body);
      thread.start();
      thread.join();
      if (destructors > 0) {
        Libc.semWait(semaphore);
      }
    }
  }
}
