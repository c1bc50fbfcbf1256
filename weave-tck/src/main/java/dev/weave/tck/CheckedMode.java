package dev.weave.tck;

import dev.weave.DestructorRegistry;
import dev.weave.spi.CheckedPrimitives;
import dev.weave.spi.Engine;
import java.util.List;
import java.util.Optional;

/**
 * Rule 14 as the TCK uses it: where the registry is weave's {@link Engine} running in checked mode
 * ({@code -Dweave.checked=true}), every case must leave the engine's violation count where it found
 * it, and "no leak" is an exact count of the engine's live blocks. A backend that is not an {@code
 * Engine}, or runs unchecked, keeps the TCK's other checks.
 */
final class CheckedMode {
  private CheckedMode() {}

  /**
   * @return the checker of {@code registry}, if it is an engine in checked mode
   */
  static Optional<CheckedPrimitives> of(DestructorRegistry registry) {
    return registry instanceof Engine engine ? engine.checked() : Optional.empty();
  }

  /**
   * @return a watch on {@code registry}'s violations from now on; it sees none if the registry is
   *     unchecked
   */
  static Watch watch(DestructorRegistry registry) {
    CheckedPrimitives checker = of(registry).orElse(null);
    return new Watch(checker, checker == null ? 0 : checker.violationCount());
  }

  /** How many violation reports a failure quotes in full. */
  static final int QUOTED = 5;

  /** Violations reported since the watch began. */
  static final class Watch {
    private final CheckedPrimitives checker;
    private final long before;

    Watch(CheckedPrimitives checker, long before) {
      this.checker = checker;
      this.before = before;
    }

    /**
     * @return the violations reported since the watch began, quoted, or null if there were none
     */
    String newViolations() {
      if (checker == null || checker.violationCount() == before) {
        return null;
      }
      List<String> all = checker.violations();
      List<String> added = all.subList((int) Math.min(before, all.size()), all.size());
      List<String> quoted = added.subList(0, Math.min(QUOTED, added.size()));
      return "checked mode (-D"
          + Engine.CHECKED_PROPERTY
          + "=true, rule 14) reported "
          + added.size()
          + " violation(s) of the engine's own memory or keys during the case"
          + (added.size() > QUOTED ? "; the first " + QUOTED : "")
          + ":\n  "
          + String.join("\n  ", quoted.stream().map(v -> v.replaceAll("\\R", "\n    ")).toList());
    }
  }
}
