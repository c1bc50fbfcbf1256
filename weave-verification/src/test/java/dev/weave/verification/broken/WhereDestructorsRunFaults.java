package dev.weave.verification.broken;

import static dev.weave.verification.broken.Broken.broken;

import dev.weave.Destructor;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.spi.Engine;
import dev.weave.spi.NativePrimitives;
import dev.weave.tck.Rule;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/** Rule 4, where destructors run: its broken backends, and the cases each must fail. */
public final class WhereDestructorsRunFaults {
  private WhereDestructorsRunFaults() {}

  static List<Broken> expected() {
    return List.of(
        broken("broken-other-thread", Rule.R4)
            .fails("r02-order-java", "but was: <[b1=2, a1=10, zero=0, b2=2, a2=10]>")
            .fails("r04-where-destructors-run", "the destructor ran on another OS thread")
            .fails(
                "r04-unregister-in-destructor",
                "but was: <[unregister(later)=false, unregister(variable)=false, later ran]>")
            .fails(
                "r04-pool-threads",
                "each destructor ran on its own thread with its own value ==> expected: <4> but was: <0>")
            .fails(
                "r04-pthread-threads-java",
                "each ran on its own thread with its own value ==> expected: <4> but was: <0>")
            .fails("r05-cells-outlive-destructors", "but was: <[first=1000 high=0,")
            // registrations made by its destructors belong to other threads, whose deaths race the
            // cases' checks
            .fails(
                "r07-rounds",
                "weave logged no warning about the dropped fifth-round registration",
                "expected: <[round 1 a, round 1 b, round 2, round 3, round 4]> but was: <[round 1 a, ")
            .fails(
                "r13-order-value-java", "but was: <[b1=2, a1=10, zero=0, b2=2, a2=10, returned]>")
            .fails(
                "r13-rounds",
                "expected: <[round 1 a, round 1 b, round 2, round 3, round 4, returned]> but was: <[round 1 a, ")
            .fails(
                "r13-live-thread",
                "but was: <[same Thread=false name=broken-other-thread threadLocal=null same OS thread=false")
            .fails(
                "r13-in-destructor",
                "but was: <[in runDestructors(): returned, at death: returned, after it]>")
            .fails("r13-weave-thread-join", "but was: <[java, on the same Thread: false]>")
            .fails("r13-thread-factory-join", "but was: <[java, on the same Thread: false]>")
            .fails("r13-wrap-join", "but was: <[java, on the same Thread: false]>"),
        broken("broken-unregister-ignored-in-destructor", Rule.R4)
            .fails(
                "r04-unregister-in-destructor",
                "but was: <[unregister(later)=true, unregister(variable)=true, later ran]>"));
  }

  /**
   * Rule 4: each destructor on a slot runs on a new thread of its own, which the dying thread waits
   * for; so its slot and registry calls act on that other thread.
   */
  public static final class OtherThread extends TestBackend {
    public OtherThread() {
      super("broken-other-thread", -8);
    }

    @Override
    DestructorRegistry build(String name) {
      NativePrimitives primitives = BrokenBackends.jna();
      return new WrappingRegistry(new Engine(name, primitives), primitives) {
        @Override
        Destructor wrap(ThreadLocalSlot slot, Destructor destructor) {
          return value -> {
            AtomicReference<Throwable> thrown = new AtomicReference<>();
            Thread other =
                new Thread(
                    () -> {
                      try {
                        destructor.destroy(value);
                      } catch (Throwable t) {
                        thrown.set(t);
                      }
                    },
                    "broken-other-thread");
            other.start();
            try {
              other.join();
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            rethrowUnchecked(thrown.get());
          };
        }
      };
    }
  }

  /** Rule 4: {@code unregister} called from a destructor answers true and removes nothing. */
  public static final class UnregisterIgnoredInDestructor extends TestBackend {
    public UnregisterIgnoredInDestructor() {
      super("broken-unregister-ignored-in-destructor", -13);
    }

    @Override
    DestructorRegistry build(String name) {
      ThreadLocal<boolean[]> inDestructor = ThreadLocal.withInitial(() -> new boolean[1]);
      return new ForwardingRegistry(new Engine(name, BrokenBackends.jna())) {
        @Override
        public void register(ThreadLocalSlot slot, Destructor destructor) {
          delegate.register(
              slot,
              destructor == null
                  ? null
                  : value -> {
                    inDestructor.get()[0] = true;
                    try {
                      destructor.destroy(value);
                    } finally {
                      inDestructor.get()[0] = false;
                    }
                  });
        }

        @Override
        public boolean unregister(ThreadLocalSlot slot) {
          return inDestructor.get()[0] || delegate.unregister(slot);
        }

        @Override
        public boolean unregister(long variable) {
          return inDestructor.get()[0] || delegate.unregister(variable);
        }
      };
    }
  }

  private static void rethrowUnchecked(Throwable t) {
    if (t instanceof RuntimeException) {
      throw (RuntimeException) t;
    }
    if (t instanceof Error) {
      throw (Error) t;
    }
    if (t != null) {
      throw new IllegalStateException(t);
    }
  }
}
