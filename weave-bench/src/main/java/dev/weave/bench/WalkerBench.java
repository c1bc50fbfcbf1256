package dev.weave.bench;

import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.Weave;
import dev.weave.spi.Engine;
import dev.weave.spi.WalkerChoice;
import dev.weave.spi.WalkerLibrary;
import java.util.concurrent.Semaphore;
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
 * A plain thread's whole life with one destructor, under each walker (the key destructor that runs
 * a dying thread's registrations): start, set a slot, register one destructor, die, and the
 * destructor done. The native destructor is libc {@code sem_post} on a semaphore the benchmark
 * thread waits for; the Java one releases a {@link Semaphore}. With the native walker a thread
 * whose destructors are all native dies without entering the JVM; the Java walker, and a Java
 * destructor under either, attach the dying thread to the JVM again. Each fork sets {@code
 * -Dweave.walker} before it first asks for the backend, and checks it got that walker. Bare threads
 * are timed in the same fork, alternating with these in blocks, as in {@link LifecycleBench}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@State(Scope.Benchmark)
public class WalkerBench {
  @Param({"ffm", "jnr", "jna"})
  public String backend;

  @Param({"native", "java"})
  public String walker;

  @Param({"native", "java"})
  public String destructor;

  private long semaphore;
  private final Semaphore javaDone = new Semaphore(0);
  private Runnable body;

  @Setup
  public void open() {
    System.setProperty(WalkerLibrary.WALKER_PROPERTY, walker);
    DestructorRegistry registry = Weave.registry(backend);
    WalkerChoice choice = ((Engine) registry).walker();
    if (choice.isNative() != walker.equals("native")) {
      throw new IllegalStateException("asked for the " + walker + " walker, got the " + choice);
    }
    ThreadLocalSlot slot = registry.newSlot();
    semaphore = Libc.newSemaphore();
    body =
        destructor.equals("native")
            ? () -> {
              slot.set(semaphore);
              registry.registerNative(slot, Libc.SEM_POST);
            }
            : () -> {
              slot.set(0);
              registry.register(slot, value -> javaDone.release());
            };
  }

  @Benchmark
  @OperationsPerInvocation(LifecycleBench.BLOCK)
  public void threadWithOneDestructor(LifecycleBench.PairedBare bare) throws InterruptedException {
    for (int i = 0; i < LifecycleBench.BLOCK; i++) {
      Thread thread = new Thread(body);
      thread.start();
      thread.join();
      if (destructor.equals("native")) {
        Libc.semWait(semaphore);
      } else {
        javaDone.acquire();
      }
    }
  }
}
