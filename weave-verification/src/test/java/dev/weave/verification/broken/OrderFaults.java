package dev.weave.verification.broken;

import static dev.weave.verification.broken.Broken.broken;

import dev.weave.Destructor;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.spi.Engine;
import dev.weave.spi.NativePrimitives;
import dev.weave.tck.Rule;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Rule 2, at death, in order: its broken backends, and the cases each must fail. */
public final class OrderFaults {
  private OrderFaults() {}

  static final String SEED6 = "d1's count, 5 before d1, d1, r1";

  static List<Broken> expected() {
    return List.of(
        broken("broken-reverse-order", Rule.R2)
            .fails("r15-os-exit-registrations", "seen: before reads 1, second gets 2, after reads")
            .fails(
                "seed6-java",
                SEED6
                    + " (r1 last: 100; r1 between the d1s: 101; r1 first: 102; none ran: 5) ==> expected: <100> but was: <102>")
            .fails(
                "seed6-native",
                SEED6
                    + " (r1 last: 0; r1 between the d1s: 1; r1 first: 2; none ran: 5) ==> expected: <0> but was: <2>")
            .fails(
                "seed6-plain",
                SEED6
                    + " (r1 last: 0; r1 between the d1s: 1; r1 first: 2; none ran: 5) ==> expected: <0> but was: <2>")
            .fails("r01-reattached-thread", "expected: <[first=2, second=2]> but was: <[second=2]>")
            .fails("r02-order-java", "but was: <[a2=10, b2=2, zero=0, a1=10, b1=20]>")
            .fails(
                "r02-order-native",
                "but was: <[after trywait: other=0, after first two: sem=3 other=0]>")
            .fails("r02-plain-variables", "sem_post on first must post atDeath")
            .fails(
                "r04-unregister-in-destructor",
                "but was: <[later ran, unregister(later)=false, unregister(variable)=false]>")
            .fails("r05-cells-outlive-destructors", "wrong: slot 1=0x3e9, first=1000 high=1069]>")
            .fails(
                "r06-throwing-destructor",
                "but was: <[after the last throw, after the native one: posted=0, after the Error,")
            .fails("r07-rounds", "but was: <[round 1 b, round 1 a, round 2, round 3, round 4]>")
            .fails(
                "r13-order-value-java", "but was: <[a2=10, b2=2, zero=0, a1=10, b1=20, returned]>")
            .fails("r13-order-value-native", "but was: <[java last: posted=0 zeroed=3 plain=0")
            .fails(
                "r13-error-isolation",
                "but was: <[after the last throw, after the native one: posted=0, after the Error,")
            .fails(
                "r13-rounds",
                "but was: <[round 1 b, round 1 a, round 2, round 3, round 4, returned]>")
            .fails(
                "r13-in-destructor",
                "but was: <[in runDestructors(): IllegalStateException, after it, at death: IllegalStateException]>")
            .fails(
                "r02-same-destructor-twice", "but was: <[same=1, same=2, same=1, other=2, same=1]>")
            .fails(
                "r02-many-registrations-70",
                "first difference at record 0: expected <#0 got 1000 after 0 native> but was <#68")
            .fails(
                "r02-many-registrations-130",
                "first difference at record 0: expected <#0 got 1000 after 0 native> but was <#128")
            .fails(
                "r02-many-registrations-1000",
                "first difference at record 0: expected <#0 got 1000 after 0 native> but was <#998")
            .fails("r03-same-destructor-twice", "but was: <[same=1, same=2]>")
            .fails(
                "r13-many-registrations-70",
                "first difference at record 0: expected <#0 got 1000 after 0 native> but was <#68")
            .fails(
                "r13-many-registrations-130",
                "first difference at record 0: expected <#0 got 1000 after 0 native> but was <#128")
            .fails(
                "r13-many-registrations-1000",
                "first difference at record 0: expected <#0 got 1000 after 0 native> but was <#998"),
        broken("broken-stale-value", Rule.R2)
            .fails(
                "r15-os-exit-registrations",
                // the third's value as an earlier walk read it, not as it is when it runs (3)
                "after reads 0, third gets 2",
                "after reads 0, third gets 0")
            .fails("r02-order-java", "but was: <[b1=2, a1=10, zero=0, b2=2, a2=10]>")
            .fails(
                "r13-order-value-java", "but was: <[b1=2, a1=10, zero=0, b2=2, a2=10, returned]>"),
        broken("broken-value-at-registration", Rule.R2)
            .fails("r15-os-exit-registrations", "seen: before reads 1, first gets 1, second gets 2")
            .fails("r01-reattached-thread", "but was: <[first=1, second=2]>")
            .fails("r02-order-java", "but was: <[b1=2, a1=1, zero=0, b2=2, a2=1]>")
            .fails(
                "r02-order-native",
                "but was: <[after first two: sem=3 other=1, after trywait: other=0]>")
            .fails("r13-order-value-java", "but was: <[b1=2, a1=1, zero=0, b2=2, a2=1, returned]>")
            .fails("r13-order-value-native", "but was: <[java last: posted=0 zeroed=3 plain=1")
            .fails(
                "r13-register-again",
                "but was: <[first=0, second=2, after the second runDestructors(), third=true]>"),
        broken("broken-runs-twice", Rule.R2)
            .fails("r15-os-exit-slots-only", "after reads 0, third gets 3, third gets 3")
            .fails("r15-os-exit-registrations", "first gets 2, first gets 2, second gets 2")
            .fails("seed1-java", "expected: <1> but was: <2>")
            .fails("seed3-java", "expected: <1> but was: <2>")
            .fails("seed5-java", "d2 calls ==> expected: <2> but was: <4>")
            .fails("seed7-java", "expected: <10> but was: <20>")
            .fails("seed7-seq-java", "expected: <10> but was: <20>")
            .fails(
                "r01-per-thread-java",
                "the dead thread's destructor ==> expected: <1> but was: <2>")
            .fails(
                "r01-per-thread-native",
                "the dead thread's native destructor ==> expected: <1> but was: <2>")
            .fails("r01-reattached-thread", "but was: <[first=2, first=2, second=2, second=2]>")
            .fails("r02-order-java", "but was: <[b1=2, b1=2, a1=10, a1=10,")
            .fails(
                "r02-order-native",
                "but was: <[after first two: sem=0 other=2, after first two: sem=0 other=2,")
            .fails(
                "r02-plain-variables",
                "last: atRegistration=0 atDeath=3 late=0, last: atRegistration=0")
            .fails(
                "r03-unregister-per-thread",
                "only the registration on the other slot ran ==> expected: <100> but was: <200>")
            .fails(
                "r03-slot-and-cell",
                "only the last registration ran ==> expected: <1> but was: <2>")
            .fails(
                "r04-unregister-in-destructor",
                "unregister(later)=false, unregister(variable)=false]>")
            .fails(
                "r04-pool-threads",
                "destructor calls, one per pool thread ==> expected: <4> but was: <8>")
            .fails(
                "r04-pthread-threads-java",
                "destructor calls, one per thread started by pthread_create ==> expected: <4> but was: <8>")
            .fails(
                "r05-cells-outlive-destructors",
                "but was: <[first=1000 high=1069, first=1000 high=1069,")
            .fails(
                "r06-throwing-destructor",
                "but was: <[after the first throw, after the first throw, the next one, the next one,")
            .fails("r07-rounds", "but was: <[round 1 a, round 1 a, round 1 b, round 1 b,")
            .fails("r13-order-value-java", "but was: <[b1=2, b1=2, a1=10, a1=10,")
            .fails(
                "r13-order-value-native",
                "but was: <[java last: posted=0 zeroed=0 plain=1, java last:")
            .fails(
                "r13-error-isolation",
                "after the last throw, after the last throw, returned, posted=2]>")
            .fails("r13-rounds", "but was: <[round 1 a, round 1 a, round 1 b, round 1 b,")
            .fails("r13-live-thread", "value=42, same Thread=true")
            .fails("r13-register-again", "but was: <[first=1, first=1, second=2, second=2,")
            .fails(
                "r13-in-destructor",
                "in runDestructors(): IllegalStateException, in runDestructors(): IllegalStateException,")
            .fails(
                "r13-weave-thread-join",
                "but was: <[java, on the same Thread: true, java, on the same Thread: true]>")
            .fails(
                "r13-thread-factory-join",
                "but was: <[java, on the same Thread: true, java, on the same Thread: true]>")
            .fails(
                "r13-wrap-join",
                "but was: <[java, on the same Thread: true, java, on the same Thread: true]>")
            .fails(
                "r02-same-destructor-twice",
                "but was: <[same=1, same=1, other=2, other=2, same=1, same=1, same=2, same=2,")
            .fails("r02-many-registrations-70", "98 Java destructor calls of 49, then posted 35")
            .fails("r02-many-registrations-130", "182 Java destructor calls of 91, then posted 65")
            .fails(
                "r02-many-registrations-1000", "1400 Java destructor calls of 700, then posted 500")
            .fails("r03-same-destructor-twice", "but was: <[same=2, same=2, same=1, same=1]>")
            .fails("r13-many-registrations-70", "98 Java destructor calls of 49, then posted 35")
            .fails("r13-many-registrations-130", "182 Java destructor calls of 91, then posted 65")
            .fails(
                "r13-many-registrations-1000",
                "1400 Java destructor calls of 700, then posted 500"),
        broken("broken-ignores-plain-variables", Rule.R2)
            .fails("r12-unaligned-variable", "IllegalArgumentException to be thrown")
            .fails("seed1-plain", "expected: <1> but was: <0>")
            .fails("seed2-plain", "unregister after register ==> expected: <true> but was: <false>")
            .fails("seed3-plain", "expected: <1> but was: <0>")
            .fails(
                "seed4-plain",
                "first unregister of two registrations ==> expected: <true> but was: <false>")
            .fails("seed5-plain", "expected: <true> but was: <false>")
            .fails("seed6-plain", "expected: <0> but was: <5>")
            .fails("seed7-plain", "expected: <10> but was: <0>")
            .fails("seed7-seq-plain", "expected: <10> but was: <0>")
            .fails(
                "r02-plain-variables",
                "but was: <[after the first: atRegistration=0 atDeath=2 late=2")
            .fails(
                "r04-unregister-in-destructor",
                "but was: <[unregister(later)=true, unregister(variable)=false]>")
            .fails("r13-order-value-native", "but was: <[java last: posted=0 zeroed=0 plain=0")
            .fails("r02-many-registrations-70", "49 Java destructor calls of 49, then posted 14")
            .fails("r02-many-registrations-130", "91 Java destructor calls of 91, then posted 26")
            .fails(
                "r02-many-registrations-1000", "700 Java destructor calls of 700, then posted 200")
            .fails("r13-many-registrations-70", "49 Java destructor calls of 49, then posted 14")
            .fails("r13-many-registrations-130", "91 Java destructor calls of 91, then posted 26")
            .fails(
                "r13-many-registrations-1000", "700 Java destructor calls of 700, then posted 200"),
        broken("broken-stops-after-64", Rule.R2)
            .fails(
                "r02-many-registrations-70",
                "run at its death: 45 Java destructor calls of 49, then posted 19 (expected posted 21)")
            .fails(
                "r02-many-registrations-130",
                "run at its death: 45 Java destructor calls of 91, then posted 19 (expected posted 39)")
            .fails(
                "r02-many-registrations-1000",
                "run at its death: 45 Java destructor calls of 700, then posted 19 (expected posted 300)")
            .fails(
                "r13-many-registrations-70",
                "when runDestructors() returned: 45 Java destructor calls of 49, then posted 19")
            .fails(
                "r13-many-registrations-130",
                "when runDestructors() returned: 45 Java destructor calls of 91, then posted 19")
            .fails(
                "r13-many-registrations-1000",
                "when runDestructors() returned: 45 Java destructor calls of 700, then posted 19"),
        broken("broken-same-destructor-once", Rule.R2)
            .fails("seed5-java", "d2 calls ==> expected: <2> but was: <1>")
            .fails("r02-same-destructor-twice", "but was: <[same=1, other=2, same=2]>"),
        broken("broken-null-to-native", Rule.R2)
            // every case with a native destructor on a slot crashes the JVM: a few show that the
            // run goes on
            .cases(
                "^(seed1-java|seed1-native|r01-per-thread-java|r01-per-thread-native|r02-order-java)")
            .fails("seed1-native", "crashed: SIGSEGV in sem_post")
            .fails("r01-per-thread-native", "crashed: SIGSEGV in sem_post"));
  }

  /** Rule 2: destructors run in the reverse of registration order. */
  public static final class ReverseOrder extends TestBackend {
    public ReverseOrder() {
      super("broken-reverse-order", -1);
    }

    @Override
    DestructorRegistry build(String name) {
      return new ShadowRegistry(new Engine(name, BrokenBackends.jna())) {
        @Override
        void registered() {
          rebuild(true);
        }
      };
    }
  }

  /**
   * Rule 2: each destructor gets its variable's value as it was when the thread began to die, not
   * when the destructor is called: a change made by an earlier destructor is not seen.
   */
  public static final class StaleValue extends TestBackend {
    public StaleValue() {
      super("broken-stale-value", -4);
    }

    @Override
    DestructorRegistry build(String name) {
      NativePrimitives primitives = BrokenBackends.jna();
      ThreadLocal<Snapshot> snapshots = ThreadLocal.withInitial(() -> new Snapshot(primitives));
      return new WrappingRegistry(new Engine(name, primitives), primitives) {
        @Override
        Destructor wrap(ThreadLocalSlot slot, Destructor destructor) {
          Snapshot snapshot = snapshots.get(); // the registering thread's
          long cell = slot.cellAddress();
          snapshot.watch(cell);
          return value -> destructor.destroy(snapshot.valueAtDeath(cell));
        }

        @Override
        public void runDestructors() {
          snapshots.get().forget(); // a new snapshot for this run
          delegate.runDestructors();
          snapshots.get().forget(); // and for the next
        }
      };
    }

    /** The values of a thread's variables, read all at once at the first destructor call. */
    static final class Snapshot {
      private final NativePrimitives primitives;
      private final Set<Long> cells = new LinkedHashSet<>();
      private Map<Long, Long> values;

      Snapshot(NativePrimitives primitives) {
        this.primitives = primitives;
      }

      synchronized void watch(long cell) {
        cells.add(cell);
      }

      synchronized void forget() {
        values = null;
      }

      synchronized long valueAtDeath(long cell) {
        if (values == null) {
          values = new HashMap<>();
          for (long watched : cells) {
            values.put(watched, primitives.getWord(watched));
          }
        }
        return values.getOrDefault(cell, 0L);
      }
    }
  }

  /** Rule 2: each destructor on a slot gets the value its slot held when it was registered. */
  public static final class ValueAtRegistration extends TestBackend {
    public ValueAtRegistration() {
      super("broken-value-at-registration", -9);
    }

    @Override
    DestructorRegistry build(String name) {
      NativePrimitives primitives = BrokenBackends.jna();
      return new WrappingRegistry(new Engine(name, primitives), primitives) {
        @Override
        Destructor wrap(ThreadLocalSlot slot, Destructor destructor) {
          long atRegistration = slot.get();
          return value -> destructor.destroy(atRegistration);
        }
      };
    }
  }

  /** Rule 2: each registration on a slot runs twice. */
  public static final class RunsTwice extends TestBackend {
    public RunsTwice() {
      super("broken-runs-twice", -10);
    }

    @Override
    DestructorRegistry build(String name) {
      NativePrimitives primitives = BrokenBackends.jna();
      return new WrappingRegistry(new Engine(name, primitives), primitives) {
        @Override
        Destructor wrap(ThreadLocalSlot slot, Destructor destructor) {
          return value -> {
            destructor.destroy(value);
            destructor.destroy(value);
          };
        }
      };
    }
  }

  /**
   * Rule 2: a registration on a variable that is no slot's cell (the seed's form) is dropped
   * without a word.
   */
  public static final class IgnoresPlainVariables extends TestBackend {
    public IgnoresPlainVariables() {
      super("broken-ignores-plain-variables", -12);
    }

    @Override
    DestructorRegistry build(String name) {
      ChunkTracking primitives = new ChunkTracking(BrokenBackends.jna());
      return new ForwardingRegistry(new Engine(name, primitives)) {
        @Override
        public void registerNative(long variable, long function) {
          if (variable != 0
              && function != 0
              && !primitives.isCell(variable)
              && !BrokenBackends.isVirtual()) {
            return;
          }
          delegate.registerNative(variable, function);
        }
      };
    }
  }

  /**
   * Contract 2, and a crash: a native destructor on a slot is called with NULL instead of its
   * variable's value, so {@code sem_post(NULL)} brings the JVM down. The TCK must report the crash
   * as the case's failure and go on.
   */
  public static final class NullToNative extends TestBackend {
    public NullToNative() {
      super("broken-null-to-native", -22);
    }

    @Override
    DestructorRegistry build(String name) {
      NativePrimitives primitives = BrokenBackends.jna();
      return new ForwardingRegistry(new Engine(name, primitives)) {
        @Override
        public void registerNative(ThreadLocalSlot slot, long function) {
          if (slot == null || function == 0) {
            delegate.registerNative(slot, function); // throws what the contract says
            return;
          }
          delegate.register(slot, value -> primitives.callDestructor(function, 0));
        }
      };
    }
  }

  /**
   * Rule 2: a walk stops after the 64th destructor call, Java or native (as a walk over one chunk
   * of 64 registrations would); the rest are dropped without a word.
   */
  public static final class StopsAfter64 extends TestBackend {
    static final int LIMIT = 64;

    public StopsAfter64() {
      super("broken-stops-after-64", -27);
    }

    @Override
    DestructorRegistry build(String name) {
      ThreadLocal<int[]> calls = ThreadLocal.withInitial(() -> new int[1]);
      return Intercepting.registry(
          name,
          new Intercepting.Walk() {
            @Override
            public void starts() {
              calls.get()[0] = 0;
            }

            @Override
            public void call(Runnable destructor) {
              if (++calls.get()[0] <= LIMIT) {
                destructor.run();
              }
            }
          });
    }
  }

  /**
   * Rule 2: a {@link Destructor} object registered again on a variable where the thread already has
   * it registered is not registered again: two registrations collapse into one.
   */
  public static final class SameDestructorOnce extends TestBackend {
    public SameDestructorOnce() {
      super("broken-same-destructor-once", -28);
    }

    @Override
    DestructorRegistry build(String name) {
      ThreadLocal<Map<Long, Set<Destructor>>> registered = ThreadLocal.withInitial(HashMap::new);
      return new ForwardingRegistry(new Engine(name, BrokenBackends.jna())) {
        @Override
        public void register(ThreadLocalSlot slot, Destructor destructor) {
          long cell;
          try {
            cell = slot.cellAddress();
          } catch (RuntimeException badSlot) {
            delegate.register(slot, destructor); // throws what the contract says
            return;
          }
          Set<Destructor> onCell =
              registered
                  .get()
                  .computeIfAbsent(cell, c -> Collections.newSetFromMap(new IdentityHashMap<>()));
          if (destructor != null && !onCell.add(destructor)) {
            return; // the fault: it is there already
          }
          delegate.register(slot, destructor);
        }

        @Override
        public boolean unregister(ThreadLocalSlot slot) {
          boolean removed = delegate.unregister(slot);
          registered.get().remove(slot.cellAddress());
          return removed;
        }

        @Override
        public boolean unregister(long variable) {
          boolean removed = delegate.unregister(variable);
          registered.get().remove(variable);
          return removed;
        }

        @Override
        public void runDestructors() {
          registered.get().clear(); // they run now, and are gone
          delegate.runDestructors();
        }
      };
    }
  }
}
