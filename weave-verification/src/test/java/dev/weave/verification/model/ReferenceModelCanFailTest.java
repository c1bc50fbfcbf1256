package dev.weave.verification.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.weave.Weave;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.quicktheories.api.AsString;
import org.quicktheories.core.ExceptionReporter;

/**
 * The reference model's property can fail: run on a broken backend whose fault generated programs
 * can reach, QuickTheories must report it, with a counterexample shrunk to a few calls.
 */
class ReferenceModelCanFailTest {
  /** Programs to look through; the search stops at the first failing one. */
  static final int TRIES = 1000;

  /** A shrunk counterexample has at most this many calls (its first {@code newSlot} included). */
  static final int SMALL = 6;

  @ParameterizedTest
  @ValueSource(
      strings = {"broken-reverse-order", "broken-unregister-drops-one", "broken-stale-value"})
  void failsOnABrokenBackend(String backend) {
    assertThat(Weave.backends().stream().anyMatch(b -> b.name().equals(backend) && b.available()))
        .as(backend + " is usable")
        .isTrue();
    Smallest smallest = new Smallest();
    AssertionError failure = null;
    try {
      ReferenceModelTest.check(backend, TRIES, ReferenceModelTest.SHRINK_CYCLES, smallest);
    } catch (AssertionError e) {
      failure = e;
    }
    if (failure == null) {
      fail(backend + ": the reference model's property held for " + TRIES + " programs");
    }
    System.out.println(
        backend
            + ": the reference model's property failed as it must, at program "
            + smallest.examples
            + "; shrunk to "
            + smallest.program
            + " (seed "
            + smallest.seed
            + ")\n  "
            + firstLines(smallest.cause.getMessage(), 6));
    assertThat(failure.getMessage())
        .startsWith("replay with -D" + ReferenceModelTest.SEED_PROPERTY + "=")
        .contains(
            "Smallest found falsifying value(s)", String.valueOf(smallest.program), backend + ":");
    assertThat(smallest.program.ops())
        .as(backend + ": calls in the shrunk counterexample " + smallest.program)
        .hasSizeLessThanOrEqualTo(SMALL);
  }

  /**
   * QuickTheories' own report, an {@link AssertionError}, once it has noted the smallest failing
   * program.
   */
  static final class Smallest extends ExceptionReporter {
    Program program;
    Throwable cause;
    int examples;
    long seed;

    @Override
    public void falisification(
        long seed,
        int examples,
        Object smallest,
        Throwable cause,
        List<Object> others,
        AsString<Object> toString) {
      this.program = (Program) smallest;
      this.cause = cause;
      this.examples = examples;
      this.seed = seed;
      super.falisification(seed, examples, smallest, cause, others, toString);
    }
  }

  private static String firstLines(String text, int lines) {
    String[] all = String.valueOf(text).split("\\R");
    return String.join("\n  ", java.util.Arrays.copyOf(all, Math.min(lines, all.length)));
  }
}
