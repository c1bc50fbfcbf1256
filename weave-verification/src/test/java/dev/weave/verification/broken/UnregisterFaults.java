package dev.weave.verification.broken;

import static dev.weave.verification.broken.Broken.broken;

import dev.weave.Destructor;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.spi.Engine;
import dev.weave.spi.NativePrimitives;
import dev.weave.tck.Rule;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;

/** Rule 3, unregister: its broken backends, and the cases each must fail. */
public final class UnregisterFaults {
  private UnregisterFaults() {}

  static List<Broken> expected() {
    return List.of(
        broken("broken-unregister-drops-one", Rule.R3)
            .fails(
                "seed4-java",
                "second unregister: the first removed both ==> expected: <false> but was: <true>")
            .fails("seed5-java", "d1 calls ==> expected: <0> but was: <1>")
            .fails(
                "seed4-native",
                "second unregister: the first removed both ==> expected: <false> but was: <true>")
            .fails("seed5-native", "d1 calls ==> expected: <0> but was: <1>")
            .fails(
                "seed4-plain",
                "second unregister: the first removed both ==> expected: <false> but was: <true>")
            .fails("seed5-plain", "d1 calls ==> expected: <0> but was: <1>")
            .fails(
                "r03-unregister-per-thread",
                "both went at once ==> expected: <false> but was: <true>")
            .fails("r03-slot-and-cell", "expected: <false> but was: <true>")
            .fails(
                "r03-same-destructor-twice",
                "unregister(a) removed them all at once ==> expected: <false> but was: <true>")
            .fails(
                "r13-rounds",
                "the fifth round's registration was dropped, not kept ==> expected: <false> but was: <true>"),
        broken("broken-unregister-removes-others", Rule.R3)
            .fails(
                "r03-unregister-per-thread",
                "the helper thread's native registration on the slot did not run at its death"));
  }

  /**
   * Rule 3: {@code unregister} drops only the first of the thread's registrations on a variable.
   */
  public static final class UnregisterDropsOne extends TestBackend {
    public UnregisterDropsOne() {
      super("broken-unregister-drops-one", -2);
    }

    @Override
    DestructorRegistry build(String name) {
      return new ShadowRegistry(new Engine(name, BrokenBackends.jna())) {
        @Override
        boolean unregistering(long variable) {
          List<Entry> entries = entries();
          for (int i = 0; i < entries.size(); i++) {
            if (entries.get(i).variable() == variable) {
              entries.remove(i);
              Set<Long> variables = variables();
              variables.add(variable);
              rebuild(false, variables);
              return true;
            }
          }
          return false;
        }
      };
    }
  }

  /** Rule 3: {@code unregister(slot)} also removes the other threads' registrations on the slot. */
  public static final class UnregisterRemovesOthers extends TestBackend {
    public UnregisterRemovesOthers() {
      super("broken-unregister-removes-others", -14);
    }

    @Override
    DestructorRegistry build(String name) {
      NativePrimitives primitives = BrokenBackends.jna();
      Map<ThreadLocalSlot, List<AtomicBoolean>> cancels = new HashMap<>();
      return new WrappingRegistry(new Engine(name, primitives), primitives) {
        @Override
        Destructor wrap(ThreadLocalSlot slot, Destructor destructor) {
          AtomicBoolean cancelled = new AtomicBoolean();
          synchronized (cancels) {
            cancels.computeIfAbsent(slot, s -> new ArrayList<>()).add(cancelled);
          }
          return value -> {
            if (!cancelled.get()) {
              destructor.destroy(value);
            }
          };
        }

        @Override
        public boolean unregister(ThreadLocalSlot slot) {
          boolean removed = delegate.unregister(slot);
          synchronized (cancels) {
            cancels.getOrDefault(slot, List.of()).forEach(c -> c.set(true)); // every thread's
          }
          return removed;
        }
      };
    }
  }
}
