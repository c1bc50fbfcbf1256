package dev.weave.verification.broken;

import static dev.weave.verification.broken.Broken.broken;

import dev.weave.Destructor;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.spi.CheckedPrimitives;
import dev.weave.spi.Engine;
import dev.weave.spi.ForwardingPrimitives;
import dev.weave.spi.NativePrimitives;
import dev.weave.spi.ThreadDeathHandler;
import dev.weave.tck.Rule;
import java.lang.reflect.Field;
import java.util.List;

/** Rule 8, no leaks: its broken backends, and the cases each must fail. */
public final class LeakFaults {
  private LeakFaults() {}

  static List<Broken> expected() {
    return List.of(
        broken("broken-left-attached", Rule.R8)
            .javaAtLeast(22) // the FFM backend without its detach key
            .cases("^(seed1-java|r02-order-java|r03-unregister-per-thread|r08-no-leaks)")
            .fails("r08-no-leaks", "dying threads were left attached"),
        broken("broken-left-attached-native-only", Rule.R8)
            .javaAtLeast(22) // the FFM backend with a detach key of its own
            .cases("^(seed1-java|r02-order-java|r03-unregister-per-thread|r08-no-leaks)")
            .fails("r08-no-leaks", "dying threads were left attached"),
        broken("broken-ffi-leaks-per-death", Rule.R8)
            .cases("^(seed1-java|r01-per-thread-native|r08-no-leaks)")
            .fails(
                "r08-no-leaks",
                "deaths with a Java destructor, each against the bare thread death just before it:"
                    + " the C heap grew by "),
        broken("broken-leaks-per-death", Rule.R8)
            .cases("^(seed1-java|r01-per-thread-native|r08-no-leaks|r14-)")
            .fails("r08-no-leaks", "(checked mode: an exact count)")
            .fails("r14-checked-mode", "live blocks after the thread's death: "));
  }

  /**
   * Rule 8: a thread that ran destructors stays attached to the JVM after it died. This is the FFM
   * backend without its detach key: an FFM upcall on a dying thread attaches it and never detaches
   * it (see the detach key in FfmPrimitives), so its detach key is swapped for one that has no
   * destructor. It runs the Java walker (its primitives, forwarded, offer no library): the native
   * walker detaches what it attaches itself.
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
      Engine engine =
          BrokenBackends.withWalkerKey(new Engine(name, new ForwardingPrimitives(primitives)));
      Field detachKey = primitives.getClass().getDeclaredField("detachKey");
      detachKey.setAccessible(true);
      detachKey.setLong(primitives, primitives.createKey(0)); // a key whose destructor is none
      return engine;
    }
  }

  /**
   * Rule 8: the FFM backend, but a thread whose registrations were all native stays attached to the
   * JVM after its death: only a walk that ran a Java destructor sets the detach key.
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
      Engine engine = BrokenBackends.withWalkerKey(new Engine(name, primitives));
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
   * Rule 8: the engine loses a block of 1 KiB, the size of a first chunk of cells, each time a
   * dying thread's key calls back into it: once at the death of a thread with registrations, and,
   * for a thread without, once per chunk its memory keys free. It always runs checked, and the
   * block is allocated through its checked primitives and never freed, as an engine that forgot to
   * free a chunk would leave it: the TCK's exact count of live blocks sees each one.
   */
  public static final class LeaksPerDeath extends TestBackend {
    static final int LOST_BYTES = 1 << 10;

    public LeaksPerDeath() {
      super("broken-leaks-per-death", -16);
    }

    @Override
    DestructorRegistry build(String name) {
      CheckedPrimitives[] checker = new CheckedPrimitives[1];
      NativePrimitives below =
          new ForwardingPrimitives(BrokenBackends.jna()) {
            @Override
            public long createKey(ThreadDeathHandler handler) {
              return delegate.createKey(
                  value -> {
                    checker[0].allocateZeroed(LOST_BYTES);
                    handler.threadDied(value);
                  });
            }
          };
      checker[0] = new CheckedPrimitives(below);
      return new Engine(name, checker[0]);
    }
  }

  /**
   * Rule 8: the backend's own native side loses 3 KiB at each death of a thread with registrations
   * (its primitives allocate it in the walker key's callback and never free it), as an FFI library
   * that keeps per-thread data would: memory the engine never allocated, so no exact count sees it,
   * and only the C heap does.
   */
  public static final class FfiLeaksPerDeath extends TestBackend {
    static final int LOST_BYTES = 3 << 10;

    public FfiLeaksPerDeath() {
      super("broken-ffi-leaks-per-death", -32);
    }

    @Override
    DestructorRegistry build(String name) {
      return new Engine(
          name,
          new ForwardingPrimitives(BrokenBackends.jna()) {
            @Override
            public long createKey(ThreadDeathHandler handler) {
              return delegate.createKey(
                  value -> {
                    delegate.allocateZeroed(LOST_BYTES);
                    handler.threadDied(value);
                  });
            }
          });
    }
  }
}
