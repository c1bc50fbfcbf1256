package dev.weave;

import dev.weave.spi.Diagnostics;
import dev.weave.spi.WeaveBackend;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.ServiceLoader;

/**
 * Finds the backends, once, on first use, and never throws: whatever a provider throws, from its
 * constructor or any of its methods, {@link Error}s included, makes it an unusable entry with that
 * failure as its reason and cause, logged at WARNING (a provider that breaks {@link WeaveBackend}'s
 * contract, or cannot be loaded at all, is a defect to fix); the others are still found.
 *
 * <p>Discovery asks each backend only its name and priority. Whether it is usable (which loads its
 * native side: its FFI library, its primitives) is asked on first need, once: a JVM that names its
 * backend, or whose highest-priority backend is usable, loads no other.
 */
final class Discovery {
  private static final System.Logger LOG = System.getLogger("dev.weave");

  /** Past this many, a provider iterator that keeps failing is not asked again. */
  private static final int MAX_BROKEN = 100;

  private Discovery() {}

  /**
   * A backend as found: its name and priority at once, whether it is usable on first need (then
   * kept). A broken provider is found unusable at once.
   */
  static final class Found {
    /**
     * Set while this thread asks a backend whether it is usable: that backend may not call Weave.
     */
    private static final ThreadLocal<Boolean> ASKING = new ThreadLocal<>();

    private final String name;
    private final int priority;
    private final WeaveBackend backend;
    private final String className;

    /** Guarded by this; all set once, by {@link #ask()}. */
    private boolean asked;

    private String reason;
    private Throwable cause;

    /** The walker a usable backend's registry runs, if it says ({@link WeaveBackend#walker()}). */
    private String walker;

    private Found(String name, int priority, WeaveBackend backend, String className) {
      this.name = name;
      this.priority = priority;
      this.backend = backend;
      this.className = className;
    }

    /** A provider that is unusable whatever it would say: broken, or a second of the same name. */
    static Found unusable(String name, int priority, String reason, Throwable cause) {
      Found found = new Found(name, priority, null, null);
      found.asked = true;
      found.reason = reason;
      found.cause = cause;
      return found;
    }

    String name() {
      return name;
    }

    int priority() {
      return priority;
    }

    /** The backend, or null for a broken provider. */
    WeaveBackend backend() {
      return backend;
    }

    /** Why it is unusable, or null when it is usable. Asks the backend on first use. */
    String reason() {
      ask();
      synchronized (this) {
        return reason;
      }
    }

    Throwable cause() {
      ask();
      synchronized (this) {
        return cause;
      }
    }

    /** Which walker its registry runs, or null when unusable or not said. Asks on first use. */
    String walker() {
      ask();
      synchronized (this) {
        return walker;
      }
    }

    boolean usable() {
      return reason() == null;
    }

    Backend toBackend() {
      return new Backend(name, priority, usable(), reason(), cause(), walker());
    }

    private synchronized void ask() {
      if (asked) {
        return;
      }
      if (ASKING.get() != null) {
        throw discoveryReentered();
      }
      ASKING.set(Boolean.TRUE);
      try {
        Optional<String> why =
            Objects.requireNonNull(
                backend.unavailabilityReason(), "unavailabilityReason() returned null");
        if (why.isPresent()) {
          cause =
              Objects.requireNonNull(
                      backend.unavailabilityCause(), "unavailabilityCause() returned null")
                  .orElse(null);
          reason = why.get();
        } else {
          walker = Objects.requireNonNull(backend.walker(), "walker() returned null").orElse(null);
        }
      } catch (Throwable e) {
        Found broken =
            defect(name.equals(className) ? className : name + " (" + className + ")", e);
        reason = broken.reason;
        cause = broken.cause;
      } finally {
        ASKING.remove();
        asked = true;
      }
    }
  }

  private static IllegalStateException discoveryReentered() {
    return new IllegalStateException(
        "Weave was called while it discovers its backends, by a WeaveBackend's constructor or"
            + " methods (name, priority, unavailabilityReason, unavailabilityCause, walker): they"
            + " must not call Weave");
  }

  /**
   * @return every backend found, usable or not, highest priority first
   * @throws IllegalStateException if called by a backend during discovery
   */
  static List<Found> found() {
    List<Found> all = Holder.FOUND; // null only on the thread that is initializing Holder
    if (all == null || Found.ASKING.get() != null) {
      throw discoveryReentered();
    }
    return all;
  }

  private static final class Holder {
    static final List<Found> FOUND =
        discover(
            ServiceLoader.load(WeaveBackend.class, Weave.class.getClassLoader()).stream()
                .iterator());
  }

  /**
   * @param providers the providers as {@link ServiceLoader#stream()} gives them
   * @return every backend found, usable or not, highest priority first
   */
  static List<Found> discover(Iterator<ServiceLoader.Provider<WeaveBackend>> providers) {
    Map<String, Found> byName = new LinkedHashMap<>();
    List<Found> broken = new ArrayList<>();
    while (broken.size() < MAX_BROKEN) {
      ServiceLoader.Provider<WeaveBackend> provider;
      try {
        if (!providers.hasNext()) {
          break;
        }
        provider = providers.next();
      } catch (Throwable e) { // ServiceConfigurationError: no such class, not a WeaveBackend, ...
        // Its class is not known, only named in the message, which the reason quotes whole.
        broken.add(defect("unloadable provider " + (broken.size() + 1), e));
        continue;
      }
      String className = className(provider);
      WeaveBackend backend;
      try {
        backend = provider.get();
      } catch (Throwable e) { // ServiceConfigurationError: its constructor threw
        broken.add(defect(className, e));
        continue;
      }
      Found found = describe(backend, className);
      if (found.backend() == null) {
        broken.add(found);
        continue;
      }
      Found first = byName.putIfAbsent(found.name(), found);
      if (first != null) {
        broken.add(
            warned(
                Found.unusable(
                    found.name() + " (" + className + ")",
                    found.priority(),
                    Diagnostics.PACKAGING_DEFECT
                        + "another backend named '"
                        + found.name()
                        + "' was found first: "
                        + first.backend().getClass().getName(),
                    null)));
      }
    }
    List<Found> all = new ArrayList<>(byName.values());
    all.addAll(broken);
    all.sort(Comparator.comparingInt(Found::priority).reversed());
    return Collections.unmodifiableList(all);
  }

  private static String className(ServiceLoader.Provider<WeaveBackend> provider) {
    try {
      return provider.type().getName();
    } catch (Throwable e) {
      return "unknown provider";
    }
  }

  /**
   * @return the backend as found (its name and priority), or, if it threw or answered null, an
   *     unusable entry saying so
   */
  private static Found describe(WeaveBackend backend, String className) {
    String name = className;
    try {
      name = Objects.requireNonNull(backend.name(), "name() returned null");
      return new Found(name, backend.priority(), backend, className);
    } catch (Throwable e) {
      return defect(name.equals(className) ? className : name + " (" + className + ")", e);
    }
  }

  private static Found defect(String name, Throwable e) {
    String kind = Diagnostics.isPackagingDefect(e) ? Diagnostics.PACKAGING_DEFECT : "";
    return warned(
        Found.unusable(
            name, Integer.MIN_VALUE, kind + "failed to load: " + Diagnostics.causes(e), e));
  }

  private static Found warned(Found broken) {
    LOG.log(
        Level.WARNING,
        "weave backend '" + broken.name() + "' is unusable here: " + broken.reason(),
        broken.cause());
    return broken;
  }
}
