package dev.weave.verification;

import com.sun.jna.Pointer;
import dev.weave.Destructor;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.WeaveException;
import dev.weave.spi.CheckedPrimitives;
import dev.weave.spi.Engine;
import dev.weave.spi.NativePrimitives;
import dev.weave.spi.ThreadDeathHandler;
import dev.weave.spi.WeaveBackend;
import dev.weave.tck.NativeFixtures;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Real backends with one rule of the contract broken, for the TCK to catch ({@link TckSelfTest}
 * lists which cases each must fail, and why). Each is the engine over real native primitives
 * (JNA's, or FFM's for the threads left attached) under its own name, with the fault switched in by
 * a decorator on its registry, by a change to its primitives, or (checked mode) by a second call
 * through its checked primitives. None really frees memory early or crashes by chance: the one that
 * crashes, {@link NullToNative}, does so on purpose, in {@code sem_post(NULL)}. They are found by
 * {@link java.util.ServiceLoader} on this module's test class path (see {@code META-INF/services}),
 * and their negative priorities keep {@link dev.weave.Weave#registry()} from ever picking one.
 */
public final class BrokenBackends {
  private BrokenBackends() {}

  /**
   * @return whether {@code backend} is one of this module's test backends (negative priority)
   *     rather than a real one
   */
  public static boolean isTestBackend(dev.weave.Backend backend) {
    return backend.priority() < 0;
  }

  /**
   * A backend that builds its registry on first use and reports a failure to build as its reason.
   */
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

  /**
   * Contract 3: {@code unregister} drops only the first of the thread's registrations on a
   * variable.
   */
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
   * destructor. It runs the Java walker (its primitives offer no library): the native walker
   * detaches what it attaches itself.
   */
  public static final class LeftAttached extends TestBackend {
    public LeftAttached() {
      super("broken-left-attached", -6);
    }

    @Override
    DestructorRegistry build(String name) throws Exception {
      if (Runtime.version().feature() < 22) {
        throw new UnsupportedOperationException(
            "needs Java 22+ (it is the FFM backend without its detach key)");
      }
      NativePrimitives primitives =
          (NativePrimitives)
              Class.forName("dev.weave.ffm.FfmPrimitives").getConstructor().newInstance();
      Engine engine = withWalkerKey(new Engine(name, new ForwardingPrimitives(primitives)));
      Field detachKey = primitives.getClass().getDeclaredField("detachKey");
      detachKey.setAccessible(true);
      detachKey.setLong(primitives, primitives.createKey(0)); // a key whose destructor is none
      return engine;
    }
  }

  /**
   * Contract 4: each destructor on a slot runs on a new thread of its own, which the dying thread
   * waits for; so its slot and registry calls act on that other thread.
   */
  public static final class OtherThread extends TestBackend {
    public OtherThread() {
      super("broken-other-thread", -8);
    }

    @Override
    DestructorRegistry build(String name) {
      NativePrimitives primitives = jna();
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

  /** Contract 2: each destructor on a slot gets the value its slot held when it was registered. */
  public static final class ValueAtRegistration extends TestBackend {
    public ValueAtRegistration() {
      super("broken-value-at-registration", -9);
    }

    @Override
    DestructorRegistry build(String name) {
      NativePrimitives primitives = jna();
      return new WrappingRegistry(new Engine(name, primitives), primitives) {
        @Override
        Destructor wrap(ThreadLocalSlot slot, Destructor destructor) {
          long atRegistration = slot.get();
          return value -> destructor.destroy(atRegistration);
        }
      };
    }
  }

  /** Contract 2: each registration on a slot runs twice. */
  public static final class RunsTwice extends TestBackend {
    public RunsTwice() {
      super("broken-runs-twice", -10);
    }

    @Override
    DestructorRegistry build(String name) {
      NativePrimitives primitives = jna();
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
   * Contract 5: a dying thread's chunks of cells are filled with glibc's perturb byte, as if freed
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
      ChunkTracking primitives = new ChunkTracking(jna());
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

  /**
   * Contract 2: a registration on a variable that is no slot's cell (the seed's form) is dropped
   * without a word.
   */
  public static final class IgnoresPlainVariables extends TestBackend {
    public IgnoresPlainVariables() {
      super("broken-ignores-plain-variables", -12);
    }

    @Override
    DestructorRegistry build(String name) {
      ChunkTracking primitives = new ChunkTracking(jna());
      return new ForwardingRegistry(new Engine(name, primitives)) {
        @Override
        public void registerNative(long variable, long function) {
          if (variable != 0
              && function != 0
              && !primitives.isCell(variable)
              && !VirtualThreadsAllowed.isVirtual()) {
            return;
          }
          delegate.registerNative(variable, function);
        }
      };
    }
  }

  /** Contract 4: {@code unregister} called from a destructor answers true and removes nothing. */
  public static final class UnregisterIgnoredInDestructor extends TestBackend {
    public UnregisterIgnoredInDestructor() {
      super("broken-unregister-ignored-in-destructor", -13);
    }

    @Override
    DestructorRegistry build(String name) {
      ThreadLocal<boolean[]> inDestructor = ThreadLocal.withInitial(() -> new boolean[1]);
      return new ForwardingRegistry(new Engine(name, jna())) {
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

  /**
   * Contract 3: {@code unregister(slot)} also removes the other threads' registrations on the slot.
   */
  public static final class UnregisterRemovesOthers extends TestBackend {
    public UnregisterRemovesOthers() {
      super("broken-unregister-removes-others", -14);
    }

    @Override
    DestructorRegistry build(String name) {
      NativePrimitives primitives = jna();
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

  /**
   * Contract 8: the FFM backend, but a thread whose registrations were all native stays attached to
   * the JVM after its death: only a walk that ran a Java destructor sets the detach key.
   */
  public static final class LeftAttachedNativeOnly extends TestBackend {
    public LeftAttachedNativeOnly() {
      super("broken-left-attached-native-only", -15);
    }

    @Override
    DestructorRegistry build(String name) throws Exception {
      if (Runtime.version().feature() < 22) {
        throw new UnsupportedOperationException(
            "needs Java 22+ (it is the FFM backend with a detach key of its own)");
      }
      NativePrimitives ffm =
          (NativePrimitives)
              Class.forName("dev.weave.ffm.FfmPrimitives").getConstructor().newInstance();
      long javaVm = field(ffm, "javaVm").getLong(ffm);
      long realDetachKey = ffm.createKey(field(ffm, "detachCurrentThread").getLong(ffm));
      ThreadLocal<boolean[]> ranJava = ThreadLocal.withInitial(() -> new boolean[1]);
      NativePrimitives primitives =
          new ForwardingPrimitives(ffm) {
            @Override
            public long createKey(ThreadDeathHandler handler) {
              return delegate.createKey(
                  id -> {
                    ranJava.get()[0] = false;
                    handler.threadDied(id);
                    if (ranJava.get()[0]) {
                      delegate.setKey(
                          realDetachKey, javaVm); // glibc detaches the thread after the walk
                    }
                  });
            }
          };
      Engine engine = withWalkerKey(new Engine(name, primitives));
      field(ffm, "detachKey")
          .setLong(ffm, ffm.createKey(0)); // what the walker sets from now on: no destructor
      return new ForwardingRegistry(engine) {
        @Override
        public void register(ThreadLocalSlot slot, Destructor destructor) {
          delegate.register(
              slot,
              destructor == null
                  ? null
                  : value -> {
                    ranJava.get()[0] = true;
                    destructor.destroy(value);
                  });
        }
      };
    }

    private static Field field(Object object, String name) throws NoSuchFieldException {
      Field field = object.getClass().getDeclaredField(name);
      field.setAccessible(true);
      return field;
    }
  }

  /**
   * Contract 8: 3 KiB of native memory is lost at each death of a thread with registrations (under
   * 1 MiB per 250 deaths).
   */
  public static final class LeaksPerDeath extends TestBackend {
    static final int LEAKED_BYTES = 3 << 10;

    public LeaksPerDeath() {
      super("broken-leaks-per-death", -16);
    }

    @Override
    DestructorRegistry build(String name) {
      return new Engine(
          name,
          new ForwardingPrimitives(jna()) {
            @Override
            public long createKey(ThreadDeathHandler handler) {
              return delegate.createKey(
                  id -> {
                    delegate.allocateZeroed(LEAKED_BYTES);
                    handler.threadDied(id);
                  });
            }
          });
    }
  }

  /**
   * Contract 10: at JVM exit a shutdown hook runs every registration that has not run, those of
   * live threads too.
   */
  public static final class RunsAtExit extends TestBackend {
    public RunsAtExit() {
      super("broken-runs-at-exit", -17);
    }

    @Override
    DestructorRegistry build(String name) {
      NativePrimitives primitives = jna();
      List<Runnable> pending = new ArrayList<>();
      AtomicBoolean hooked = new AtomicBoolean();
      return new WrappingRegistry(new Engine(name, primitives), primitives) {
        @Override
        Destructor wrap(ThreadLocalSlot slot, Destructor destructor) {
          long cell = slot.cellAddress();
          AtomicBoolean ran = new AtomicBoolean();
          synchronized (pending) {
            pending.add(
                () -> {
                  if (!ran.getAndSet(true)) {
                    destructor.destroy(primitives.getWord(cell));
                  }
                });
          }
          if (!hooked.getAndSet(true)) {
            Runtime.getRuntime()
                .addShutdownHook(
                    new Thread(
                        () -> {
                          synchronized (pending) {
                            for (Runnable registration : pending) {
                              try {
                                registration.run();
                              } catch (Throwable ignored) {
                                // the next one still runs
                              }
                            }
                          }
                        },
                        "broken-runs-at-exit"));
          }
          return value -> {
            if (!ran.getAndSet(true)) {
              destructor.destroy(value);
            }
          };
        }
      };
    }
  }

  /**
   * Contract 11: a closed slot's registrations still run at death, with the value its cell holds.
   */
  public static final class RunsClosedSlots extends TestBackend {
    public RunsClosedSlots() {
      super("broken-runs-closed-slots", -18);
    }

    @Override
    DestructorRegistry build(String name) {
      NativePrimitives primitives = jna();
      Engine engine = new Engine(name, primitives);
      ThreadLocalSlot hidden = engine.newSlot(); // its registrations run what close() dropped
      return new WrappingRegistry(engine, primitives) {
        @Override
        Destructor wrap(ThreadLocalSlot slot, Destructor destructor) {
          long cell = slot.cellAddress();
          delegate.register(
              hidden,
              value -> {
                if (isClosed(slot)) {
                  destructor.destroy(primitives.getWord(cell));
                }
              });
          return destructor;
        }

        private boolean isClosed(ThreadLocalSlot slot) {
          try {
            slot.get();
            return false;
          } catch (IllegalStateException closed) {
            return true;
          }
        }
      };
    }
  }

  /**
   * Contract 11: a new slot on a closed slot's storage reads the value last set there until it is
   * set itself.
   */
  public static final class NewSlotReadsOld extends TestBackend {
    public NewSlotReadsOld() {
      super("broken-new-slot-reads-old", -19);
    }

    @Override
    DestructorRegistry build(String name) {
      return new OldValueRegistry(new Engine(name, jna()));
    }
  }

  /**
   * Contract 12: calls with a null, 0, closed or foreign argument return quietly instead of
   * throwing.
   */
  public static final class RefusesNothing extends TestBackend {
    public RefusesNothing() {
      super("broken-refuses-nothing", -20);
    }

    @Override
    DestructorRegistry build(String name) {
      return new ForwardingRegistry(new Engine(name, jna())) {
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

  /**
   * Contract 9: {@code unregister(variable)} from a virtual thread answers false instead of
   * refusing it.
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
      return new ForwardingRegistry(new Engine(name, jna())) {
        @Override
        public boolean unregister(long variable) {
          return VirtualThreadsAllowed.isVirtual() ? false : delegate.unregister(variable);
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
      NativePrimitives primitives = jna();
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
   * Contract 7: a registration made by a running destructor runs at once, inside the call that made
   * it, instead of after the current ones in a later round; and so without a limit of rounds.
   */
  public static final class RegisteredWhileDyingRunsAtOnce extends TestBackend {
    public RegisteredWhileDyingRunsAtOnce() {
      super("broken-registered-while-dying-runs-at-once", -26);
    }

    @Override
    DestructorRegistry build(String name) {
      NativePrimitives primitives = jna();
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

  /** Contract 13: {@code runDestructors()} is the interface's default, which throws. */
  public static final class NoRunDestructors extends TestBackend {
    public NoRunDestructors() {
      super("broken-no-run-destructors", -23);
    }

    @Override
    DestructorRegistry build(String name) {
      Engine engine = new Engine(name, jna());
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
   * Contract 13: {@code runDestructors()} runs the destructors, then puts back the values of the
   * slots the thread registered on: their cells are not 0 afterwards.
   */
  public static final class RunDestructorsLeavesCells extends TestBackend {
    public RunDestructorsLeavesCells() {
      super("broken-run-destructors-leaves-cells", -24);
    }

    @Override
    DestructorRegistry build(String name) {
      ThreadLocal<Set<ThreadLocalSlot>> registeredOn = ThreadLocal.withInitial(LinkedHashSet::new);
      return new ForwardingRegistry(new Engine(name, jna())) {
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

  /**
   * Contract 14: weave's engine, always in checked mode, that frees again, once each of a dying
   * thread's callbacks has returned, the chunks of cells of 2 KiB or more that the thread
   * allocated: a chunk freed twice, as a faulty engine would. Checked mode reports the double free
   * without touching the memory, and the TCK must fail each case in which such a thread died,
   * quoting the report.
   */
  public static final class CheckedDoubleFree extends TestBackend {
    static final long LARGE = 2048;

    public CheckedDoubleFree() {
      super("broken-checked-double-free", -25);
    }

    @Override
    DestructorRegistry build(String name) {
      Map<Long, List<Long>> largeChunksByOsThread = new ConcurrentHashMap<>();
      CheckedPrimitives[] checker = new CheckedPrimitives[1];
      NativePrimitives below =
          new ForwardingPrimitives(jna()) {
            @Override
            public long allocateZeroed(long bytes) {
              long address = delegate.allocateZeroed(bytes);
              if (bytes >= LARGE) { // the engine allocates a thread's chunks on that thread
                largeChunksByOsThread
                    .computeIfAbsent(NativeFixtures.osThreadId(), t -> new ArrayList<>())
                    .add(address);
              }
              return address;
            }

            @Override
            public long createKey(ThreadDeathHandler handler) {
              return delegate.createKey(
                  id -> {
                    handler.threadDied(id);
                    List<Long> chunks = largeChunksByOsThread.remove(NativeFixtures.osThreadId());
                    if (chunks != null) {
                      chunks.forEach(checker[0]::free); // the fault: the engine freed them already
                    }
                  });
            }
          };
      checker[0] = new CheckedPrimitives(below);
      return new Engine(name, checker[0]);
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
    public void runDestructors() {
      delegate.runDestructors();
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

  static void rethrowUnchecked(Throwable t) {
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

  /** Passes every call to other primitives. */
  static class ForwardingPrimitives implements NativePrimitives {
    final NativePrimitives delegate;

    ForwardingPrimitives(NativePrimitives delegate) {
      this.delegate = delegate;
    }

    @Override
    public long allocateZeroed(long bytes) {
      return delegate.allocateZeroed(bytes);
    }

    @Override
    public void free(long address) {
      delegate.free(address);
    }

    @Override
    public long getWord(long address) {
      return delegate.getWord(address);
    }

    @Override
    public void putWord(long address, long value) {
      delegate.putWord(address, value);
    }

    @Override
    public long freeFunction() {
      return delegate.freeFunction();
    }

    @Override
    public long createKey(long destructorFunction) {
      return delegate.createKey(destructorFunction);
    }

    @Override
    public long createKey(ThreadDeathHandler handler) {
      return delegate.createKey(handler);
    }

    @Override
    public long getKey(long key) {
      return delegate.getKey(key);
    }

    @Override
    public void setKey(long key, long value) {
      delegate.setKey(key, value);
    }

    @Override
    public void deleteKey(long key) {
      delegate.deleteKey(key);
    }

    @Override
    public void callDestructor(long function, long argument) {
      delegate.callDestructor(function, argument);
    }

    @Override
    public ByteBuffer directBuffer(long address, int bytes) {
      return delegate.directBuffer(address, bytes);
    }
  }

  /**
   * Primitives that remember the blocks the engine allocated (its chunks of cells), and on which OS
   * thread: the engine allocates a thread's chunks on that thread.
   */
  static final class ChunkTracking extends ForwardingPrimitives {
    /** address to {address, bytes, OS thread id}. */
    private final Map<Long, long[]> chunks = new ConcurrentHashMap<>();

    ChunkTracking(NativePrimitives delegate) {
      super(delegate);
    }

    @Override
    public long allocateZeroed(long bytes) {
      long address = delegate.allocateZeroed(bytes);
      chunks.put(address, new long[] {address, bytes, NativeFixtures.osThreadId()});
      return address;
    }

    @Override
    public void free(long address) {
      chunks.remove(address);
      delegate.free(address);
    }

    /**
     * @return {address, bytes} of each chunk the calling OS thread allocated and has not freed
     */
    List<long[]> chunksOfThisThread() {
      long thread = NativeFixtures.osThreadId();
      return chunks.values().stream().filter(c -> c[2] == thread).toList();
    }

    /**
     * @return whether {@code address} is in a chunk of cells
     */
    boolean isCell(long address) {
      return chunks.values().stream().anyMatch(c -> address >= c[0] && address < c[0] + c[1]);
    }
  }

  /**
   * Slots of its own around the engine's, which remember the last value set in each cell; a new
   * slot reads it until it is set on that thread.
   */
  static final class OldValueRegistry extends ForwardingRegistry {
    private final Map<Long, Long> lastValues = new ConcurrentHashMap<>();

    OldValueRegistry(DestructorRegistry delegate) {
      super(delegate);
    }

    @Override
    public ThreadLocalSlot newSlot() {
      return new OldValueSlot(delegate.newSlot());
    }

    private ThreadLocalSlot unwrap(ThreadLocalSlot slot) {
      if (slot == null) {
        return null; // the engine throws what the contract says
      }
      if (slot instanceof OldValueSlot own && own.registry() == this) {
        return own.inner;
      }
      throw new IllegalArgumentException(
          "slot belongs to "
              + (slot.registry() == null
                  ? slot.getClass().getName()
                  : "the " + slot.registry().backendName() + " backend")
              + ", not to the "
              + backendName()
              + " backend");
    }

    @Override
    public void register(ThreadLocalSlot slot, Destructor destructor) {
      delegate.register(unwrap(slot), destructor);
    }

    @Override
    public void registerNative(ThreadLocalSlot slot, long function) {
      delegate.registerNative(unwrap(slot), function);
    }

    @Override
    public boolean unregister(ThreadLocalSlot slot) {
      return delegate.unregister(unwrap(slot));
    }

    private final class OldValueSlot implements ThreadLocalSlot {
      final ThreadLocalSlot inner;
      final ThreadLocal<Boolean> setHere = new ThreadLocal<>();

      OldValueSlot(ThreadLocalSlot inner) {
        this.inner = inner;
      }

      @Override
      public long get() {
        long value = inner.get();
        if (value == 0 && setHere.get() == null) {
          return lastValues.getOrDefault(inner.cellAddress(), 0L);
        }
        return value;
      }

      @Override
      public void set(long value) {
        inner.set(value);
        setHere.set(true);
        lastValues.put(inner.cellAddress(), value);
      }

      @Override
      public long cellAddress() {
        return inner.cellAddress();
      }

      @Override
      public DestructorRegistry registry() {
        return OldValueRegistry.this;
      }

      @Override
      public void close() {
        inner.close();
      }

      @Override
      public String toString() {
        return inner.toString();
      }
    }
  }

  /**
   * Keeps, per thread, the registrations made through it in order, so that it can take them all off
   * the real registry and put them back in another order or without one of them.
   */
  abstract static class ShadowRegistry extends ForwardingRegistry {
    /**
     * One registration: its variable, its slot (null for a plain variable) and how to make it
     * again.
     */
    record Entry(long variable, ThreadLocalSlot slot, Runnable register) {
      boolean slotClosed() {
        if (slot == null) {
          return false;
        }
        try {
          slot.get();
          return false;
        } catch (IllegalStateException closed) {
          return true;
        }
      }
    }

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

    /** This thread's registrations, but those on slots closed since: close() dropped them. */
    List<Entry> entries() {
      List<Entry> own = entries.get();
      own.removeIf(Entry::slotClosed);
      return own;
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

    private void add(
        Runnable register, ThreadLocalSlot slot, java.util.function.LongSupplier variable) {
      register.run(); // the real checks, and the registration
      entries().add(new Entry(variable.getAsLong(), slot, register));
      registered();
    }

    @Override
    public void register(ThreadLocalSlot slot, Destructor destructor) {
      add(() -> delegate.register(slot, destructor), slot, () -> slot.cellAddress());
    }

    @Override
    public void registerNative(ThreadLocalSlot slot, long function) {
      add(() -> delegate.registerNative(slot, function), slot, () -> slot.cellAddress());
    }

    @Override
    public void registerNative(long variable, long function) {
      add(() -> delegate.registerNative(variable, function), null, () -> variable);
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

    @Override
    public void runDestructors() {
      entries().clear(); // they run now, and are gone
      delegate.runDestructors();
    }
  }
}
