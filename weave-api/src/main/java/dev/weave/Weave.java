package dev.weave;

import dev.weave.spi.Diagnostics;
import dev.weave.spi.PlatformThreads;
import dev.weave.spi.WeaveBackend;
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
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

/**
 * The entry point: finds the backends on the class path or module path with {@link ServiceLoader}
 * and hands out their registries.
 *
 * <p>{@link #registry()} takes the backend named by the system property {@value #BACKEND_PROPERTY}
 * or, if that is unset, the environment variable {@value #BACKEND_ENVIRONMENT}; otherwise the
 * usable backend with the highest priority (ffm, then jnr, then jna). A backend that cannot load
 * here (wrong JDK, missing native library, unsupported OS or CPU) is still listed by {@link
 * #backends()}, with its reason, and never hides the others.
 */
public final class Weave {
  /** The system property that names the backend {@link #registry()} returns. */
  public static final String BACKEND_PROPERTY = "weave.backend";

  /** The environment variable read when {@value #BACKEND_PROPERTY} is unset. */
  public static final String BACKEND_ENVIRONMENT = "WEAVE_BACKEND";

  private static final String ARTIFACTS =
      "add one of dev.weave:weave-ffm (Java 22+), dev.weave:weave-jnr or dev.weave:weave-jna";

  /** Every registry handed out, in the order first handed out: runDestructors() ends them all. */
  private static final CopyOnWriteArraySet<DestructorRegistry> IN_USE = new CopyOnWriteArraySet<>();

  private Weave() {}

  /**
   * @return the registry of the backend named by {@value #BACKEND_PROPERTY} or {@value
   *     #BACKEND_ENVIRONMENT}, else of the usable backend with the highest priority
   * @throws WeaveException if the named backend is absent or unusable, or none is usable; the
   *     message lists what is usable and why the others are not
   */
  public static DestructorRegistry registry() {
    String requested = System.getProperty(BACKEND_PROPERTY);
    if (requested == null || requested.isBlank()) {
      requested = System.getenv(BACKEND_ENVIRONMENT);
    }
    if (requested != null && !requested.isBlank()) {
      return registry(requested.trim());
    }
    for (Found found : Discovery.FOUND) {
      if (found.backend != null && found.reason == null) {
        return inUse(found.backend.registry());
      }
    }
    throw new WeaveException("no usable weave backend: " + describe() + "; " + ARTIFACTS);
  }

  /**
   * @param name a backend's name, such as {@code "ffm"}, {@code "jna"} or {@code "jnr"}
   * @return that backend's registry
   * @throws NullPointerException if {@code name} is null
   * @throws WeaveException if no such backend was found or it is unusable here; the message lists
   *     what is usable and why the others are not
   */
  public static DestructorRegistry registry(String name) {
    Objects.requireNonNull(name, "backend name is null");
    for (Found found : Discovery.FOUND) {
      if (found.name.equals(name)) {
        if (found.reason != null) {
          throw new WeaveException(
              "weave backend '" + name + "' is unusable here: " + found.reason + "; " + describe());
        }
        return inUse(found.backend.registry());
      }
    }
    throw new WeaveException(
        "no weave backend named '" + name + "': " + describe() + "; " + ARTIFACTS);
  }

  private static DestructorRegistry inUse(DestructorRegistry registry) {
    IN_USE.add(registry);
    return registry;
  }

  /**
   * Ends the calling thread's weave life early (contract rule 13), for every registry that {@link
   * #registry()} or {@link #registry(String)} has handed out: runs each one's {@link
   * DestructorRegistry#runDestructors()}, in the order they were first handed out. One that throws
   * does not stop the others; the first exception is thrown at the end, the rest suppressed in it.
   *
   * @throws IllegalStateException on a virtual thread, or when called from a destructor
   * @throws UnsupportedOperationException if a registry does not implement it
   */
  public static void runDestructors() {
    PlatformThreads.require();
    RuntimeException first = null;
    for (DestructorRegistry registry : IN_USE) {
      try {
        registry.runDestructors();
      } catch (RuntimeException e) {
        if (first == null) {
          first = e;
        } else {
          first.addSuppressed(e);
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }

  /**
   * @param task what to run
   * @return a task that runs {@code task}, then {@link #runDestructors()}, even when {@code task}
   *     throws: on a pool thread, each task's destructors have run when it completes
   * @throws NullPointerException if {@code task} is null
   */
  public static Runnable wrap(Runnable task) {
    Objects.requireNonNull(task, "task is null");
    return () -> {
      try {
        task.run();
      } finally {
        runDestructors();
      }
    };
  }

  /**
   * @param namePrefix the threads' names are {@code namePrefix-1}, {@code namePrefix-2}, ...
   * @return a factory of {@link WeaveThread}s, non-daemon and of normal priority, like {@link
   *     java.util.concurrent.Executors#defaultThreadFactory()}: an executor built on it runs each
   *     thread's destructors when the thread ends, on the live thread. Note that {@link
   *     java.util.concurrent.ThreadPoolExecutor#awaitTermination} may return before the last
   *     worker's destructors have run (the pool terminates inside the worker's task); join the
   *     threads, or {@link #wrap(Runnable)} each task, whose destructors then run before its {@code
   *     Future} completes
   * @throws NullPointerException if {@code namePrefix} is null
   */
  public static ThreadFactory threadFactory(String namePrefix) {
    Objects.requireNonNull(namePrefix, "namePrefix is null");
    AtomicInteger count = new AtomicInteger();
    return task -> {
      WeaveThread thread = new WeaveThread(task, namePrefix + "-" + count.incrementAndGet());
      thread.setDaemon(false);
      thread.setPriority(Thread.NORM_PRIORITY);
      return thread;
    };
  }

  /**
   * @return every discovered backend, usable here or not, highest priority first, each with the
   *     reason it is unusable
   */
  public static List<Backend> backends() {
    return Discovery.FOUND.stream()
        .map(f -> new Backend(f.name, f.priority, f.reason == null, f.reason))
        .collect(Collectors.toUnmodifiableList());
  }

  private static String describe() {
    if (Discovery.FOUND.isEmpty()) {
      return "no backend was found on the class path or module path";
    }
    String usable =
        Discovery.FOUND.stream()
            .filter(f -> f.reason == null)
            .map(f -> f.name)
            .collect(Collectors.joining(", "));
    String unusable =
        Discovery.FOUND.stream()
            .filter(f -> f.reason != null)
            .map(f -> f.name + " (" + f.reason + ")")
            .collect(Collectors.joining("; "));
    return "usable: "
        + (usable.isEmpty() ? "none" : usable)
        + (unusable.isEmpty() ? "" : "; unusable: " + unusable);
  }

  private static final class Found {
    final String name;
    final int priority;
    final WeaveBackend backend;
    final String reason;

    Found(String name, int priority, WeaveBackend backend, String reason) {
      this.name = name;
      this.priority = priority;
      this.backend = backend;
      this.reason = reason;
    }
  }

  /**
   * Discovery runs once, on first use, and never throws: whatever a provider throws, from its
   * constructor or any of its methods, {@link Error}s included, makes it an unusable entry with
   * that failure as its reason, and the others are still found.
   */
  private static final class Discovery {
    static final List<Found> FOUND = discover();

    private static List<Found> discover() {
      Map<String, Found> byName = new LinkedHashMap<>();
      List<Found> broken = new ArrayList<>();
      Iterator<WeaveBackend> providers =
          ServiceLoader.load(WeaveBackend.class, Weave.class.getClassLoader()).iterator();
      while (true) {
        WeaveBackend backend;
        try {
          if (!providers.hasNext()) {
            break;
          }
          backend = providers.next();
        } catch (Throwable e) { // ServiceConfigurationError, LinkageError, or whatever else escapes
          broken.add(
              new Found(
                  providerName(e),
                  Integer.MIN_VALUE,
                  null,
                  "failed to load: " + Diagnostics.causes(e)));
          continue;
        }
        Found found = describe(backend);
        if (found.backend == null) {
          broken.add(found);
          continue;
        }
        Found first = byName.putIfAbsent(found.name, found);
        if (first != null) {
          broken.add(
              new Found(
                  found.name + " (" + backend.getClass().getName() + ")",
                  found.priority,
                  null,
                  "another backend named '"
                      + found.name
                      + "' was found first: "
                      + first.backend.getClass().getName()));
        }
      }
      List<Found> all = new ArrayList<>(byName.values());
      all.addAll(broken);
      all.sort(Comparator.comparingInt((Found f) -> f.priority).reversed());
      return Collections.unmodifiableList(all);
    }

    /**
     * @return the backend as found, or, if it threw or answered null, an unusable entry saying so
     */
    private static Found describe(WeaveBackend backend) {
      String className = backend.getClass().getName();
      String name = className;
      try {
        name = Objects.requireNonNull(backend.name(), "name() returned null");
        int priority = backend.priority();
        Optional<String> reason =
            Objects.requireNonNull(
                backend.unavailabilityReason(), "unavailabilityReason() returned null");
        return new Found(name, priority, backend, reason.orElse(null));
      } catch (Throwable e) {
        String shown = name.equals(className) ? className : name + " (" + className + ")";
        return new Found(
            shown, Integer.MIN_VALUE, null, "failed to load: " + Diagnostics.causes(e));
      }
    }

    private static String providerName(Throwable e) {
      String message = String.valueOf(e.getMessage());
      for (String word : message.split("[\\s:]+")) {
        if (word.matches(
                "([\\p{javaJavaIdentifierStart}][\\p{javaJavaIdentifierPart}]*\\.)+[\\p{javaJavaIdentifierStart}][\\p{javaJavaIdentifierPart}]*")
            && !word.equals(WeaveBackend.class.getName())) {
          return word;
        }
      }
      return "unknown provider";
    }
  }
}
