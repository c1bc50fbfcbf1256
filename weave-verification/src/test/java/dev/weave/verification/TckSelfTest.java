package dev.weave.verification;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import dev.weave.Backend;
import dev.weave.Weave;
import dev.weave.tck.Rule;
import dev.weave.tck.TckCase;
import dev.weave.tck.WeaveTckTest;
import dev.weave.verification.broken.Broken;
import dev.weave.verification.broken.BrokenBackends;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.TestExecutionResult.Status;
import org.junit.platform.testkit.engine.EngineExecutionResults;
import org.junit.platform.testkit.engine.EngineTestKit;
import org.junit.platform.testkit.engine.Event;

/**
 * The TCK proves it can fail: {@link WeaveTckTest} runs on the JUnit Platform's own {@link
 * EngineTestKit}, once per broken backend ({@link BrokenBackends}), each case in a child JVM as a
 * user's run would; the cases that fail must be exactly the ones listed for that backend, each
 * failure must name its case's rule and link to it, and say the expected reason (so a timeout or a
 * fault in a decorator cannot stand in for the fault). The control: on every real backend, every
 * case of the TCK must run and pass. The backend is chosen with the {@value
 * WeaveTckTest#BACKEND_FILTER} configuration parameter, the cases with {@value
 * WeaveTckTest#CASE_FILTER}.
 */
class TckSelfTest {
  /** A failure that says it timed out or crashed, where the expected reason is not one. */
  static final Pattern TIMED_OUT_OR_CRASHED =
      Pattern.compile("crashed: |did not finish within|did not run within");

  @TestFactory
  Stream<DynamicTest> eachBrokenBackendFailsExactlyItsCases() {
    return BrokenBackends.expected().stream()
        .map(
            broken ->
                DynamicTest.dynamicTest(
                    broken.backend() + " (rule " + broken.rule().number() + ")",
                    () -> failsExactlyItsCases(broken)));
  }

  static void failsExactlyItsCases(Broken broken) throws IOException {
    assumeTrue(
        Runtime.version().feature() >= broken.javaAtLeast(),
        broken.backend()
            + " needs Java "
            + broken.javaAtLeast()
            + "+, this is "
            + Runtime.version().feature());
    Backend backend =
        Weave.backends().stream()
            .filter(b -> b.name().equals(broken.backend()))
            .findFirst()
            .orElseThrow(
                () ->
                    new AssertionError(
                        broken.backend() + " was not discovered: see META-INF/services"));
    assertThat(backend.available())
        .as(broken.backend() + ": " + backend.unavailabilityReason())
        .isTrue();
    List<TckCase> selected = WeaveTckTest.selectedCases(broken.cases());
    assertThat(selected.stream().map(TckCase::id))
        .as(broken.backend() + ": cases expected to fail but not selected")
        .containsAll(broken.failures().keySet());
    assertThat(broken.failures().keySet().stream().map(TckSelfTest::caseById).map(TckCase::rule))
        .as(broken.backend() + ": a case of the rule it breaks is among those it must fail")
        .contains(broken.rule());
    EngineExecutionResults results = runTck(broken.backend(), broken.cases());
    results.containerEvents().assertStatistics(stats -> stats.failed(0));
    Map<String, Outcome> outcomes = outcomes(results);
    System.out.println(broken.backend() + ": " + summary(outcomes));
    assertThat(outcomes.keySet())
        .as(broken.backend() + ": the cases that ran")
        .containsExactlyInAnyOrderElementsOf(selected.stream().map(TckCase::id).toList());
    Set<String> expectedFailures =
        broken.failures().keySet().stream()
            .filter(id -> !skippedHere(id))
            .collect(Collectors.toSet());
    SoftAssertions softly = new SoftAssertions();
    softly
        .assertThat(failed(outcomes))
        .as(broken.backend() + ": the cases that failed; reasons:\n" + reasons(outcomes))
        .containsExactlyInAnyOrderElementsOf(expectedFailures);
    for (String id : expectedFailures) {
      TckCase c = caseById(id);
      String message = outcomes.get(id).message();
      String what = broken.backend() + " / " + id;
      softly
          .assertThat(message)
          .as(what + ": the failure names the rule and links to it")
          .startsWith(c.rule().label() + ", case " + id + ": ")
          .contains("The rule: " + c.rule().link());
      Pattern reason = broken.failures().get(id);
      softly.assertThat(message).as(what + ": the reason").containsPattern(reason);
      if (!TIMED_OUT_OR_CRASHED.matcher(reason.pattern()).find()) {
        softly
            .assertThat(message)
            .as(what + ": it failed for its reason, not by timing out or crashing")
            .doesNotContainPattern(TIMED_OUT_OR_CRASHED);
      }
    }
    outcomes.forEach(
        (id, outcome) -> {
          if (outcome.status() == Status.ABORTED) {
            softly
                .assertThat(allowedSkip(id, outcome.message()))
                .as(broken.backend() + " / " + id + " was skipped: " + outcome.message())
                .isTrue();
          }
        });
    softly.assertAll();
    deleteCrashFiles(outcomes);
  }

  private static Set<String> failed(Map<String, Outcome> outcomes) {
    return outcomes.entrySet().stream()
        .filter(e -> e.getValue().status() == Status.FAILED)
        .map(Map.Entry::getKey)
        .collect(Collectors.toSet());
  }

  /** The control: on every real backend, every case of the TCK runs and passes. */
  @TestFactory
  Stream<DynamicTest> realBackendsPassEveryCase() {
    return realBackends().stream()
        .map(
            backend ->
                DynamicTest.dynamicTest(
                    backend.name(),
                    () -> {
                      assumeTrue(
                          backend.available(),
                          () ->
                              backend.name()
                                  + " is unusable here: "
                                  + backend.unavailabilityReason());
                      EngineExecutionResults results = runTck(backend.name(), ".");
                      results.containerEvents().assertStatistics(stats -> stats.failed(0));
                      Map<String, Outcome> outcomes = outcomes(results);
                      assertThat(outcomes.keySet())
                          .as(backend.name() + ": the cases that ran")
                          .containsExactlyInAnyOrderElementsOf(
                              WeaveTckTest.selectedCases(".").stream().map(TckCase::id).toList());
                      assertThat(outcomes)
                          .allSatisfy(
                              (id, outcome) -> {
                                if (outcome.status() == Status.ABORTED) {
                                  assertThat(allowedSkip(id, outcome.message()))
                                      .as(
                                          backend.name()
                                              + " / "
                                              + id
                                              + " was skipped: "
                                              + outcome.message())
                                      .isTrue();
                                } else {
                                  assertThat(outcome.status())
                                      .as(backend.name() + " / " + id + ": " + outcome.message())
                                      .isEqualTo(Status.SUCCESSFUL);
                                }
                              });
                    }));
  }

  /** Each rule has a case, and each case a unique id; the ids these tests name are the TCK's. */
  @Test
  void everyRuleHasACaseAndEveryNamedCaseExists() {
    List<TckCase> cases = WeaveTckTest.cases();
    Set<Rule> covered =
        cases.stream()
            .map(TckCase::rule)
            .collect(Collectors.toCollection(() -> EnumSet.noneOf(Rule.class)));
    assertThat(covered).containsExactlyInAnyOrder(Rule.values());
    assertThat(cases.stream().map(TckCase::id)).doesNotHaveDuplicates();
    for (Broken broken : BrokenBackends.expected()) {
      broken.failures().keySet().forEach(TckSelfTest::caseById);
      assertThat(WeaveTckTest.selectedCases(broken.cases()))
          .as(broken.backend() + " runs cases")
          .isNotEmpty();
    }
    assertThat(BrokenBackends.expected().stream().map(Broken::rule).collect(Collectors.toSet()))
        .as("rules with a broken backend")
        .containsAll(EnumSet.complementOf(EnumSet.of(Rule.R1)));
  }

  /**
   * Skips that are no fault: virtual-thread cases on a JVM without virtual threads, and the
   * checked-mode case on a registry that is not weave's engine.
   */
  static boolean allowedSkip(String id, String message) {
    return (id.contains("virtual")
            && Runtime.version().feature() < 21
            && message.contains("has no virtual threads"))
        || (id.equals("r14-checked-mode")
            && message.contains("checked mode is a feature of weave's engine"));
  }

  /** Virtual-thread cases cannot fail on a JVM without virtual threads: they are skipped. */
  static boolean skippedHere(String id) {
    return id.contains("virtual") && Runtime.version().feature() < 21;
  }

  static TckCase caseById(String id) {
    return WeaveTckTest.cases().stream()
        .filter(c -> c.id().equals(id))
        .findFirst()
        .orElseThrow(() -> new AssertionError("the TCK has no case " + id));
  }

  static List<Backend> realBackends() {
    return Weave.backends().stream().filter(b -> !BrokenBackends.isTestBackend(b)).toList();
  }

  static EngineExecutionResults runTck(String backend, String cases) {
    EngineTestKit.Builder builder =
        EngineTestKit.engine("junit-jupiter")
            .selectors(selectClass(WeaveTckTest.class))
            .configurationParameter(WeaveTckTest.BACKEND_FILTER, Pattern.quote(backend));
    if (cases != null) {
      builder.configurationParameter(WeaveTckTest.CASE_FILTER, cases);
    }
    return builder.execute();
  }

  /** How a case finished, and its failure's or skip's message. */
  record Outcome(Status status, String message) {}

  /**
   * @return each case's outcome by id, in the order they ran
   */
  static Map<String, Outcome> outcomes(EngineExecutionResults results) {
    Map<String, Outcome> outcomes = new LinkedHashMap<>();
    Function<Event, String> id =
        event -> event.getTestDescriptor().getDisplayName().replaceFirst(":.*$", "");
    results.testEvents().finished().stream()
        .forEach(
            event -> {
              TestExecutionResult result =
                  event.getPayload(TestExecutionResult.class).orElseThrow();
              outcomes.put(
                  id.apply(event),
                  new Outcome(
                      result.getStatus(),
                      result.getThrowable().map(t -> String.valueOf(t.getMessage())).orElse("")));
            });
    results.testEvents().skipped().stream()
        .forEach(
            event ->
                outcomes.put(
                    id.apply(event),
                    new Outcome(Status.ABORTED, event.getPayload(String.class).orElse(""))));
    return outcomes;
  }

  private static String reasons(Map<String, Outcome> outcomes) {
    return outcomes.entrySet().stream()
        .filter(e -> e.getValue().status() != Status.SUCCESSFUL)
        .map(
            e ->
                e.getKey()
                    + " "
                    + e.getValue().status()
                    + ": "
                    + e.getValue().message().lines().findFirst().orElse(""))
        .collect(Collectors.joining("\n"));
  }

  private static String summary(Map<String, Outcome> outcomes) {
    Map<Status, Long> counts =
        outcomes.values().stream()
            .collect(
                Collectors.groupingBy(Outcome::status, LinkedHashMap::new, Collectors.counting()));
    List<String> failed =
        outcomes.entrySet().stream()
            .filter(e -> e.getValue().status() == Status.FAILED)
            .map(Map.Entry::getKey)
            .toList();
    return counts + ", failed: " + failed;
  }

  private static final Pattern CRASH_LOG = Pattern.compile("the JVM's fatal error log: (\\S+)");

  /**
   * A crash the test expected leaves its child JVM's directory with the hs_err file; it is no
   * longer needed.
   */
  private static void deleteCrashFiles(Map<String, Outcome> outcomes) throws IOException {
    for (Outcome outcome : outcomes.values()) {
      Matcher log = CRASH_LOG.matcher(outcome.message());
      if (log.find()) {
        Path directory = Path.of(log.group(1)).getParent();
        assertThat(Path.of(log.group(1))).as("the hs_err file the failure names").isRegularFile();
        try (Stream<Path> files = Files.walk(directory)) {
          for (Path file : files.sorted(Comparator.reverseOrder()).toList()) {
            Files.deleteIfExists(file);
          }
        }
      }
    }
  }
}
