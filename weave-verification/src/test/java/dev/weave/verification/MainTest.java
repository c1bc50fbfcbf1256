package dev.weave.verification;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weave.tck.Main;
import dev.weave.tck.Rule;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The runner, {@link Main}: its progress lines, its table, its last line, its exit status, its
 * one-line errors, and a crash reported as the failure of the case that crashed.
 */
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
    return new Run(
        status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  /** The lines of the table: from its header to the blank line under it. */
  static List<String> table(Run run) {
    List<String> lines = run.lines();
    int header =
        lines.indexOf(
            lines.stream().filter(line -> line.startsWith("case ")).findFirst().orElseThrow());
    int end = header;
    while (end < lines.size() && !lines.get(end).isEmpty()) {
      end++;
    }
    return lines.subList(header, end);
  }

  @Test
  void passingRunPrintsProgressThenTheTableAndEndsWithTheCounts() {
    Run run = run("--backend", "jna", "--case", "^seed[17]-(java|native)$");
    assertThat(run.status()).as(run.out()).isZero();
    assertThat(run.err()).isEmpty();
    List<String> lines = run.lines();
    assertThat(lines.get(0))
        .as("which walker runs the walks at death")
        .matches("jna: 4 cases started, (native walker|java walker: .+)");
    assertThat(lines.get(1))
        .matches("jna: 4 cases finished in \\d+\\.\\d s: 4 passed, 0 failed, 0 skipped");
    assertThat(lines.get(2)).isEmpty();
    List<String> table = table(run);
    assertThat(table.get(0)).matches("case +\\| jna *");
    assertThat(table.get(1)).matches("-+");
    assertThat(table.subList(2, table.size()))
        .hasSize(4)
        .allSatisfy(
            line ->
                assertThat(line)
                    .matches("seed[17]-(java|native): seed [17]: .* \\| pass \\d+ ms *"));
    assertThat(run.lastLine()).isEqualTo("4 passed, 0 failed");
  }

  @Test
  void equalsFormsOfTheOptionsWorkToo() {
    Run run = run("--backend=jna", "--case=^seed3-");
    assertThat(run.status()).isZero();
    assertThat(run.lastLine()).isEqualTo("3 passed, 0 failed");
  }

  @Test
  void failingRunMarksTheCellsGivesTheReasonsWithTheRuleAndExitsOne() {
    Run run = run("--backend", "broken-stale-value", "--case", "^r02-order-");
    assertThat(run.status()).isEqualTo(1);
    assertThat(run.lines().get(1))
        .matches(
            "broken-stale-value: 2 cases finished in \\d+\\.\\d s: 1 passed, 1 failed, 0 skipped");
    List<String> table = table(run);
    assertThat(table)
        .anySatisfy(line -> assertThat(line).matches("r02-order-java: .* \\| FAIL \\d+ ms *"));
    assertThat(table)
        .anySatisfy(line -> assertThat(line).matches("r02-order-native: .* \\| pass \\d+ ms *"));
    // the reason is under the table, after the FAIL line that names backend and case: rule, case,
    // what, link
    List<String> lines = run.lines();
    int fail =
        lines.indexOf(
            lines.stream()
                .filter(line -> line.startsWith("FAIL broken-stale-value / r02-order-java: "))
                .findFirst()
                .orElseThrow());
    assertThat(lines.get(fail + 1))
        .startsWith("    rule 2 (At death, in order), case r02-order-java: ")
        .contains("b2=2");
    assertThat(lines.get(fail + 2))
        .isEqualTo("    The rule: " + Rule.R2.link())
        .endsWith("/dev/weave/tck/SPEC.md#rule-2-at-death-in-order");
    assertThat(run.lastLine()).isEqualTo("1 passed, 1 failed");
  }

  @Test
  void crashIsTheFailureOfItsCaseAndTheRunGoesOn() {
    Run run =
        run(
            "--backend",
            "broken-null-to-native",
            "--case",
            "^(seed1-java|seed1-native|r02-order-java)$");
    assertThat(run.status()).isEqualTo(1);
    List<String> table = table(run);
    assertThat(table).hasSize(5);
    assertThat(table.get(2)).matches("seed1-java: .* \\| pass \\d+ ms *");
    assertThat(table.get(3)).matches("seed1-native: .* \\| FAIL \\d+ ms *");
    assertThat(table.get(4)).matches("r02-order-java: .* \\| pass \\d+ ms *"); // in a new child JVM
    List<String> lines = run.lines();
    int fail =
        lines.indexOf(
            lines.stream()
                .filter(line -> line.startsWith("FAIL broken-null-to-native / seed1-native: "))
                .findFirst()
                .orElseThrow());
    assertThat(lines.get(fail + 1))
        .startsWith(
            "    rule 2 (At death, in order), case seed1-native: crashed: SIGSEGV in sem_post");
    assertThat(lines.subList(fail + 1, lines.size()))
        .anySatisfy(
            line ->
                assertThat(line).contains("the JVM's fatal error log: ").contains("hs_err_pid"));
    assertThat(run.lastLine()).isEqualTo("2 passed, 1 failed");
  }

  @Test
  void skippedCasesAreCountedAboveTheLastLine() {
    // on Java 17 the virtual-thread case is skipped; elsewhere this just passes
    Run run = run("--backend", "jnr", "--case", "^r09-virtual");
    assertThat(run.status()).isZero();
    assertThat(run.lastLine()).isIn("1 passed, 0 failed", "0 passed, 0 failed");
    if (run.lastLine().startsWith("0")) {
      assertThat(run.out()).contains("skipped jnr / r09-virtual").contains("1 skipped");
    }
  }

  @Test
  void unknownBackendIsOneLineNamingTheUsableOnesAndExitsTwo() {
    Run run = run("--backend", "no-such-backend");
    assertThat(run.status()).isEqualTo(2);
    assertThat(run.out()).isEmpty();
    assertOneLine(run.err());
    assertThat(run.err())
        .startsWith("weave-tck: no backend named 'no-such-backend'; usable: ")
        .contains("jna")
        .contains("jnr");
  }

  @Test
  void unusableBackendIsOneLineWithItsReasonAndExitsTwo() {
    Run run = run("--backend", "unusable-for-tests");
    assertThat(run.status()).isEqualTo(2);
    assertOneLine(run.err());
    assertThat(run.err())
        .contains("'unusable-for-tests' is unusable here: switched off on purpose, for the tests")
        .contains("usable: ");
  }

  @Test
  void patternThatMatchesNoCaseIsOneLineAndExitsTwo() {
    Run run = run("--backend", "jna", "--case", "no case is called this");
    assertThat(run.status()).isEqualTo(2);
    assertThat(run.out()).isEmpty();
    assertOneLine(run.err());
    assertThat(run.err()).startsWith("weave-tck: no case id matches 'no case is called this'");
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
    for (String[] args :
        List.of(new String[] {"--backend"}, new String[] {"--case="}, new String[] {"--verbose"})) {
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
    assertThat(run.out().strip())
        .isEqualTo("usage: dev.weave.tck.Main [--backend NAME] [--case PATTERN]");
  }

  /** One line, and no stack trace in it. */
  private static void assertOneLine(String text) {
    assertThat(text).endsWith(System.lineSeparator());
    assertThat(text.strip())
        .doesNotContain("\n")
        .doesNotContain("\tat ")
        .doesNotContain("Exception");
  }
}
