package dev.weave.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.weave.DestructorRegistry;
import java.io.IOException;
import java.util.List;

/** Contract item 10: JVM exit, checked in child JVMs running {@link ExitProbe}. */
final class ExitCases {
  /** System property: how many {@code System.exit} races to run per backend. */
  static final String EXIT_RACE_RUNS = "weave.tck.exitRaceRuns";

  private ExitCases() {}

  static void mainReturns(DestructorRegistry registry) throws Exception {
    for (int run = 0; run < 3; run++) {
      runProbe(registry.backendName(), "main-returns");
    }
  }

  static void exitRace(DestructorRegistry registry) throws Exception {
    int runs = Integer.getInteger(EXIT_RACE_RUNS, 3);
    for (int run = 0; run < runs; run++) {
      runProbe(registry.backendName(), "exit-race", "200");
    }
  }

  /** Runs the probe in a child JVM like this one and checks exit 0, no output, no hs_err file. */
  static void runProbe(String backend, String... arguments) throws IOException, InterruptedException {
    ExitProbe.Outcome outcome = ExitProbe.runInChildJvm(backend, Deaths.TIMEOUT, arguments);
    String what = String.join(" ", arguments);
    assertEquals(List.of(), outcome.crashFiles(), what + ": the JVM crashed; output: " + outcome.output());
    assertEquals(0, outcome.exitCode(), what + ": exit status; output: " + outcome.output());
    assertEquals("", outcome.output(), what + ": the child JVM printed something");
  }
}
