package dev.weave.tck;

import dev.weave.DestructorRegistry;
import dev.weave.spi.Engine;
import java.lang.reflect.Method;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * Rule 14 as the TCK uses it: where the registry is weave's {@link Engine} running in checked mode
 * ({@code -Dweave.checked=true}), every case must leave the engine's violation count where it
 * found it, and "no leak" is an exact count of the engine's live blocks. A backend that is not an
 * {@code Engine}, or runs unchecked, keeps the TCK's other checks.
 */
final class CheckedMode {
  private CheckedMode() {}

  /** The checker of {@code registry}, if it is an engine in checked mode. */
  static Optional<Checker> of(DestructorRegistry registry) {
    if (!(registry instanceof Engine)) {
      return Optional.empty();
    }
    try {
      Method checked = Engine.class.getMethod("checked");
      Optional<?> found = (Optional<?>) checked.invoke(registry);
      return found.map(Checker::new);
    } catch (NoSuchMethodException beforeCheckedMode) {
      return Optional.empty();
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("cannot read the engine's checked mode", e);
    }
  }

  /** @return a watch on {@code registry}'s violations from now on; it sees none if the registry is unchecked */
  static Watch watch(DestructorRegistry registry) {
    Optional<Checker> checker = of(registry);
    return new Watch(checker.orElse(null), checker.map(Checker::violationCount).orElse(0L));
  }

  /** Violations reported since the watch began. */
  static final class Watch {
    private final Checker checker;
    private final long before;

    Watch(Checker checker, long before) {
      this.checker = checker;
      this.before = before;
    }

    /** @return the violations reported since the watch began, quoted, or null if there were none */
    String newViolations() {
      if (checker == null) {
        return null;
      }
      long after = checker.violationCount();
      if (after == before) {
        return null;
      }
      List<String> all = checker.violations();
      List<String> added = all.subList((int) Math.min(before, all.size()), all.size());
      return "checked mode (-Dweave.checked=true) reported " + (after - before)
          + " violation(s) of the engine's own memory or keys during the case:\n  "
          + String.join("\n  ", added.stream().map(v -> v.replaceAll("\\R", "\n    ")).toList());
    }
  }

  /** The engine's checked primitives, read through the API of rule 14. */
  static final class Checker {
    private final Object primitives;

    Checker(Object primitives) {
      this.primitives = primitives;
    }

    long violationCount() {
      return (long) call("violationCount");
    }

    @SuppressWarnings("unchecked")
    List<String> violations() {
      return (List<String>) call("violations");
    }

    long liveBlocks() {
      return (long) call("liveBlocks");
    }

    long liveKeys() {
      return (long) call("liveKeys");
    }

    boolean awaitLiveBlocks(long expected, Duration timeout) throws InterruptedException {
      try {
        return (boolean) primitives.getClass().getMethod("awaitLiveBlocks", long.class, Duration.class)
            .invoke(primitives, expected, timeout);
      } catch (java.lang.reflect.InvocationTargetException e) {
        if (e.getCause() instanceof InterruptedException) {
          throw (InterruptedException) e.getCause();
        }
        throw new IllegalStateException(e.getCause());
      } catch (ReflectiveOperationException e) {
        throw new IllegalStateException(e);
      }
    }

    private Object call(String method) {
      try {
        return primitives.getClass().getMethod(method).invoke(primitives);
      } catch (ReflectiveOperationException e) {
        throw new IllegalStateException("cannot call " + method + " on the engine's checked primitives", e);
      }
    }
  }
}
