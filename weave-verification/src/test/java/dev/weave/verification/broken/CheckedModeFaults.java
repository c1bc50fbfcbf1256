package dev.weave.verification.broken;

import static dev.weave.verification.broken.Broken.broken;

import dev.weave.DestructorRegistry;
import dev.weave.spi.CheckedPrimitives;
import dev.weave.spi.Engine;
import dev.weave.spi.ForwardingPrimitives;
import dev.weave.spi.NativePrimitives;
import dev.weave.spi.ThreadDeathHandler;
import dev.weave.tck.NativeFixtures;
import dev.weave.tck.Rule;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Rule 14, checked mode: its broken backends, and the cases each must fail. */
public final class CheckedModeFaults {
  private CheckedModeFaults() {}

  static List<Broken> expected() {
    return List.of(
        broken("broken-checked-double-free", Rule.R14)
            // slot indices stay under 64 before r05: only its and r14's threads have chunks of 2
            // KiB
            .cases("^(seed1-java|r02-order-java|r05-|r14-)")
            .fails(
                "r05-cells-outlive-destructors",
                "reported 1 violation(s) of the engine's own memory or keys during the case:\n  double free at")
            .fails(
                "r14-checked-mode",
                "violation(s) of the engine's own memory or keys during the case:\n  double free at"));
  }

  /**
   * Rule 14: weave's engine, always in checked mode, that frees again, once each of a dying
   * thread's callbacks has returned, the chunks of cells of 2 KiB or more that the thread
   * allocated: a chunk freed twice, as a faulty engine would. Checked mode reports the double free
   * without touching the memory, and the TCK must fail each case in which such a thread died,
   * quoting the report.
   */
  public static final class CheckedDoubleFree extends TestBackend {
    static final long LARGE = 2048;

    public CheckedDoubleFree() {
      super("broken-checked-double-free", -25);
    }

    @Override
    DestructorRegistry build(String name) {
      Map<Long, List<Long>> largeChunksByOsThread = new ConcurrentHashMap<>();
      CheckedPrimitives[] checker = new CheckedPrimitives[1];
      NativePrimitives below =
          new ForwardingPrimitives(BrokenBackends.jna()) {
            @Override
            public long allocateZeroed(long bytes) {
              long address = delegate.allocateZeroed(bytes);
              if (bytes >= LARGE) { // the engine allocates a thread's chunks on that thread
                largeChunksByOsThread
                    .computeIfAbsent(NativeFixtures.osThreadId(), t -> new ArrayList<>())
                    .add(address);
              }
              return address;
            }

            @Override
            public long createKey(ThreadDeathHandler handler) {
              return delegate.createKey(
                  id -> {
                    handler.threadDied(id);
                    List<Long> chunks = largeChunksByOsThread.remove(NativeFixtures.osThreadId());
                    if (chunks != null) {
                      chunks.forEach(checker[0]::free); // the fault: the engine freed them already
                    }
                  });
            }
          };
      checker[0] = new CheckedPrimitives(below);
      return new Engine(name, checker[0]);
    }
  }
}
