package dev.weave.report;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weave.tck.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The runner, {@link Main}: its table, its last line, its exit status, its one-line errors. */
class MainTest {
  /** What one run printed and returned. */
  record Run(int status, String out, String err) {
    List<String> lines() {
      return Arrays.asList(out.split("\\R"));
    }

    String lastLine() {
      List<String> lines = lines();
      return lines.get(lines.size() - 1);
    }
  }

  static Run run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int status;
    try (PrintStream outStream = new PrintStream(out, true, StandardCharsets.UTF_8);
        PrintStream errStream = new PrintStream(err, true, StandardCharsets.UTF_8)) {
      status = Main.run(args, outStream, errStream);
    }
    return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void passingRunPrintsTheTableAndEndsWithTheCounts() {
    Run run = run("--backend", "jna", "--case", "seed [17]:");
    assertThat(run.status()).as(run.out()).isZero();
    assertThat(run.err()).isEmpty();
    List<String> lines = run.lines();
    assertThat(lines.get(0)).matches("case +\\| jna *");
    assertThat(lines.get(1)).matches("-+");
    assertThat(lines.subList(2, 6)).allSatisfy(line -> assertThat(line).matches("seed [17]: .* \\| pass \\d+ ms *"));
    assertThat(lines).filteredOn(line -> line.startsWith("seed ")).hasSize(4); // [java] and [native] each
    assertThat(run.lastLine()).isEqualTo("4 passed, 0 failed");
  }

  @Test
  void equalsFormsOfTheOptionsWorkToo() {
    Run run = run("--backend=jna", "--case=seed 3:");
    assertThat(run.status()).isZero();
    assertThat(run.lastLine()).isEqualTo("2 passed, 0 failed");
  }

  @Test
  void failingRunMarksTheCellsGivesTheReasonsAndExitsOne() {
    Run run = run("--backend", "broken-stale-value", "--case", "^2 at death");
    assertThat(run.status()).isEqualTo(1);
    List<String> lines = run.lines();
    assertThat(lines).anySatisfy(line -> assertThat(line).matches("2 at death, .* \\[java\\] +\\| FAIL \\d+ ms *"));
    assertThat(lines).anySatisfy(line -> assertThat(line).matches("2 at death, .* \\[native\\] +\\| pass \\d+ ms *"));
    // the reason is under the table, on the line after the FAIL line that names backend and case
    int fail = lines.indexOf("FAIL broken-stale-value / 2 at death, in order, with each variable's value at call time [java]:");
    assertThat(fail).as(run.out()).isGreaterThan(2);
    assertThat(lines.get(fail + 1)).startsWith("    ").contains("b2=20");
    assertThat(run.lastLine()).isEqualTo("1 passed, 1 failed");
  }

  @Test
  void skippedCasesAreCountedAboveTheLastLine() {
    // on Java 17 the virtual-thread case is skipped; elsewhere this just passes
    Run run = run("--backend", "jnr", "--case", "^9 virtual");
    assertThat(run.status()).isZero();
    assertThat(run.lastLine()).isIn("1 passed, 0 failed", "0 passed, 0 failed");
    if (run.lastLine().startsWith("0")) {
      assertThat(run.out()).contains("skipped jnr / 9 virtual").contains("1 skipped");
    }
  }

  @Test
  void unknownBackendIsOneLineNamingTheUsableOnesAndExitsTwo() {
    Run run = run("--backend", "no-such-backend");
    assertThat(run.status()).isEqualTo(2);
    assertThat(run.out()).isEmpty();
    assertOneLine(run.err());
    assertThat(run.err()).startsWith("weave-tck: no backend named 'no-such-backend'; usable: ").contains("jna").contains("jnr");
  }

  @Test
  void unusableBackendIsOneLineWithItsReasonAndExitsTwo() {
    Run run = run("--backend", "unusable-for-tests");
    assertThat(run.status()).isEqualTo(2);
    assertOneLine(run.err());
    assertThat(run.err()).contains("'unusable-for-tests' is unusable here: switched off on purpose, for the tests").contains("usable: ");
  }

  @Test
  void patternThatMatchesNoCaseIsOneLineAndExitsTwo() {
    Run run = run("--backend", "jna", "--case", "no case is called this");
    assertThat(run.status()).isEqualTo(2);
    assertThat(run.out()).isEmpty();
    assertOneLine(run.err());
    assertThat(run.err()).startsWith("weave-tck: no case matches 'no case is called this'");
  }

  @Test
  void badPatternIsOneLineAndExitsTwo() {
    Run run = run("--case", "seed (");
    assertThat(run.status()).isEqualTo(2);
    assertOneLine(run.err());
    assertThat(run.err()).startsWith("weave-tck: --case 'seed (' is not a regular expression");
  }

  @Test
  void missingValueAndUnknownOptionAreOneLineAndExitTwo() {
    for (String[] args : List.of(new String[] {"--backend"}, new String[] {"--case="}, new String[] {"--verbose"})) {
      Run run = run(args);
      assertThat(run.status()).as(String.join(" ", args)).isEqualTo(2);
      assertThat(run.out()).isEmpty();
      assertOneLine(run.err());
      assertThat(run.err()).contains("usage: dev.weave.tck.Main [--backend NAME] [--case PATTERN]");
    }
  }

  @Test
  void helpIsTheUsageAndExitsZero() {
    Run run = run("--help");
    assertThat(run.status()).isZero();
    assertThat(run.out().strip()).isEqualTo("usage: dev.weave.tck.Main [--backend NAME] [--case PATTERN]");
  }

  /** One line, and no stack trace in it. */
  private static void assertOneLine(String text) {
    assertThat(text).endsWith(System.lineSeparator());
    assertThat(text.strip()).doesNotContain("\n").doesNotContain("\tat ").doesNotContain("Exception");
  }
}
