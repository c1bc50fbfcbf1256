package dev.weave;

import dev.weave.Discovery.Found;
import dev.weave.spi.PlatformThreads;
import java.lang.System.Logger.Level;
import java.util.List;
import java.util.Objects;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
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
 * #backends()}, with its reason, and never hides the others. A backend's native side is loaded only
 * when needed: {@link #registry(String)} loads the one named, {@link #registry()} the backends in
 * priority order up to the first usable one, and {@link #backends()} all.
 *
 * <p>Through {@link System.Logger} {@code dev.weave}: the backend {@link #registry()} chose, and
 * why, once at DEBUG; a provider that cannot be loaded or breaks {@code WeaveBackend}'s contract,
 * and a backend's packaging defect (a missing class or constructor), at WARNING; a backend unusable
 * because of this machine (the platform, the JDK, a native library), at DEBUG.
 */
public final class Weave {
  /** The system property that names the backend {@link #registry()} returns. */
  public static final String BACKEND_PROPERTY = "weave.backend";

  /** The environment variable read when {@value #BACKEND_PROPERTY} is unset. */
  public static final String BACKEND_ENVIRONMENT = "WEAVE_BACKEND";

  private static final String ARTIFACTS =
      "add one of dev.weave:weave-ffm (Java 22+), dev.weave:weave-jnr or dev.weave:weave-jna";

  private static final System.Logger LOG = System.getLogger("dev.weave");

  /** The choices of {@link #registry()} already logged: each is logged once. */
  static final Set<String> ANNOUNCED = ConcurrentHashMap.newKeySet();

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
    String source = "-D" + BACKEND_PROPERTY;
    if (requested == null || requested.isBlank()) {
      requested = System.getenv(BACKEND_ENVIRONMENT);
      source = BACKEND_ENVIRONMENT;
    }
    if (requested != null && !requested.isBlank()) {
      DestructorRegistry registry = registry(requested.trim());
      announce("using " + registry.backendName() + ": " + source + "=" + requested.trim());
      return registry;
    }
    List<Found> found = Discovery.found();
    for (Found chosen : found) {
      if (chosen.usable()) {
        DestructorRegistry registry = inUse(chosen.backend().registry());
        // Those of lower priority are not loaded to find out whether they are usable.
        String lower =
            found.stream()
                .filter(f -> f.priority() < chosen.priority() && f.backend() != null)
                .map(Found::name)
                .collect(Collectors.joining(", "));
        announce(
            "using "
                + chosen.name()
                + " (priority "
                + chosen.priority()
                + ", the highest usable)"
                + (lower.isEmpty() ? "" : "; lower priority: " + lower));
        return registry;
      }
    }
    WeaveException none =
        new WeaveException("no usable weave backend: " + describe() + "; " + ARTIFACTS);
    found.stream().map(Found::cause).filter(Objects::nonNull).forEach(none::addSuppressed);
    throw none;
  }

  /**
   * @param name a backend's name, such as {@code "ffm"}, {@code "jna"} or {@code "jnr"}
   * @return that backend's registry
   * @throws NullPointerException if {@code name} is null
   * @throws WeaveException if no such backend was found or it is unusable here; the message lists
   *     what is usable and why the others are not, and its cause is what made the backend unusable,
   *     where something was thrown
   */
  public static DestructorRegistry registry(String name) {
    Objects.requireNonNull(name, "backend name is null");
    for (Found found : Discovery.found()) {
      if (found.name().equals(name)) {
        if (!found.usable()) {
          throw new WeaveException(
              "weave backend '"
                  + name
                  + "' is unusable here: "
                  + found.reason()
                  + "; "
                  + describe(),
              found.cause());
        }
        return inUse(found.backend().registry());
      }
    }
    throw new WeaveException(
        "no weave backend named '" + name + "': " + describe() + "; " + ARTIFACTS);
  }

  /** Says once, at DEBUG, which backend {@link #registry()} chose and why. */
  private static void announce(String choice) {
    if (ANNOUNCED.add(choice)) {
      LOG.log(Level.DEBUG, choice);
    }
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
   *     reason it is unusable, or the walker its registry runs ({@link Backend#walker()})
   */
  public static List<Backend> backends() {
    return Discovery.found().stream()
        .map(Found::toBackend)
        .collect(Collectors.toUnmodifiableList());
  }

  private static String describe() {
    List<Found> found = Discovery.found();
    if (found.isEmpty()) {
      return "no backend was found on the class path or module path";
    }
    String usable =
        found.stream().filter(Found::usable).map(Found::name).collect(Collectors.joining(", "));
    String unusable =
        found.stream()
            .filter(f -> !f.usable())
            .map(f -> f.name() + " (" + f.reason() + ")")
            .collect(Collectors.joining("; "));
    return "usable: "
        + (usable.isEmpty() ? "none" : usable)
        + (unusable.isEmpty() ? "" : "; unusable: " + unusable);
  }
}
