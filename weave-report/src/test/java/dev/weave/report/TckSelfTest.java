package dev.weave.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import dev.weave.Backend;
import dev.weave.Weave;
import dev.weave.tck.WeaveTckTest;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.testkit.engine.EngineExecutionResults;
import org.junit.platform.testkit.engine.EngineTestKit;

/**
 * The TCK proves it can fail: {@link WeaveTckTest} runs on the JUnit Platform's own {@link
 * EngineTestKit}, once per broken backend ({@link BrokenBackends}), and the case that names the
 * broken rule must fail while unrelated ones pass; and once per real backend, where every case
 * must pass. The backend is chosen with the {@value WeaveTckTest#BACKEND_FILTER} configuration
 * parameter (the system property of that name works the same), so runs don't share global state.
 */
class TckSelfTest {
  /**
   * Every case but the two JVM-exit ones, which start child JVMs (seconds each) and test nothing
   * that these faults touch; the real backends run them in their own modules.
   */
  static final String NO_CHILD_JVMS = "^(?!10 JVM exit)";

  static final String SEED_6 = "seed 6: d1, d1, r1: destructors run in registration order";
  static final String ORDER = "2 at death, in order, with each variable's value at call time";
  static final String UNREGISTER = "3 unregister removes all of the calling thread's registrations on a variable, no other thread's";
  static final String SEED_4 = "seed 4: unregister returns whether there was a registration";
  static final String THROWING = "6 a throwing Java destructor is logged and the rest still run";
  static final String NO_LEAKS = "8 no leaks: 1,000 deaths leave the live thread count and the C heap where they were";
  static final String VIRTUAL = "9 virtual threads are refused with IllegalStateException";
  static final String ROUNDS = "7 registrations made while dying run after the current ones, for at most 4 rounds";
  static final String BAD_INPUT = "12 bad input: null, 0, closed, foreign slots and unknown backends are refused and change nothing";
  static final String NEW_SLOT = "11 a new slot reads 0 on every thread, even on a closed slot's storage";
  static final String CLOSE = "11 close drops every registration on the slot, on every thread, without running it";
  static final String SEED_1 = "seed 1: a thread registers d1 and dies: d1 called once";
  static final String SEED_5 = "seed 5: d1, d2, d1, d2, unregister d1: d2 called twice, d1 never";
  static final String SEED_7 = "seed 7: ten threads each register d1 and die: ten calls";
  static final String CELLS = "5 cells keep their values until every destructor has run";

  static String java(String name) {
    return name + " [java]";
  }

  static String nativeFlavour(String name) {
    return name + " [native]";
  }

  @Test
  void reverseOrderFailsTheOrderCases() {
    expect(
        "broken-reverse-order",
        List.of(java(ORDER), nativeFlavour(ORDER), java(SEED_6), nativeFlavour(SEED_6)),
        List.of(java(SEED_1), nativeFlavour(SEED_1), java(SEED_4), java(SEED_5), nativeFlavour(SEED_7), UNREGISTER,
            NO_LEAKS, VIRTUAL, NEW_SLOT, CLOSE, BAD_INPUT));
  }

  @Test
  void unregisterThatDropsOneFailsTheUnregisterCases() {
    expect(
        "broken-unregister-drops-one",
        List.of(UNREGISTER, java(SEED_4), nativeFlavour(SEED_4)),
        List.of(java(ORDER), nativeFlavour(ORDER), java(SEED_1), java(SEED_6), nativeFlavour(SEED_6), java(SEED_7),
            THROWING, ROUNDS, CELLS, VIRTUAL, BAD_INPUT));
  }

  @Test
  void throwingDestructorThatStopsTheRestFailsTheThrowingCase() {
    expect(
        "broken-throw-stops-the-rest",
        List.of(THROWING),
        List.of(java(ORDER), nativeFlavour(ORDER), UNREGISTER, java(SEED_4), nativeFlavour(SEED_5), java(SEED_6),
            nativeFlavour(SEED_6), ROUNDS, CELLS, CLOSE, VIRTUAL, BAD_INPUT));
  }

  @Test
  void staleValueFailsTheValueAtCallTimeCase() {
    expect(
        "broken-stale-value",
        List.of(java(ORDER)),
        List.of(nativeFlavour(ORDER), java(SEED_1), java(SEED_5), java(SEED_6), nativeFlavour(SEED_6), UNREGISTER,
            THROWING, ROUNDS, CELLS, CLOSE, VIRTUAL, BAD_INPUT));
  }

  @Test
  void virtualThreadsAllowedFailsTheVirtualThreadCase() {
    assumeTrue(Runtime.version().feature() >= 21, "virtual threads need Java 21+");
    expect(
        "broken-virtual-threads-allowed",
        List.of(VIRTUAL),
        List.of(java(ORDER), nativeFlavour(ORDER), java(SEED_4), java(SEED_6), UNREGISTER, THROWING, ROUNDS, NO_LEAKS,
            BAD_INPUT));
  }

  @Test
  void threadLeftAttachedFailsTheNoLeaksCase() {
    assumeTrue(Runtime.version().feature() >= 22, "this fault is the FFM backend's, Java 22+");
    // built by reflection on FfmPrimitives' detachKey: if that changes, say so rather than skip
    Backend leftAttached = Weave.backends().stream().filter(b -> b.name().equals("broken-left-attached")).findFirst().orElseThrow();
    assertThat(leftAttached.available()).as("broken-left-attached: " + leftAttached.unavailabilityReason()).isTrue();
    // Only a few cases: every death with a registration leaves a thread attached for good.
    List<String> mustPass = List.of(java(SEED_1), java(ORDER), UNREGISTER, BAD_INPUT);
    List<String> mustFail = List.of(NO_LEAKS);
    List<String> run = new ArrayList<>(mustPass);
    run.addAll(mustFail);
    expect("broken-left-attached", mustFail, mustPass, run.stream().map(Pattern::quote).collect(Collectors.joining("|")));
  }

  /** The control: on a real backend the same cases that caught the broken ones all pass. */
  @TestFactory
  Stream<DynamicTest> realBackendsPass() {
    return realBackends().stream()
        .map(backend -> DynamicTest.dynamicTest(backend.name(), () -> {
          assumeTrue(backend.available(), () -> backend.name() + " is unusable here: " + backend.unavailabilityReason());
          Map<String, TestExecutionResult.Status> outcomes = outcomes(runTck(backend.name(), NO_CHILD_JVMS));
          assertThat(outcomes).hasSize(WeaveTckTest.selectedCases(NO_CHILD_JVMS).size());
          assertThat(outcomes).allSatisfy((name, status) ->
              assertThat(status).as(backend.name() + " / " + name).isIn(TestExecutionResult.Status.SUCCESSFUL, TestExecutionResult.Status.ABORTED));
          assertThat(outcomes.values()).contains(TestExecutionResult.Status.SUCCESSFUL);
        }));
  }

  /** Every case that these tests name is a case of the TCK, spelled as the TCK spells it. */
  @Test
  void namedCasesExist() {
    List<String> names = WeaveTckTest.cases().stream().map(c -> c.displayName()).toList();
    assertThat(names).contains(
        java(ORDER), nativeFlavour(ORDER), UNREGISTER, THROWING, NO_LEAKS, VIRTUAL, ROUNDS, BAD_INPUT, NEW_SLOT, CLOSE, CELLS,
        java(SEED_1), java(SEED_4), nativeFlavour(SEED_4), java(SEED_5), nativeFlavour(SEED_5), java(SEED_6),
        nativeFlavour(SEED_6), java(SEED_7));
  }

  static List<Backend> realBackends() {
    return Weave.backends().stream().filter(b -> !BrokenBackends.isTestBackend(b)).toList();
  }

  private static void expect(String backend, List<String> mustFail, List<String> mustPass) {
    expect(backend, mustFail, mustPass, NO_CHILD_JVMS);
  }

  private static void expect(String backend, List<String> mustFail, List<String> mustPass, String cases) {
    Backend found = Weave.backends().stream().filter(b -> b.name().equals(backend)).findFirst().orElseThrow();
    assumeTrue(found.available(), () -> backend + " is unusable here: " + found.unavailabilityReason());
    EngineExecutionResults results = runTck(backend, cases);
    results.containerEvents().assertStatistics(stats -> stats.failed(0));
    Map<String, TestExecutionResult.Status> outcomes = outcomes(results);
    System.out.println(backend + ": " + summary(outcomes));
    for (String name : mustFail) {
      assertThat(outcomes.get(name)).as(backend + " must fail: " + name).isEqualTo(TestExecutionResult.Status.FAILED);
    }
    for (String name : mustPass) { // or be skipped here, as the virtual-thread case is on Java 17
      assertThat(outcomes.get(name)).as(backend + " must pass: " + name + " (" + reason(results, name) + ")")
          .isIn(TestExecutionResult.Status.SUCCESSFUL, TestExecutionResult.Status.ABORTED);
    }
  }

  static EngineExecutionResults runTck(String backend, String cases) {
    return EngineTestKit.engine("junit-jupiter")
        .selectors(selectClass(WeaveTckTest.class))
        .configurationParameter(WeaveTckTest.BACKEND_FILTER, Pattern.quote(backend))
        .configurationParameter(WeaveTckTest.CASE_FILTER, cases)
        .execute();
  }

  /** @return each case's display name and how it finished, in the order they ran */
  static Map<String, TestExecutionResult.Status> outcomes(EngineExecutionResults results) {
    Map<String, TestExecutionResult.Status> outcomes = new LinkedHashMap<>();
    results.testEvents().finished().stream()
        .forEach(event -> outcomes.put(event.getTestDescriptor().getDisplayName(), event.getPayload(TestExecutionResult.class).orElseThrow().getStatus()));
    results.testEvents().skipped().stream()
        .forEach(event -> outcomes.put(event.getTestDescriptor().getDisplayName(), TestExecutionResult.Status.ABORTED));
    return outcomes;
  }

  private static String reason(EngineExecutionResults results, String name) {
    return results.testEvents().failed().stream()
        .filter(event -> event.getTestDescriptor().getDisplayName().equals(name))
        .map(event -> event.getPayload(TestExecutionResult.class).flatMap(TestExecutionResult::getThrowable).map(String::valueOf).orElse("?"))
        .findFirst()
        .orElse("it did not fail");
  }

  private static String summary(Map<String, TestExecutionResult.Status> outcomes) {
    Map<TestExecutionResult.Status, Long> counts = outcomes.values().stream()
        .collect(Collectors.groupingBy(s -> s, LinkedHashMap::new, Collectors.counting()));
    List<String> failed = outcomes.entrySet().stream()
        .filter(e -> e.getValue() == TestExecutionResult.Status.FAILED).map(Map.Entry::getKey).toList();
    return counts + ", failed: " + failed;
  }
}
