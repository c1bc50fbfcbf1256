package dev.weave.verification.broken;

import static dev.weave.verification.broken.Broken.broken;

import com.sun.jna.Pointer;
import dev.weave.DestructorRegistry;
import dev.weave.spi.Engine;
import dev.weave.spi.ForwardingPrimitives;
import dev.weave.spi.ThreadDeathHandler;
import dev.weave.tck.NativeFixtures;
import dev.weave.tck.Rule;
import java.util.List;

/** Rule 5, cells outlive destructors: its broken backends, and the cases each must fail. */
public final class CellLifetimeFaults {
  private CellLifetimeFaults() {}

  static List<Broken> expected() {
    return List.of(
        broken("broken-cells-freed-early", Rule.R5)
            // a native destructor handed the perturbed cells' contents would crash: these cases use
            // Java ones
            .cases(
                "^(seed\\d-java|r02-order-java|r04-where-destructors-run|r05-|r11-(?!slot-churn)|r13-afterwards)")
            .fails("seed1-java", "expected: <1> but was: <0>")
            .fails("seed3-java", "expected: <1> but was: <0>")
            .fails("seed5-java", "d2 calls ==> expected: <2> but was: <0>")
            .fails("seed7-java", "expected: <10> but was: <0>")
            .fails("r02-order-java", "but was: <[b1=-6510615555426900571, a1=-6510615555426900571,")
            .fails(
                "r04-where-destructors-run",
                "slot.get() in a destructor reads the dying thread's cell ==> expected: <42> but was: <-6510615555426900571>",
                // a cell found through its perturbed owner word, not the cell cache, is no cell: 0
                "slot.get() in a destructor reads the dying thread's cell ==> expected: <42> but was: <0>")
            .fails("r05-cells-outlive-destructors", "but was: <[first=-6510615555426900571"));
  }

  /**
   * Rule 5: a dying thread's chunks of cells are filled with glibc's perturb byte, as if freed
   * under {@code MALLOC_PERTURB_}, before its first destructor runs (they are freed, as they should
   * be, after the last: really freeing them early would let destructors write into the heap). The
   * thread's other blocks, its record of registrations (smaller than the smallest chunk, {@value
   * #SMALLEST_CHUNK} bytes), are left as they are. It runs the Java walker (its primitives offer no
   * library), whose key destructor it wraps.
   */
  public static final class CellsFreedEarly extends TestBackend {
    /** 64 cells and their owner words. */
    static final long SMALLEST_CHUNK = 1024;

    public CellsFreedEarly() {
      super("broken-cells-freed-early", -11);
    }

    @Override
    DestructorRegistry build(String name) {
      ChunkTracking primitives = new ChunkTracking(BrokenBackends.jna());
      return new Engine(
          name,
          new ForwardingPrimitives(primitives) {
            @Override
            public long createKey(ThreadDeathHandler handler) {
              return delegate.createKey(
                  id -> {
                    for (long[] chunk : primitives.chunksOfThisThread()) {
                      if (chunk[1] >= SMALLEST_CHUNK) {
                        new Pointer(chunk[0])
                            .setMemory(0, chunk[1], (byte) NativeFixtures.PERTURB_BYTE);
                      }
                    }
                    handler.threadDied(id);
                  });
            }
          });
    }
  }
}
