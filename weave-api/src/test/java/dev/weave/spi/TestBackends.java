package dev.weave.spi;

import dev.weave.DestructorRegistry;
import java.util.Optional;

/** Backends registered for {@link java.util.ServiceLoader} in weave-api's own tests only. */
public final class TestBackends {
  private TestBackends() {}

  /** Usable, over simulated primitives. */
  public static final class Usable implements WeaveBackend {
    private static final DestructorRegistry REGISTRY =
        new Engine("test-usable", new SimulatedPrimitives());

    @Override
    public String name() {
      return "test-usable";
    }

    @Override
    public int priority() {
      return 5;
    }

    @Override
    public Optional<String> unavailabilityReason() {
      return Optional.empty();
    }

    @Override
    public DestructorRegistry registry() {
      return REGISTRY;
    }
  }

  /** Never usable; its priority is the highest, so selection must skip it. */
  public static final class Unusable implements WeaveBackend {
    @Override
    public String name() {
      return "test-unusable";
    }

    @Override
    public int priority() {
      return 100;
    }

    @Override
    public Optional<String> unavailabilityReason() {
      return Optional.of("simulated: needs a machine that does not exist");
    }

    @Override
    public DestructorRegistry registry() {
      throw new AssertionError("registry() of an unusable backend was called");
    }
  }

  /** Its constructor fails, as a provider whose native side cannot even load. */
  public static final class Failing implements WeaveBackend {
    public Failing() {
      throw new UnsatisfiedLinkError("simulated: libmissing.so not found");
    }

    @Override
    public String name() {
      return "test-failing";
    }

    @Override
    public int priority() {
      return 1;
    }

    @Override
    public Optional<String> unavailabilityReason() {
      return Optional.empty();
    }

    @Override
    public DestructorRegistry registry() {
      return null;
    }
  }

  /** Claims the name of {@link Usable}. */
  public static final class Duplicate implements WeaveBackend {
    @Override
    public String name() {
      return "test-usable";
    }

    @Override
    public int priority() {
      return 50;
    }

    @Override
    public Optional<String> unavailabilityReason() {
      return Optional.empty();
    }

    @Override
    public DestructorRegistry registry() {
      throw new AssertionError("registry() of a duplicate backend was called");
    }
  }

  /** An {@link Error} that is not a {@link LinkageError} while loading its native side. */
  public static final class ErrorWhileLoading extends LoadingBackend {
    public ErrorWhileLoading() {
      super("test-error-while-loading", 90);
    }

    @Override
    protected java.util.Optional<String> precondition() {
      return java.util.Optional.empty();
    }

    @Override
    protected NativePrimitives loadPrimitives() {
      throw new InternalError("simulated: the native side is broken");
    }

    @Override
    protected String explain(Throwable failure) {
      return "explained: " + failure;
    }
  }

  /** Its precondition throws. */
  public static final class ThrowingPrecondition extends LoadingBackend {
    public ThrowingPrecondition() {
      super("test-throwing-precondition", 80);
    }

    @Override
    protected java.util.Optional<String> precondition() {
      throw new IllegalStateException("simulated: cannot tell which CPU this is");
    }

    @Override
    protected NativePrimitives loadPrimitives() {
      throw new AssertionError("loadPrimitives() after a precondition that threw");
    }

    @Override
    protected String explain(Throwable failure) {
      return "explained: " + failure;
    }
  }

  /** Not a {@link LoadingBackend}: its {@code unavailabilityReason()} throws an {@link Error}. */
  public static final class ErrorInReason implements WeaveBackend {
    @Override
    public String name() {
      return "test-error-in-reason";
    }

    @Override
    public int priority() {
      return 70;
    }

    @Override
    public Optional<String> unavailabilityReason() {
      throw new InternalError("simulated: reason lookup crashed");
    }

    @Override
    public DestructorRegistry registry() {
      throw new AssertionError("registry() of a backend whose reason threw was called");
    }
  }

  /**
   * Usable, with a registry written before rule 13: its runDestructors() is the default, which
   * throws.
   */
  public static final class WithoutRunDestructors implements WeaveBackend {
    private static final Engine ENGINE =
        new Engine("test-without-run-destructors", new SimulatedPrimitives());
    private static final DestructorRegistry REGISTRY =
        new DestructorRegistry() {
          @Override
          public String backendName() {
            return ENGINE.backendName();
          }

          @Override
          public dev.weave.ThreadLocalSlot newSlot() {
            return ENGINE.newSlot();
          }

          @Override
          public void register(dev.weave.ThreadLocalSlot slot, dev.weave.Destructor destructor) {
            ENGINE.register(slot, destructor);
          }

          @Override
          public void registerNative(dev.weave.ThreadLocalSlot slot, long function) {
            ENGINE.registerNative(slot, function);
          }

          @Override
          public void registerNative(long variable, long function) {
            ENGINE.registerNative(variable, function);
          }

          @Override
          public boolean unregister(dev.weave.ThreadLocalSlot slot) {
            return ENGINE.unregister(slot);
          }

          @Override
          public boolean unregister(long variable) {
            return ENGINE.unregister(variable);
          }
        };

    @Override
    public String name() {
      return "test-without-run-destructors";
    }

    @Override
    public int priority() {
      return 1;
    }

    @Override
    public Optional<String> unavailabilityReason() {
      return Optional.empty();
    }

    @Override
    public DestructorRegistry registry() {
      return REGISTRY;
    }
  }

  /** Breaks WeaveBackend's note: its name() calls Weave, during discovery. */
  public static final class CallsWeave implements WeaveBackend {
    @Override
    public String name() {
      return "test-calls-weave " + dev.weave.Weave.backends().size();
    }

    @Override
    public int priority() {
      return 2;
    }

    @Override
    public Optional<String> unavailabilityReason() {
      return Optional.empty();
    }

    @Override
    public DestructorRegistry registry() {
      throw new AssertionError("registry() of a backend whose name() threw was called");
    }
  }
}
