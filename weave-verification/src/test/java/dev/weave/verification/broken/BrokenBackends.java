package dev.weave.verification.broken;

import dev.weave.Backend;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.spi.Engine;
import dev.weave.spi.NativePrimitives;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.ArrayList;
import java.util.List;

/**
 * Real backends with one rule of the contract broken, for the TCK to catch: one file per rule (
 * {@link OrderFaults} for rule 2, and so on), each with its backends and, in {@code expected()},
 * the cases each must fail and why, which {@code TckSelfTest} checks. Each is the engine over real
 * native primitives (JNA's, or FFM's for the threads left attached) under its own name, with the
 * fault switched in by a decorator on its registry, by a change to its primitives ({@link
 * dev.weave.spi.ForwardingPrimitives}), or (checked mode) by a call through its checked primitives.
 * None really frees memory early or crashes by chance: the one that crashes, {@code
 * broken-null-to-native}, does so on purpose, in {@code sem_post(NULL)}. They are found by {@link
 * java.util.ServiceLoader} on this module's test class path (see {@code META-INF/services}), and
 * their negative priorities keep {@link dev.weave.Weave#registry()} from ever picking one.
 */
public final class BrokenBackends {
  private BrokenBackends() {}

  /**
   * @return whether {@code backend} is one of this module's test backends (negative priority)
   *     rather than a real one
   */
  public static boolean isTestBackend(Backend backend) {
    return backend.priority() < 0;
  }

  /**
   * @return each broken backend, the rule it breaks, and every case it must fail with the reason
   */
  public static List<Broken> expected() {
    List<Broken> all = new ArrayList<>();
    all.addAll(OrderFaults.expected());
    all.addAll(UnregisterFaults.expected());
    all.addAll(WhereDestructorsRunFaults.expected());
    all.addAll(CellLifetimeFaults.expected());
    all.addAll(ThrowingDestructorFaults.expected());
    all.addAll(RoundsFaults.expected());
    all.addAll(LeakFaults.expected());
    all.addAll(VirtualThreadFaults.expected());
    all.addAll(ExitFaults.expected());
    all.addAll(ClosingFaults.expected());
    all.addAll(BadInputFaults.expected());
    all.addAll(EarlyEndFaults.expected());
    all.addAll(CheckedModeFaults.expected());
    all.addAll(OsExitFaults.expected());
    return all;
  }

  static NativePrimitives jna() {
    return new dev.weave.jna.JnaPrimitives();
  }

  /**
   * {@code engine}, once it has made its walker key: FfmPrimitives makes a new detach key above a
   * thread-death key made above its own, so a detach key swapped in must come after the walker's.
   */
  static Engine withWalkerKey(Engine engine) {
    try (ThreadLocalSlot slot = engine.newSlot()) {
      engine.register(slot, value -> {});
      engine.unregister(slot);
    }
    return engine;
  }

  private static final MethodHandle IS_VIRTUAL = isVirtualHandle();

  /**
   * @return whether a virtual thread calls (never on Java 17 to 20)
   */
  static boolean isVirtual() {
    try {
      return IS_VIRTUAL != null && (boolean) IS_VIRTUAL.invokeExact(Thread.currentThread());
    } catch (Throwable t) {
      throw new AssertionError(t);
    }
  }

  private static MethodHandle isVirtualHandle() {
    try {
      return MethodHandles.publicLookup()
          .findVirtual(Thread.class, "isVirtual", MethodType.methodType(boolean.class));
    } catch (ReflectiveOperationException e) {
      return null;
    }
  }

  /** Never usable: for the runner's handling of a backend that cannot load. */
  public static final class Unusable extends TestBackend {
    public Unusable() {
      super("unusable-for-tests", -100);
    }

    @Override
    DestructorRegistry build(String name) {
      throw new UnsupportedOperationException("switched off on purpose, for the tests");
    }
  }
}
