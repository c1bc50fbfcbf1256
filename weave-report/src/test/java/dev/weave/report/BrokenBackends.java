package dev.weave.report;

import dev.weave.Destructor;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.WeaveException;
import dev.weave.spi.Engine;
import dev.weave.spi.NativePrimitives;
import dev.weave.spi.WeaveBackend;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Real backends with one rule of the contract broken, for the TCK to catch. Each is the engine over
 * real native primitives (JNA's, or FFM's for the thread left attached) under its own name, with
 * the fault switched in by a decorator on its registry or by a change to its primitives. They are
 * found by {@link java.util.ServiceLoader} on this module's test class path (see {@code
 * META-INF/services}), and their negative priorities keep {@link dev.weave.Weave#registry()} from
 * ever picking one.
 */
public final class BrokenBackends {
  private BrokenBackends() {}

  /** @return whether {@code backend} is one of this module's test backends (negative priority) rather than a real one */
  public static boolean isTestBackend(dev.weave.Backend backend) {
    return backend.priority() < 0;
  }

  /** A backend that builds its registry on first use and reports a failure to build as its reason. */
  abstract static class TestBackend implements WeaveBackend {
    private final String name;
    private final int priority;
    private DestructorRegistry registry;
    private String reason;
    private boolean initialized;

    TestBackend(String name, int priority) {
      this.name = name;
      this.priority = priority;
    }

    /** Builds the registry, or throws {@link UnsupportedOperationException} saying why not here. */
    abstract DestructorRegistry build(String name) throws Exception;

    @Override
    public String name() {
      return name;
    }

    @Override
    public int priority() {
      return priority;
    }

    @Override
    public synchronized Optional<String> unavailabilityReason() {
      initialize();
      return Optional.ofNullable(reason);
    }

    @Override
    public synchronized DestructorRegistry registry() {
      initialize();
      if (registry == null) {
        throw new WeaveException("weave backend '" + name + "' is unusable here: " + reason);
      }
      return registry;
    }

    private void initialize() {
      if (!initialized) {
        initialized = true;
        try {
          registry = build(name);
        } catch (UnsupportedOperationException e) {
          reason = e.getMessage();
        } catch (Exception | LinkageError e) {
          reason = "failed to build: " + e;
        }
      }
    }
  }

  static NativePrimitives jna() {
    return new dev.weave.jna.JnaPrimitives();
  }

  // ---------------------------------------------------------------------------------------------
  // The broken backends

  /** Contract 2: destructors run in the reverse of registration order. */
  public static final class ReverseOrder extends TestBackend {
    public ReverseOrder() {
      super("broken-reverse-order", -1);
    }

    @Override
    DestructorRegistry build(String name) {
      return new ShadowRegistry(new Engine(name, jna())) {
        @Override
        void registered() {
          rebuild(true);
        }
      };
    }
  }

  /** Contract 3: {@code unregister} drops only the first of the thread's registrations on a variable. */
  public static final class UnregisterDropsOne extends TestBackend {
    public UnregisterDropsOne() {
      super("broken-unregister-drops-one", -2);
    }

    @Override
    DestructorRegistry build(String name) {
      return new ShadowRegistry(new Engine(name, jna())) {
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

  /** Contract 6: after a destructor throws, the thread's remaining destructors do not run. */
  public static final class ThrowStopsTheRest extends TestBackend {
    public ThrowStopsTheRest() {
      super("broken-throw-stops-the-rest", -3);
    }

    @Override
    DestructorRegistry build(String name) {
      NativePrimitives primitives = jna();
      ThreadLocal<boolean[]> stopped = ThreadLocal.withInitial(() -> new boolean[1]);
      return new WrappingRegistry(new Engine(name, primitives), primitives) {
        @Override
        Destructor wrap(ThreadLocalSlot slot, Destructor destructor) {
          return value -> {
            boolean[] stop = stopped.get(); // the dying thread's, for the length of its walk
            if (stop[0]) {
              return;
            }
            try {
              destructor.destroy(value);
            } catch (RuntimeException | Error e) {
              stop[0] = true;
              throw e;
            }
          };
        }
      };
    }
  }

  /**
   * Contract 2: each destructor gets its variable's value as it was when the thread began to die,
   * not when the destructor is called: a change made by an earlier destructor is not seen.
   */
  public static final class StaleValue extends TestBackend {
    public StaleValue() {
      super("broken-stale-value", -4);
    }

    @Override
    DestructorRegistry build(String name) {
      NativePrimitives primitives = jna();
      ThreadLocal<Snapshot> snapshots = ThreadLocal.withInitial(() -> new Snapshot(primitives));
      return new WrappingRegistry(new Engine(name, primitives), primitives) {
        @Override
        Destructor wrap(ThreadLocalSlot slot, Destructor destructor) {
          Snapshot snapshot = snapshots.get(); // the registering thread's
          long cell = slot.cellAddress();
          snapshot.watch(cell);
          return value -> destructor.destroy(snapshot.valueAtDeath(cell));
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

  /** Contract 9: registry calls from a virtual thread are not refused (they act on its carrier). */
  public static final class VirtualThreadsAllowed extends TestBackend {
    private static final MethodHandle IS_VIRTUAL = isVirtualHandle();

    public VirtualThreadsAllowed() {
      super("broken-virtual-threads-allowed", -5);
    }

    @Override
    DestructorRegistry build(String name) {
      if (IS_VIRTUAL == null) {
        throw new UnsupportedOperationException("needs Java 21+ (virtual threads)");
      }
      return new ForwardingRegistry(new Engine(name, jna())) {
        @Override
        public ThreadLocalSlot newSlot() {
          if (!isVirtual()) {
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
            if (!isVirtual()) {
              throw e;
            }
          }
        }
      };
    }

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
  }

  /**
   * Contract 8: a thread that ran destructors stays attached to the JVM after it died. This is the
   * FFM backend without its detach key: an FFM upcall on a dying thread attaches it and never
   * detaches it (DESIGN.md, implementation notes), so its detach key is swapped for one that has no
   * destructor.
   */
  public static final class LeftAttached extends TestBackend {
    public LeftAttached() {
      super("broken-left-attached", -6);
    }

    @Override
    DestructorRegistry build(String name) throws Exception {
      if (Runtime.version().feature() < 22) {
        throw new UnsupportedOperationException("needs Java 22+ (it is the FFM backend without its detach key)");
      }
      NativePrimitives primitives =
          (NativePrimitives) Class.forName("dev.weave.ffm.FfmPrimitives").getConstructor().newInstance();
      Field detachKey = primitives.getClass().getDeclaredField("detachKey");
      detachKey.setAccessible(true);
      detachKey.setLong(primitives, primitives.createKey(0)); // a key whose destructor is none
      return new Engine(name, primitives);
    }
  }

  /** Never usable: for the runner's handling of a backend that cannot load. */
  public static final class Unusable extends TestBackend {
    public Unusable() {
      super("unusable-for-tests", -7);
    }

    @Override
    DestructorRegistry build(String name) {
      throw new UnsupportedOperationException("switched off on purpose, for the tests");
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Decorators

  /** Passes every call to the real registry. Slots are the real registry's own. */
  abstract static class ForwardingRegistry implements DestructorRegistry {
    final DestructorRegistry delegate;

    ForwardingRegistry(DestructorRegistry delegate) {
      this.delegate = delegate;
    }

    @Override
    public String backendName() {
      return delegate.backendName();
    }

    @Override
    public ThreadLocalSlot newSlot() {
      return delegate.newSlot();
    }

    @Override
    public void register(ThreadLocalSlot slot, Destructor destructor) {
      delegate.register(slot, destructor);
    }

    @Override
    public void registerNative(ThreadLocalSlot slot, long function) {
      delegate.registerNative(slot, function);
    }

    @Override
    public void registerNative(long variable, long function) {
      delegate.registerNative(variable, function);
    }

    @Override
    public boolean unregister(ThreadLocalSlot slot) {
      return delegate.unregister(slot);
    }

    @Override
    public boolean unregister(long variable) {
      return delegate.unregister(variable);
    }

    @Override
    public String toString() {
      return getClass().getSimpleName() + "[" + backendName() + "]";
    }
  }

  /**
   * Turns every registration on a slot into a Java destructor made by {@link #wrap} (a native one
   * is then called from Java, through the same primitives). Registrations on a bare variable pass
   * through unchanged.
   */
  abstract static class WrappingRegistry extends ForwardingRegistry {
    private final NativePrimitives primitives;

    WrappingRegistry(DestructorRegistry delegate, NativePrimitives primitives) {
      super(delegate);
      this.primitives = primitives;
    }

    abstract Destructor wrap(ThreadLocalSlot slot, Destructor destructor);

    @Override
    public void register(ThreadLocalSlot slot, Destructor destructor) {
      if (slot == null || destructor == null) {
        delegate.register(slot, destructor); // throws what the contract says
        return;
      }
      delegate.register(slot, wrap(slot, destructor));
    }

    @Override
    public void registerNative(ThreadLocalSlot slot, long function) {
      if (slot == null || function == 0) {
        delegate.registerNative(slot, function); // throws what the contract says
        return;
      }
      delegate.register(slot, wrap(slot, value -> primitives.callDestructor(function, value)));
    }
  }

  /**
   * Keeps, per thread, the registrations made through it in order, so that it can take them all
   * off the real registry and put them back in another order or without one of them.
   */
  abstract static class ShadowRegistry extends ForwardingRegistry {
    /** One registration: its variable (a slot's cell, on the registering thread) and how to make it again. */
    record Entry(long variable, Runnable register) {}

    private final ThreadLocal<List<Entry>> entries = ThreadLocal.withInitial(ArrayList::new);

    ShadowRegistry(DestructorRegistry delegate) {
      super(delegate);
    }

    /** Called after each registration. */
    void registered() {}

    /**
     * Called by {@code unregister} on a variable of this thread's; returns its result, or false to
     * let the real registry answer.
     */
    boolean unregistering(long variable) {
      return false;
    }

    List<Entry> entries() {
      return entries.get();
    }

    Set<Long> variables() {
      Set<Long> variables = new LinkedHashSet<>();
      for (Entry entry : entries()) {
        variables.add(entry.variable());
      }
      return variables;
    }

    void rebuild(boolean reversed) {
      rebuild(reversed, variables());
    }

    /** Takes this thread's registrations on {@code variables} off, then makes them again. */
    void rebuild(boolean reversed, Set<Long> variables) {
      for (long variable : variables) {
        delegate.unregister(variable);
      }
      List<Entry> order = new ArrayList<>(entries());
      if (reversed) {
        Collections.reverse(order);
      }
      for (Entry entry : order) {
        try {
          entry.register().run();
        } catch (IllegalStateException closedSlot) {
          entries().remove(entry);
        }
      }
    }

    private void add(Runnable register, java.util.function.LongSupplier variable) {
      register.run(); // the real checks, and the registration
      entries().add(new Entry(variable.getAsLong(), register));
      registered();
    }

    @Override
    public void register(ThreadLocalSlot slot, Destructor destructor) {
      add(() -> delegate.register(slot, destructor), () -> slot.cellAddress());
    }

    @Override
    public void registerNative(ThreadLocalSlot slot, long function) {
      add(() -> delegate.registerNative(slot, function), () -> slot.cellAddress());
    }

    @Override
    public void registerNative(long variable, long function) {
      add(() -> delegate.registerNative(variable, function), () -> variable);
    }

    @Override
    public boolean unregister(ThreadLocalSlot slot) {
      long variable;
      try {
        variable = slot.cellAddress();
      } catch (RuntimeException badSlot) {
        return delegate.unregister(slot); // throws what the contract says
      }
      if (variable != 0 && unregistering(variable)) {
        return true;
      }
      entries().removeIf(e -> e.variable() == variable);
      return delegate.unregister(slot);
    }

    @Override
    public boolean unregister(long variable) {
      if (variable != 0 && unregistering(variable)) {
        return true;
      }
      entries().removeIf(e -> e.variable() == variable);
      return delegate.unregister(variable);
    }
  }
}
