package dev.weave.spi;

import dev.weave.DestructorRegistry;
import dev.weave.WeaveException;
import java.lang.reflect.InvocationTargetException;
import java.util.Optional;

/**
 * A {@link WeaveBackend} made of {@link NativePrimitives} and the {@link Engine}, whose native side
 * is loaded once, on first use, and never throws out of discovery: whatever stops it from loading
 * becomes its {@linkplain #unavailabilityReason() reason}. A subclass says how to load its
 * primitives and how to explain a failure.
 */
public abstract class LoadingBackend implements WeaveBackend {
  private final String name;
  private final int priority;

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
    this.name = name;
    this.priority = priority;
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
   *     #loadPrimitives()} (unwrapped from a reflective constructor's wrapper), {@link
   *     #precondition()} or {@link #explain(Throwable)}; empty when usable or when {@link
   *     #precondition()} said why
   */
  public final synchronized Optional<Throwable> unavailabilityCause() {
    load();
    return Optional.ofNullable(unavailabilityCause);
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
   * Checked before anything is loaded. By default: Linux, whose glibc pthread keys the engine's
   * semantics are measured on.
   *
   * @return why this backend cannot run on this JVM, OS or CPU, or empty if it may
   */
  protected Optional<String> precondition() {
    String os = System.getProperty("os.name", "");
    return os.startsWith("Linux")
        ? Optional.empty()
        : Optional.of("needs Linux with glibc (this is " + os + ")");
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
   * @param failure what {@link #loadPrimitives()} threw (a reflective constructor's own exception,
   *     not its wrapper), an {@link Error} included
   * @return the reason to report, saying what would fix it where that is known
   */
  protected abstract String explain(Throwable failure);

  /**
   * Runs once. Whatever {@link #precondition()}, {@link #loadPrimitives()} or {@link
   * #explain(Throwable)} throws, an {@link Error} included, becomes the reason, so that this
   * backend never breaks discovery and stays unusable, with the same reason, on every later call.
   */
  private void load() {
    if (loaded) {
      return;
    }
    try {
      unavailabilityReason = precondition().orElse(null);
      if (unavailabilityReason == null) {
        registry = new Engine(name, loadPrimitives());
      }
    } catch (Throwable thrown) {
      Throwable failure =
          thrown instanceof InvocationTargetException && thrown.getCause() != null
              ? thrown.getCause()
              : thrown;
      unavailabilityCause = failure;
      unavailabilityReason = explainSafely(failure);
    } finally {
      loaded = true;
      if (registry == null
          && unavailabilityReason == null) { // only if building the reason itself failed
        unavailabilityReason = "failed to load";
      }
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
