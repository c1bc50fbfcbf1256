package dev.weave.verification.broken;

import static dev.weave.verification.broken.Broken.broken;

import dev.weave.Destructor;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.spi.Engine;
import dev.weave.tck.Rule;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Rule 13, ending a thread's weave life early: its broken backends, and the cases each must fail.
 */
public final class EarlyEndFaults {
  private EarlyEndFaults() {}

  static final String JOINED = "destructor when join() returned";

  static List<Broken> expected() {
    return List.of(
        broken("broken-no-run-destructors", Rule.R13)
            .fails("r13-order-value-java", "does not implement runDestructors() (contract rule 13)")
            .fails(
                "r13-order-value-native", "does not implement runDestructors() (contract rule 13)")
            .fails(
                "r13-many-registrations-70",
                "does not implement runDestructors() (contract rule 13)")
            .fails(
                "r13-many-registrations-130",
                "does not implement runDestructors() (contract rule 13)")
            .fails(
                "r13-many-registrations-1000",
                "does not implement runDestructors() (contract rule 13)")
            .fails("r13-error-isolation", "does not implement runDestructors() (contract rule 13)")
            .fails("r13-rounds", "does not implement runDestructors() (contract rule 13)")
            .fails("r13-live-thread", "does not implement runDestructors() (contract rule 13)")
            .fails("r13-afterwards", "does not implement runDestructors() (contract rule 13)")
            .fails("r13-register-again", "does not implement runDestructors() (contract rule 13)")
            .fails("r13-in-destructor", "does not implement runDestructors() (contract rule 13)")
            .fails(
                "r13-virtual-thread",
                "but was: <[threw java.lang.UnsupportedOperationException: the broken-no-run-destructors backend does not implement runDestructors()")
            // whether the destructors ran at the thread's death before join() returned is a race;
            // they did not run at its end
            .fails("r13-weave-thread-join", JOINED)
            .fails("r13-thread-factory-join", JOINED)
            .fails("r13-wrap-join", JOINED),
        broken("broken-run-destructors-leaves-cells", Rule.R13)
            .fails(
                "r13-afterwards",
                "but was: <[slot 0 reads 100, slot 0's cell holds 100, slot 69 reads 169, slot 69's cell holds 169]>"));
  }

  /** Rule 13: {@code runDestructors()} is the interface's default, which throws. */
  public static final class NoRunDestructors extends TestBackend {
    public NoRunDestructors() {
      super("broken-no-run-destructors", -23);
    }

    @Override
    DestructorRegistry build(String name) {
      Engine engine = new Engine(name, BrokenBackends.jna());
      return new ForwardingRegistry(engine) {
        @Override
        public void runDestructors() {
          throw new UnsupportedOperationException(
              "the "
                  + backendName()
                  + " backend does not implement runDestructors() (contract rule 13)");
        }
      };
    }
  }

  /**
   * Rule 13: {@code runDestructors()} runs the destructors, then puts back the values of the slots
   * the thread registered on: their cells are not 0 afterwards.
   */
  public static final class RunDestructorsLeavesCells extends TestBackend {
    public RunDestructorsLeavesCells() {
      super("broken-run-destructors-leaves-cells", -24);
    }

    @Override
    DestructorRegistry build(String name) {
      ThreadLocal<Set<ThreadLocalSlot>> registeredOn = ThreadLocal.withInitial(LinkedHashSet::new);
      return new ForwardingRegistry(new Engine(name, BrokenBackends.jna())) {
        @Override
        public void register(ThreadLocalSlot slot, Destructor destructor) {
          delegate.register(slot, destructor);
          registeredOn.get().add(slot);
        }

        @Override
        public void registerNative(ThreadLocalSlot slot, long function) {
          delegate.registerNative(slot, function);
          registeredOn.get().add(slot);
        }

        @Override
        public void runDestructors() {
          Map<ThreadLocalSlot, Long> values = new HashMap<>();
          for (ThreadLocalSlot slot : registeredOn.get()) {
            try {
              values.put(slot, slot.get());
            } catch (IllegalStateException closed) {
              // gone
            }
          }
          delegate.runDestructors();
          values.forEach(ThreadLocalSlot::set);
        }
      };
    }
  }
}
