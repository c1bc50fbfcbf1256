package dev.weave.verification.broken;

import static dev.weave.verification.broken.Broken.broken;

import dev.weave.Destructor;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.spi.Engine;
import dev.weave.tck.Rule;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/** Rule 9, virtual threads: its broken backends, and the cases each must fail. */
public final class VirtualThreadFaults {
  private VirtualThreadFaults() {}

  static List<Broken> expected() {
    return List.of(
        broken("broken-virtual-threads-allowed", Rule.R9)
            .javaAtLeast(21)
            .fails(
                "r09-virtual-threads", "but was: <[newSlot did not throw, register did not throw,"),
        broken("broken-virtual-one-operation", Rule.R9)
            .javaAtLeast(21)
            .fails(
                "r09-virtual-threads",
                "expected: <[]> but was: <[unregister(variable) did not throw]>"));
  }

  /** Rule 9: registry calls from a virtual thread are not refused (they act on its carrier). */
  public static final class VirtualThreadsAllowed extends TestBackend {
    public VirtualThreadsAllowed() {
      super("broken-virtual-threads-allowed", -5);
    }

    @Override
    DestructorRegistry build(String name) {
      if (Runtime.version().feature() < 21) {
        throw new UnsupportedOperationException("needs Java 21+ (virtual threads)");
      }
      return new ForwardingRegistry(new Engine(name, BrokenBackends.jna())) {
        @Override
        public ThreadLocalSlot newSlot() {
          if (!BrokenBackends.isVirtual()) {
            return delegate.newSlot();
          }
          AtomicReference<ThreadLocalSlot> slot = new AtomicReference<>();
          Thread platform = new Thread(() -> slot.set(delegate.newSlot()));
          platform.start();
          try {
            platform.join();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          return slot.get();
        }

        @Override
        public void register(ThreadLocalSlot slot, Destructor destructor) {
          allowed(() -> delegate.register(slot, destructor));
        }

        @Override
        public void registerNative(ThreadLocalSlot slot, long function) {
          allowed(() -> delegate.registerNative(slot, function));
        }

        @Override
        public void registerNative(long variable, long function) {
          allowed(() -> delegate.registerNative(variable, function));
        }

        @Override
        public boolean unregister(ThreadLocalSlot slot) {
          boolean[] result = new boolean[1];
          allowed(() -> result[0] = delegate.unregister(slot));
          return result[0];
        }

        @Override
        public boolean unregister(long variable) {
          boolean[] result = new boolean[1];
          allowed(() -> result[0] = delegate.unregister(variable));
          return result[0];
        }

        private void allowed(Runnable call) {
          try {
            call.run();
          } catch (IllegalStateException e) {
            if (!BrokenBackends.isVirtual()) {
              throw e;
            }
          }
        }
      };
    }
  }

  /**
   * Rule 9: {@code unregister(variable)} from a virtual thread answers false instead of refusing
   * it.
   */
  public static final class VirtualOneOperation extends TestBackend {
    public VirtualOneOperation() {
      super("broken-virtual-one-operation", -21);
    }

    @Override
    DestructorRegistry build(String name) {
      if (Runtime.version().feature() < 21) {
        throw new UnsupportedOperationException("needs Java 21+ (virtual threads)");
      }
      return new ForwardingRegistry(new Engine(name, BrokenBackends.jna())) {
        @Override
        public boolean unregister(long variable) {
          return BrokenBackends.isVirtual() ? false : delegate.unregister(variable);
        }
      };
    }
  }
}
