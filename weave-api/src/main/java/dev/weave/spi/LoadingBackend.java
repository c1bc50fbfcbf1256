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
  private boolean loaded;
  private DestructorRegistry registry;
  private String unavailabilityReason;

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

  @Override
  public final synchronized DestructorRegistry registry() {
    load();
    if (registry == null) {
      throw new WeaveException("weave backend '" + name + "' is unusable here: " + unavailabilityReason);
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
    return os.startsWith("Linux") ? Optional.empty() : Optional.of("needs Linux with glibc (this is " + os + ")");
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
   *     not its wrapper)
   * @return the reason to report, saying what would fix it where that is known
   */
  protected abstract String explain(Throwable failure);

  private void load() {
    if (loaded) {
      return;
    }
    loaded = true;
    unavailabilityReason = precondition().orElse(null);
    if (unavailabilityReason != null) {
      return;
    }
    try {
      registry = new Engine(name, loadPrimitives());
    } catch (Exception | LinkageError e) {
      Throwable failure = e instanceof InvocationTargetException && e.getCause() != null ? e.getCause() : e;
      unavailabilityReason = explain(failure);
    }
  }
}
