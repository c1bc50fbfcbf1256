package dev.weave.spi;

import dev.weave.DestructorRegistry;
import dev.weave.WeaveException;
import java.lang.System.Logger.Level;
import java.lang.reflect.InvocationTargetException;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A {@link WeaveBackend} made of {@link NativePrimitives} and the {@link Engine}, whose native side
 * is loaded once, on first use, and never throws out of discovery: whatever stops it from loading
 * becomes its {@linkplain #unavailabilityReason() reason}. A subclass says how to load its
 * primitives and how to explain a failure.
 *
 * <p>Loading goes: the {@link Platform} (contract rule 16: unusable where weave's CI does not run
 * the TCK, unless {@value Platform#UNVERIFIED_PROPERTY} lets a POSIX platform through), then {@link
 * #precondition()}, then {@link #loadPrimitives()}, then a probe that uses them once (calloc, a
 * word written and read back, free; a pthread key created, set, read and deleted). A packaging
 * defect (a class, constructor or method of weave, the backend or its FFI library missing or
 * mismatched: {@link NoClassDefFoundError}, {@link NoSuchMethodException} and the like) is logged
 * at WARNING through {@link System.Logger} {@code dev.weave}, and its reason starts with {@value
 * Diagnostics#PACKAGING_DEFECT}; a problem of this machine (the platform, the JDK, a native library
 * that cannot load, native access denied) is logged at DEBUG.
 */
public abstract class LoadingBackend implements WeaveBackend {
  private static final System.Logger LOG = System.getLogger("dev.weave");

  /** Whether a backend has said that it runs on an unverified platform; once per JVM is enough. */
  private static final AtomicBoolean UNVERIFIED_ANNOUNCED = new AtomicBoolean();

  private static final long PROBE_WORD = 0x5eed_cafe_f00d_beefL;

  private final String name;
  private final int priority;

  /** The platform availability is judged by; null for {@link Platform#current()}. */
  private final Platform platform;

  /** Guarded by this; all four are set once, by {@link #load()}. */
  private boolean loaded;

  private DestructorRegistry registry;
  private String unavailabilityReason;
  private Throwable unavailabilityCause;

  /**
   * @param name the backend's name
   * @param priority its priority; {@link dev.weave.Weave#registry()} picks the highest usable one
   */
  protected LoadingBackend(String name, int priority) {
    this(name, priority, null);
  }

  /**
   * For tests that ask what a backend would say on another platform: availability is judged by
   * {@code platform}, while the primitives, if they load, still run on this one.
   *
   * @param name the backend's name
   * @param priority its priority; {@link dev.weave.Weave#registry()} picks the highest usable one
   * @param platform the platform to judge availability by, or null for {@link Platform#current()}
   */
  protected LoadingBackend(String name, int priority, Platform platform) {
    this.name = name;
    this.priority = priority;
    this.platform = platform;
  }

  @Override
  public final String name() {
    return name;
  }

  @Override
  public final int priority() {
    return priority;
  }

  @Override
  public final synchronized Optional<String> unavailabilityReason() {
    load();
    return Optional.ofNullable(unavailabilityReason);
  }

  /**
   * @return what made this backend unusable, when something was thrown: by {@link
   *     #loadPrimitives()} (unwrapped from a reflective constructor's wrapper), the probe, {@link
   *     #precondition()} or {@link #explain(Throwable)}; empty when usable, or when the platform or
   *     {@link #precondition()} said why
   */
  @Override
  public final synchronized Optional<Throwable> unavailabilityCause() {
    load();
    return Optional.ofNullable(unavailabilityCause);
  }

  /**
   * @return the walker of its {@link Engine} ({@link Engine#walker()}), once loaded; empty when
   *     unusable
   */
  @Override
  public final synchronized Optional<String> walker() {
    load();
    return registry instanceof Engine
        ? Optional.of(((Engine) registry).walker().toString())
        : Optional.empty();
  }

  /**
   * @throws WeaveException if this backend is unusable here, with the reason, and the failure as
   *     its cause where there was one
   */
  @Override
  public final synchronized DestructorRegistry registry() {
    load();
    if (registry == null) {
      throw new WeaveException(
          "weave backend '" + name + "' is unusable here: " + unavailabilityReason,
          unavailabilityCause);
    }
    return registry;
  }

  /**
   * Checked after the platform, before anything is loaded. By default: nothing more.
   *
   * @return why this backend cannot run on this JVM, OS or CPU, or empty if it may
   */
  protected Optional<String> precondition() {
    return Optional.empty();
  }

  /**
   * Loads the native side. A backend that loads its primitives by name (so that a missing FFI
   * library or a class file too new for this JVM fails here, not in discovery) does so itself: on
   * the module path only its own module may construct them.
   *
   * @return the primitives the engine runs on
   * @throws Exception anything; it is passed to {@link #explain(Throwable)}
   */
  protected abstract NativePrimitives loadPrimitives() throws Exception;

  /**
   * @param failure what {@link #loadPrimitives()} or the probe threw (a reflective constructor's
   *     own exception, not its wrapper), an {@link Error} included
   * @return the reason to report, saying what would fix it where that is known
   */
  protected abstract String explain(Throwable failure);

  /**
   * Runs once. Whatever the platform check, {@link #precondition()}, {@link #loadPrimitives()}, the
   * probe or {@link #explain(Throwable)} throws, an {@link Error} included, becomes the reason, so
   * that this backend never breaks discovery and stays unusable, with the same reason, on every
   * later call.
   */
  private void load() {
    if (loaded) {
      return;
    }
    boolean defect = false;
    try {
      Platform judged = platform != null ? platform : Platform.current();
      boolean unverifiedAllowed = Boolean.getBoolean(Platform.UNVERIFIED_PROPERTY);
      unavailabilityReason = judged.refusal(unverifiedAllowed).orElse(null);
      if (unavailabilityReason == null) {
        unavailabilityReason = precondition().orElse(null);
      }
      if (unavailabilityReason == null) {
        NativePrimitives primitives = loadPrimitives();
        probe(primitives);
        registry = new Engine(name, primitives);
        if (!judged.verified() && UNVERIFIED_ANNOUNCED.compareAndSet(false, true)) {
          LOG.log(
              Level.INFO,
              "weave runs on {0}, which its CI does not verify (-D{1}=true): run the TCK here",
              judged,
              Platform.UNVERIFIED_PROPERTY);
        }
      }
    } catch (Throwable thrown) {
      Throwable failure =
          thrown instanceof InvocationTargetException && thrown.getCause() != null
              ? thrown.getCause()
              : thrown;
      unavailabilityCause = failure;
      defect = Diagnostics.isPackagingDefect(failure);
      unavailabilityReason = (defect ? Diagnostics.PACKAGING_DEFECT : "") + explainSafely(failure);
    } finally {
      loaded = true;
      if (registry == null
          && unavailabilityReason == null) { // only if building the reason itself failed
        unavailabilityReason = "failed to load";
      }
    }
    if (registry == null) {
      String message = "weave backend '" + name + "' is unusable here: " + unavailabilityReason;
      if (defect) {
        LOG.log(Level.WARNING, message, unavailabilityCause);
      } else if (unavailabilityCause != null) {
        LOG.log(Level.DEBUG, message, unavailabilityCause);
      } else {
        LOG.log(Level.DEBUG, message);
      }
    }
  }

  /**
   * Uses the primitives once, as the engine will (Netty's Epoll proves its availability the same
   * way): a zeroed block, a word written and read back, the block freed; a key with no destructor
   * created, set, read and deleted.
   *
   * @throws IllegalStateException naming the step that went wrong
   */
  private static void probe(NativePrimitives primitives) {
    long block = primitives.allocateZeroed(2 * Long.BYTES);
    try {
      expect(primitives.getWord(block), 0, "a word of calloc'd memory");
      primitives.putWord(block, PROBE_WORD);
      expect(primitives.getWord(block), PROBE_WORD, "a word written with putWord");
    } finally {
      primitives.free(block);
    }
    long key = primitives.createKey(0);
    try {
      expect(primitives.getKey(key), 0, "a new pthread key's value");
      primitives.setKey(key, PROBE_WORD);
      expect(primitives.getKey(key), PROBE_WORD, "a pthread key's value after setKey");
      primitives.setKey(key, 0);
    } finally {
      primitives.deleteKey(key);
    }
  }

  private static void expect(long actual, long expected, String what) {
    if (actual != expected) {
      throw new IllegalStateException(
          "the primitives failed their probe: "
              + what
              + " read back as 0x"
              + Long.toHexString(actual)
              + ", not 0x"
              + Long.toHexString(expected));
    }
  }

  /** {@link #explain(Throwable)}, or, if it throws or says nothing, the failure itself. */
  private String explainSafely(Throwable failure) {
    String reason;
    try {
      reason = explain(failure);
    } catch (Throwable explaining) {
      if (explaining != failure) {
        failure.addSuppressed(explaining);
      }
      return "failed to load: "
          + Diagnostics.causes(failure)
          + " (explaining it threw "
          + Diagnostics.causes(explaining)
          + ")";
    }
    return reason == null || reason.isBlank()
        ? "failed to load: " + Diagnostics.causes(failure)
        : reason;
  }
}
