package dev.weave.verification.broken;

import static dev.weave.verification.broken.Broken.broken;

import dev.weave.Destructor;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.spi.Engine;
import dev.weave.tck.Rule;
import java.util.List;

/** Rule 12, bad input: its broken backends, and the cases each must fail. */
public final class BadInputFaults {
  private BadInputFaults() {}

  static List<Broken> expected() {
    return List.of(
        broken("broken-refuses-nothing", Rule.R12)
            .fails("r12-unaligned-variable", "IllegalArgumentException to be thrown")
            .fails(
                "r12-bad-input",
                "Expected java.lang.NullPointerException to be thrown, but nothing was thrown.")
            .fails(
                "r12-other-backend-slot",
                "==> Expected java.lang.IllegalArgumentException to be thrown, but nothing was thrown."));
  }

  /**
   * Rule 12: calls with a null, 0, closed or foreign argument return quietly instead of throwing.
   */
  public static final class RefusesNothing extends TestBackend {
    public RefusesNothing() {
      super("broken-refuses-nothing", -20);
    }

    @Override
    DestructorRegistry build(String name) {
      return new ForwardingRegistry(new Engine(name, BrokenBackends.jna())) {
        @Override
        public void register(ThreadLocalSlot slot, Destructor destructor) {
          quietly(() -> delegate.register(slot, destructor));
        }

        @Override
        public void registerNative(ThreadLocalSlot slot, long function) {
          quietly(() -> delegate.registerNative(slot, function));
        }

        @Override
        public void registerNative(long variable, long function) {
          quietly(() -> delegate.registerNative(variable, function));
        }

        @Override
        public boolean unregister(ThreadLocalSlot slot) {
          boolean[] removed = new boolean[1];
          quietly(() -> removed[0] = delegate.unregister(slot));
          return removed[0];
        }

        @Override
        public boolean unregister(long variable) {
          boolean[] removed = new boolean[1];
          quietly(() -> removed[0] = delegate.unregister(variable));
          return removed[0];
        }

        private void quietly(Runnable call) {
          try {
            call.run();
          } catch (NullPointerException | IllegalArgumentException refused) {
            // accepted without a word
          } catch (IllegalStateException e) {
            if (!String.valueOf(e.getMessage()).contains("closed")) {
              throw e; // a virtual thread is still refused
            }
          }
        }
      };
    }
  }
}
