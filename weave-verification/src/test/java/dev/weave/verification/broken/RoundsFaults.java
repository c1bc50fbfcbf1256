package dev.weave.verification.broken;

import static dev.weave.verification.broken.Broken.broken;

import dev.weave.Destructor;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.spi.Engine;
import dev.weave.spi.NativePrimitives;
import dev.weave.tck.Rule;
import java.util.List;

/** Rule 7, registering while dying: its broken backends, and the cases each must fail. */
public final class RoundsFaults {
  private RoundsFaults() {}

  static List<Broken> expected() {
    return List.of(
        broken("broken-registered-while-dying-runs-at-once", Rule.R7)
            .fails(
                "r07-rounds",
                "but was: <[round 1 a, round 2, round 3, round 4, round 5, round 1 b]>")
            .fails(
                "r13-rounds",
                "but was: <[round 1 a, round 2, round 3, round 4, round 5, round 1 b, returned]>"));
  }

  /**
   * Rule 7: a registration made by a running destructor runs at once, inside the call that made it,
   * instead of after the current ones in a later round; and so without a limit of rounds.
   */
  public static final class RegisteredWhileDyingRunsAtOnce extends TestBackend {
    public RegisteredWhileDyingRunsAtOnce() {
      super("broken-registered-while-dying-runs-at-once", -26);
    }

    @Override
    DestructorRegistry build(String name) {
      NativePrimitives primitives = BrokenBackends.jna();
      ThreadLocal<int[]> depth = ThreadLocal.withInitial(() -> new int[1]);
      return new WrappingRegistry(new Engine(name, primitives), primitives) {
        @Override
        Destructor wrap(ThreadLocalSlot slot, Destructor destructor) {
          return value -> {
            depth.get()[0]++;
            try {
              destructor.destroy(value);
            } finally {
              depth.get()[0]--;
            }
          };
        }

        @Override
        public void register(ThreadLocalSlot slot, Destructor destructor) {
          if (depth.get()[0] > 0 && slot != null && destructor != null) {
            wrap(slot, destructor).destroy(slot.get()); // now, not in the next round
            return;
          }
          super.register(slot, destructor);
        }
      };
    }
  }
}
