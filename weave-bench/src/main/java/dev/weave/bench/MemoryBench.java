package dev.weave.bench;

import dev.weave.ThreadLocalSlot;
import dev.weave.Weave;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
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
 * Native memory a thread holds for its slots: a new thread reads glibc's heap figure ({@code
 * mallinfo2}, all arenas), sets {@code slots} slots for the first time on it (with 0 it only reads
 * one, which never allocates), reads the figure again, and dies. The counter {@code
 * nativeBytesPerThread} is the median of those differences over an iteration's threads, so that the
 * JVM's own mallocs on other threads (JIT, GC) during a measurement do not count. The primary score
 * is the time of such a thread's life.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 1, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 2, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@State(Scope.Benchmark)
public class MemoryBench {
  @Param({"ffm", "jnr", "jna"})
  public String backend;

  @Param({"0", "1", "100"})
  public int slots;

  private ThreadLocalSlot[] opened;
  private Runnable body;

  /** Written by the measured thread, read after join. */
  private long delta;

  /** The median difference of an iteration. */
  @State(Scope.Thread)
  @AuxCounters(AuxCounters.Type.EVENTS)
  public static class Heap {
    private long[] deltas = new long[1024];
    private int count;

    @Setup(Level.Iteration)
    public void reset() {
      count = 0;
    }

    void add(long delta) {
      if (count == deltas.length) {
        deltas = Arrays.copyOf(deltas, count * 2);
      }
      deltas[count++] = delta;
    }

    public long nativeBytesPerThread() {
      if (count == 0) {
        return 0;
      }
      long[] sorted = Arrays.copyOf(deltas, count);
      Arrays.sort(sorted);
      return sorted[count / 2];
    }
  }

  @Setup
  public void open() {
    var registry = Weave.registry(backend);
    opened = new ThreadLocalSlot[Math.max(slots, 1)];
    for (int i = 0; i < opened.length; i++) {
      opened[i] = registry.newSlot();
    }
    body =
        () -> {
          long before = Libc.heapInUse();
          if (slots == 0) {
            opened[0].get();
          }
          for (int i = 0; i < slots; i++) {
            opened[i].set(i + 1);
          }
          delta = Libc.heapInUse() - before;
        };
  }

  @TearDown
  public void close() {
    for (ThreadLocalSlot slot : opened) {
      slot.close();
    }
  }

  @Benchmark
  public void threadSettingSlots(Heap heap) throws InterruptedException {
    Thread thread = new Thread(body);
    thread.start();
    thread.join();
    heap.add(delta);
  }
}
