package dev.weave.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weave.DestructorRegistry;
import java.io.IOException;
import java.time.Duration;
import java.util.List;

/** Rule 10, JVM exit, checked in child JVMs running {@link ExitProbe}. */
final class ExitCases {
  private ExitCases() {}

  static List<TckCase> all() {
    return List.of(
        TckCase.of(
            "r10-main-returns",
            Rule.R10,
            "main returns after registering on the main thread: exit 0, nothing printed, no hs_err, no destructor run",
            ExitCases::mainReturns),
        TckCase.stochastic(
            "r10-exit-race",
            Rule.R10,
            "System.exit racing dying threads: exit 0, nothing printed, no hs_err",
            ExitCases::exitRace),
        TckCase.of(
            "r10-alive-at-exit",
            Rule.R10,
            "threads alive at System.exit do not run their Java or native destructors",
            ExitCases::aliveAtExit));
  }

  /**
   * How long a child JVM may take before it is killed as hung: three times the TCK's timeout, since
   * a JVM's start is what a loaded machine slows most (the default race's three children then fit
   * in the ten timeouts a case may take in all).
   */
  static final Duration PROBE_LIMIT = Deaths.TIMEOUT.multipliedBy(3);

  static int runs() {
    return Integer.getInteger(WeaveTckTest.EXIT_RUNS, 3);
  }

  static void mainReturns(DestructorRegistry registry) throws Exception {
    for (int run = 0; run < runs(); run++) {
      runProbe(registry.backendName(), "main-returns");
    }
  }

  static void exitRace(DestructorRegistry registry) throws Exception {
    for (int run = 0; run < runs(); run++) {
      runProbe(registry.backendName(), "exit-race", "200");
    }
  }

  static void aliveAtExit(DestructorRegistry registry) throws Exception {
    runProbe(registry.backendName(), "alive-at-exit");
  }

  /**
   * Runs the probe in a child JVM like this one and checks exit 0, no output, no hs_err file, and
   * that no native destructor of the main thread or of a live thread removed the marker file.
   */
  static void runProbe(String backend, String... arguments)
      throws IOException, InterruptedException {
    ExitProbe.Outcome outcome = ExitProbe.runInChildJvm(backend, PROBE_LIMIT, arguments);
    String what = String.join(" ", arguments);
    assertEquals(
        List.of(), outcome.crashFiles(), what + ": the child JVM crashed: " + outcome.crash());
    assertEquals(0, outcome.exitCode(), what + ": exit status; output: " + outcome.output());
    assertEquals("", outcome.output(), what + ": the child JVM printed something");
    assertTrue(
        outcome.markerLeft(),
        what
            + ": a native destructor (unlink of "
            + ExitProbe.MARKER
            + ") of a thread that was alive at exit ran");
  }
}
