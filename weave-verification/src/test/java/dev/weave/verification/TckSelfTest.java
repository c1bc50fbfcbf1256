package dev.weave.verification;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import dev.weave.Backend;
import dev.weave.Weave;
import dev.weave.tck.Rule;
import dev.weave.tck.TckCase;
import dev.weave.tck.WeaveTckTest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
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
  /**
   * The cases a broken backend runs unless it says otherwise: all but those that take seconds (the
   * leak count, the JVM-exit probes in child JVMs, the slot churn), which only the backends whose
   * faults they catch run.
   */
  static final String QUICK = "^(?!r08-|r10-|r11-slot-churn)";

  /** A failure that says it timed out or crashed, where the expected reason is not one. */
  static final Pattern TIMED_OUT_OR_CRASHED =
      Pattern.compile("crashed: |did not finish within|did not run within");

  /** What a broken backend must do to the TCK. */
  record Broken(
      String backend, Rule rule, String cases, int javaAtLeast, Map<String, Pattern> failures) {
    /**
     * {@code caseId} must fail, and its message contain {@code reason}, or one of {@code
     * otherReasons}.
     */
    Broken fails(String caseId, String reason, String... otherReasons) {
      Map<String, Pattern> more = new LinkedHashMap<>(failures);
      more.put(
          caseId,
          Pattern.compile(
              Stream.concat(Stream.of(reason), Arrays.stream(otherReasons))
                  .map(Pattern::quote)
                  .collect(Collectors.joining("|"))));
      return new Broken(backend, rule, cases, javaAtLeast, more);
    }

    Broken cases(String pattern) {
      return new Broken(backend, rule, pattern, javaAtLeast, failures);
    }

    Broken javaAtLeast(int feature) {
      return new Broken(backend, rule, cases, feature, failures);
    }
  }

  static Broken broken(String backend, Rule rule) {
    return new Broken(backend, rule, QUICK, 17, Map.of());
  }

  static final String SEED6 = "d1's count, " + 5 + " before d1, d1, r1";
  static final String JOINED = "destructor when join() returned";

  /** Each broken backend, the rule it breaks, and every case it must fail with the reason. */
  static List<Broken> brokenBackends() {
    return List.of(
        broken("broken-reverse-order", Rule.R2)
            .fails("r15-os-exit-registrations", "seen: before reads 1, second gets 2, after reads")
            .fails(
                "seed6-java",
                SEED6
                    + " (r1 last: 100; r1 between the d1s: 101; r1 first: 102; none ran: 5) ==> expected: <100> but was: <102>")
            .fails(
                "seed6-native",
                SEED6
                    + " (r1 last: 0; r1 between the d1s: 1; r1 first: 2; none ran: 5) ==> expected: <0> but was: <2>")
            .fails(
                "seed6-plain",
                SEED6
                    + " (r1 last: 0; r1 between the d1s: 1; r1 first: 2; none ran: 5) ==> expected: <0> but was: <2>")
            .fails("r01-reattached-thread", "expected: <[first=2, second=2]> but was: <[second=2]>")
            .fails("r02-order-java", "but was: <[a2=10, b2=2, zero=0, a1=10, b1=20]>")
            .fails(
                "r02-order-native",
                "but was: <[after trywait: other=0, after first two: sem=3 other=0]>")
            .fails("r02-plain-variables", "sem_post on first must post atDeath")
            .fails(
                "r04-unregister-in-destructor",
                "but was: <[later ran, unregister(later)=false, unregister(variable)=false]>")
            .fails("r05-cells-outlive-destructors", "wrong: slot 1=0x3e9, first=1000 high=1069]>")
            .fails("r06-throwing-destructor", "expected: <[first, last]> but was: <[last, first]>")
            .fails("r07-rounds", "but was: <[round 1 b, round 1 a, round 2, round 3, round 4]>")
            .fails(
                "r13-order-value-java", "but was: <[a2=10, b2=2, zero=0, a1=10, b1=20, returned]>")
            .fails("r13-order-value-native", "but was: <[java last: posted=0 zeroed=3 plain=0")
            .fails("r13-error-isolation", "but was: <[last, first, returned, posted=1]>")
            .fails(
                "r13-rounds",
                "but was: <[round 1 b, round 1 a, round 2, round 3, round 4, returned]>")
            .fails(
                "r13-in-destructor",
                "but was: <[in runDestructors(): IllegalStateException, after it, at death: IllegalStateException]>"),
        broken("broken-stale-value", Rule.R2)
            .fails("r15-os-exit-registrations", "after reads 0, third gets 0")
            .fails("r02-order-java", "but was: <[b1=2, a1=10, zero=0, b2=2, a2=10]>")
            .fails(
                "r13-order-value-java", "but was: <[b1=2, a1=10, zero=0, b2=2, a2=10, returned]>"),
        broken("broken-value-at-registration", Rule.R2)
            .fails("r15-os-exit-registrations", "seen: before reads 1, first gets 1, second gets 2")
            .fails("r01-reattached-thread", "but was: <[first=1, second=2]>")
            .fails("r02-order-java", "but was: <[b1=2, a1=1, zero=0, b2=2, a2=1]>")
            .fails(
                "r02-order-native",
                "but was: <[after first two: sem=3 other=1, after trywait: other=0]>")
            .fails("r13-order-value-java", "but was: <[b1=2, a1=1, zero=0, b2=2, a2=1, returned]>")
            .fails("r13-order-value-native", "but was: <[java last: posted=0 zeroed=3 plain=1")
            .fails(
                "r13-register-again",
                "but was: <[first=0, second=2, after the second runDestructors(), third=true]>"),
        broken("broken-runs-twice", Rule.R2)
            .fails("r15-os-exit-slots-only", "after reads 0, third gets 3, third gets 3")
            .fails("r15-os-exit-registrations", "first gets 2, first gets 2, second gets 2")
            .fails("seed1-java", "expected: <1> but was: <2>")
            .fails("seed3-java", "expected: <1> but was: <2>")
            .fails("seed5-java", "d2 calls ==> expected: <2> but was: <4>")
            .fails("seed7-java", "expected: <10> but was: <20>")
            .fails("seed7-seq-java", "expected: <10> but was: <20>")
            .fails(
                "r01-per-thread-java",
                "the dead thread's destructor ==> expected: <1> but was: <2>")
            .fails(
                "r01-per-thread-native",
                "the dead thread's native destructor ==> expected: <1> but was: <2>")
            .fails("r01-reattached-thread", "but was: <[first=2, first=2, second=2, second=2]>")
            .fails("r02-order-java", "but was: <[b1=2, b1=2, a1=10, a1=10,")
            .fails(
                "r02-order-native",
                "but was: <[after first two: sem=0 other=2, after first two: sem=0 other=2,")
            .fails(
                "r02-plain-variables",
                "last: atRegistration=0 atDeath=3 late=0, last: atRegistration=0")
            .fails(
                "r03-unregister-per-thread",
                "only the registration on the other slot ran ==> expected: <100> but was: <200>")
            .fails(
                "r03-slot-and-cell",
                "only the last registration ran ==> expected: <1> but was: <2>")
            .fails(
                "r04-unregister-in-destructor",
                "unregister(later)=false, unregister(variable)=false]>")
            .fails(
                "r04-pool-threads",
                "destructor calls, one per pool thread ==> expected: <4> but was: <8>")
            .fails(
                "r04-pthread-threads-java",
                "destructor calls, one per thread started by pthread_create ==> expected: <4> but was: <8>")
            .fails(
                "r05-cells-outlive-destructors",
                "but was: <[first=1000 high=1069, first=1000 high=1069,")
            .fails("r06-throwing-destructor", "but was: <[first, first, last, last]>")
            .fails("r07-rounds", "but was: <[round 1 a, round 1 a, round 1 b, round 1 b,")
            .fails("r13-order-value-java", "but was: <[b1=2, b1=2, a1=10, a1=10,")
            .fails(
                "r13-order-value-native",
                "but was: <[java last: posted=0 zeroed=0 plain=1, java last:")
            .fails(
                "r13-error-isolation", "but was: <[first, first, last, last, returned, posted=2]>")
            .fails("r13-rounds", "but was: <[round 1 a, round 1 a, round 1 b, round 1 b,")
            .fails("r13-live-thread", "value=42, same Thread=true")
            .fails("r13-register-again", "but was: <[first=1, first=1, second=2, second=2,")
            .fails(
                "r13-in-destructor",
                "in runDestructors(): IllegalStateException, in runDestructors(): IllegalStateException,")
            .fails(
                "r13-weave-thread-join",
                "but was: <[java, on the same Thread: true, java, on the same Thread: true]>")
            .fails(
                "r13-thread-factory-join",
                "but was: <[java, on the same Thread: true, java, on the same Thread: true]>")
            .fails(
                "r13-wrap-join",
                "but was: <[java, on the same Thread: true, java, on the same Thread: true]>"),
        broken("broken-ignores-plain-variables", Rule.R2)
            .fails(
                "r12-unaligned-variable",
                "Expected java.lang.IllegalArgumentException to be thrown")
            .fails("seed1-plain", "expected: <1> but was: <0>")
            .fails("seed2-plain", "unregister after register ==> expected: <true> but was: <false>")
            .fails("seed3-plain", "expected: <1> but was: <0>")
            .fails(
                "seed4-plain",
                "first unregister of two registrations ==> expected: <true> but was: <false>")
            .fails("seed5-plain", "expected: <true> but was: <false>")
            .fails("seed6-plain", "expected: <0> but was: <5>")
            .fails("seed7-plain", "expected: <10> but was: <0>")
            .fails("seed7-seq-plain", "expected: <10> but was: <0>")
            .fails(
                "r02-plain-variables",
                "but was: <[after the first: atRegistration=0 atDeath=2 late=2")
            .fails(
                "r04-unregister-in-destructor",
                "but was: <[unregister(later)=true, unregister(variable)=false]>")
            .fails("r13-order-value-native", "but was: <[java last: posted=0 zeroed=0 plain=0"),
        broken("broken-unregister-drops-one", Rule.R3)
            .fails(
                "seed4-java",
                "second unregister: the first removed both ==> expected: <false> but was: <true>")
            .fails("seed5-java", "d1 calls ==> expected: <0> but was: <1>")
            .fails(
                "seed4-native",
                "second unregister: the first removed both ==> expected: <false> but was: <true>")
            .fails("seed5-native", "d1 calls ==> expected: <0> but was: <1>")
            .fails(
                "seed4-plain",
                "second unregister: the first removed both ==> expected: <false> but was: <true>")
            .fails("seed5-plain", "d1 calls ==> expected: <0> but was: <1>")
            .fails(
                "r03-unregister-per-thread",
                "both went at once ==> expected: <false> but was: <true>")
            .fails("r03-slot-and-cell", "expected: <false> but was: <true>")
            .fails(
                "r13-rounds",
                "the fifth round's registration was dropped, not kept ==> expected: <false> but was: <true>"),
        broken("broken-unregister-removes-others", Rule.R3)
            .fails(
                "r03-unregister-per-thread",
                "the helper thread's native registration on the slot did not run at its death"),
        broken("broken-other-thread", Rule.R4)
            .fails("r02-order-java", "but was: <[b1=2, a1=10, zero=0, b2=2, a2=10]>")
            .fails("r04-where-destructors-run", "the destructor ran on another OS thread")
            .fails(
                "r04-unregister-in-destructor",
                "but was: <[unregister(later)=false, unregister(variable)=false, later ran]>")
            .fails(
                "r04-pool-threads",
                "each destructor ran on its own thread with its own value ==> expected: <4> but was: <0>")
            .fails(
                "r04-pthread-threads-java",
                "each ran on its own thread with its own value ==> expected: <4> but was: <0>")
            .fails("r05-cells-outlive-destructors", "but was: <[first=1000 high=0,")
            // registrations made by its destructors belong to other threads, whose deaths race the
            // cases' checks
            .fails(
                "r07-rounds",
                "weave logged no warning about the dropped fifth-round registration",
                "expected: <[round 1 a, round 1 b, round 2, round 3, round 4]> but was: <[round 1 a, ")
            .fails(
                "r13-order-value-java", "but was: <[b1=2, a1=10, zero=0, b2=2, a2=10, returned]>")
            .fails(
                "r13-rounds",
                "expected: <[round 1 a, round 1 b, round 2, round 3, round 4, returned]> but was: <[round 1 a, ")
            .fails(
                "r13-live-thread",
                "but was: <[same Thread=false name=broken-other-thread threadLocal=null same OS thread=false")
            .fails(
                "r13-in-destructor",
                "but was: <[in runDestructors(): returned, at death: returned, after it]>")
            .fails("r13-weave-thread-join", "but was: <[java, on the same Thread: false]>")
            .fails("r13-thread-factory-join", "but was: <[java, on the same Thread: false]>")
            .fails("r13-wrap-join", "but was: <[java, on the same Thread: false]>"),
        broken("broken-unregister-ignored-in-destructor", Rule.R4)
            .fails(
                "r04-unregister-in-destructor",
                "but was: <[unregister(later)=true, unregister(variable)=true, later ran]>"),
        broken("broken-cells-freed-early", Rule.R5)
            // a native destructor handed the perturbed cells' contents would crash: these cases use
            // Java ones
            .cases(
                "^(seed\\d-java|r02-order-java|r04-where-destructors-run|r05-|r11-(?!slot-churn)|r13-afterwards)")
            .fails("seed1-java", "expected: <1> but was: <0>")
            .fails("seed3-java", "expected: <1> but was: <0>")
            .fails("seed5-java", "d2 calls ==> expected: <2> but was: <0>")
            .fails("seed7-java", "expected: <10> but was: <0>")
            .fails("r02-order-java", "but was: <[b1=-6510615555426900571, a1=-6510615555426900571,")
            // a cell found through its perturbed owner word, not the cell cache, is no cell: 0
            .fails(
                "r04-where-destructors-run",
                "slot.get() in a destructor reads the dying thread's cell ==> expected: <42> but was: <-6510615555426900571>",
                "slot.get() in a destructor reads the dying thread's cell ==> expected: <42> but was: <0>")
            .fails("r05-cells-outlive-destructors", "but was: <[first=-6510615555426900571"),
        broken("broken-throw-stops-the-rest", Rule.R6)
            .fails(
                "r06-throwing-destructor",
                "the thread's destructors did not all run: the sentinel registered last did not")
            .fails("r13-error-isolation", "but was: <[first, returned, posted=0]>"),
        broken("broken-leaks-per-death", Rule.R8)
            .cases("^(seed1-java|r01-per-thread-native|r08-no-leaks)")
            .fails("r08-no-leaks", "C heap grew, in all rounds but at most one"),
        broken("broken-left-attached", Rule.R8)
            .javaAtLeast(22) // the FFM backend without its detach key
            .cases("^(seed1-java|r02-order-java|r03-unregister-per-thread|r08-no-leaks)")
            .fails("r08-no-leaks", "dying threads were left attached"),
        broken("broken-left-attached-native-only", Rule.R8)
            .javaAtLeast(22) // the FFM backend with a detach key of its own
            .cases("^(seed1-java|r02-order-java|r03-unregister-per-thread|r08-no-leaks)")
            .fails("r08-no-leaks", "dying threads were left attached"),
        broken("broken-registered-while-dying-runs-at-once", Rule.R7)
            .fails(
                "r07-rounds",
                "but was: <[round 1 a, round 2, round 3, round 4, round 5, round 1 b]>")
            .fails(
                "r13-rounds",
                "but was: <[round 1 a, round 2, round 3, round 4, round 5, round 1 b, returned]>"),
        broken("broken-virtual-threads-allowed", Rule.R9)
            .javaAtLeast(21)
            .fails(
                "r09-virtual-threads", "but was: <[newSlot did not throw, register did not throw,"),
        broken("broken-virtual-one-operation", Rule.R9)
            .javaAtLeast(21)
            .fails(
                "r09-virtual-threads",
                "expected: <[]> but was: <[unregister(variable) did not throw]>"),
        broken("broken-runs-at-exit", Rule.R10)
            .cases("^(seed1-java|r01-per-thread-native|r10-)")
            .fails(
                "r10-main-returns",
                "main-returns: the child JVM printed something ==> expected: <> but was: <weave ran a Java destructor of a thread alive at exit")
            .fails(
                "r10-alive-at-exit",
                "alive-at-exit: the child JVM printed something ==> expected: <> but was: <weave ran a Java destructor of a thread alive at exit"),
        broken("broken-runs-closed-slots", Rule.R11)
            .fails(
                "r11-close-drops",
                "a Java destructor on a closed slot ran ==> expected: <0> but was: <2>"),
        broken("broken-new-slot-reads-old", Rule.R11)
            .fails(
                "r11-new-slot-reads-zero",
                "a new slot on the test thread, which had set a closed one ==> expected: <0> but was: <48879>"),
        broken("broken-refuses-nothing", Rule.R12)
            .fails(
                "r12-unaligned-variable",
                "Expected java.lang.IllegalArgumentException to be thrown")
            .fails(
                "r12-bad-input",
                "Expected java.lang.NullPointerException to be thrown, but nothing was thrown.")
            .fails(
                "r12-other-backend-slot",
                "==> Expected java.lang.IllegalArgumentException to be thrown, but nothing was thrown."),
        broken("broken-no-run-destructors", Rule.R13)
            .fails("r13-order-value-java", "does not implement runDestructors() (contract rule 13)")
            .fails(
                "r13-order-value-native", "does not implement runDestructors() (contract rule 13)")
            .fails("r13-error-isolation", "does not implement runDestructors() (contract rule 13)")
            .fails("r13-rounds", "does not implement runDestructors() (contract rule 13)")
            .fails("r13-live-thread", "does not implement runDestructors() (contract rule 13)")
            .fails("r13-afterwards", "does not implement runDestructors() (contract rule 13)")
            .fails("r13-register-again", "does not implement runDestructors() (contract rule 13)")
            .fails("r13-in-destructor", "does not implement runDestructors() (contract rule 13)")
            .fails(
                "r13-virtual-thread",
                "but was: <[threw java.lang.UnsupportedOperationException: the broken-no-run-destructors backend does not implement runDestructors()")
            // whether the destructors ran at the thread's death before join() returned is a race;
            // they did not run at its end
            .fails("r13-weave-thread-join", JOINED)
            .fails("r13-thread-factory-join", JOINED)
            .fails("r13-wrap-join", JOINED),
        broken("broken-run-destructors-leaves-cells", Rule.R13)
            .fails(
                "r13-afterwards",
                "but was: <[slot 0 reads 100, slot 0's cell holds 100, slot 69 reads 169, slot 69's cell holds 169]>"),
        broken("broken-checked-double-free", Rule.R14)
            // slot indices stay under 64 before r05: only its and r14's threads have chunks of 2
            // KiB
            .cases("^(seed1-java|r02-order-java|r05-|r14-)")
            .fails(
                "r05-cells-outlive-destructors",
                "reported 1 violation(s) of the engine's own memory or keys during the case:\n  double free at")
            .fails(
                "r14-checked-mode",
                "violation(s) of the engine's own memory or keys during the case:\n  double free at"),
        broken("broken-null-to-native", Rule.R2)
            // every case with a native destructor on a slot crashes the JVM: a few show that the
            // run goes on
            .cases(
                "^(seed1-java|seed1-native|r01-per-thread-java|r01-per-thread-native|r02-order-java)")
            .fails("seed1-native", "crashed: SIGSEGV in sem_post")
            .fails("r01-per-thread-native", "crashed: SIGSEGV in sem_post"),
        broken("broken-stale-cell-cache", Rule.R15)
            // the cell read after glibc freed it: the perturbed heap, or the allocator's own words
            .cases("^r15-")
            .fails("r15-os-exit-slots-only", "seen: before reads 1, after reads ")
            .fails(
                "r15-os-exit-registrations",
                "seen: before reads 1, first gets 2, second gets 2, after reads "));
  }

  @TestFactory
  Stream<DynamicTest> eachBrokenBackendFailsExactlyItsCases() {
    return brokenBackends().stream()
        .map(
            broken ->
                DynamicTest.dynamicTest(
                    broken.backend() + " (rule " + broken.rule().number() + ")",
                    () -> {
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
                                          broken.backend()
                                              + " was not discovered: see META-INF/services"));
                      assertThat(backend.available())
                          .as(broken.backend() + ": " + backend.unavailabilityReason())
                          .isTrue();
                      List<TckCase> selected = WeaveTckTest.selectedCases(broken.cases());
                      EngineExecutionResults results = runTck(broken.backend(), broken.cases());
                      results.containerEvents().assertStatistics(stats -> stats.failed(0));
                      Map<String, Outcome> outcomes = outcomes(results);
                      System.out.println(broken.backend() + ": " + summary(outcomes));
                      assertThat(outcomes.keySet())
                          .as(broken.backend() + ": the cases that ran")
                          .containsExactlyInAnyOrderElementsOf(
                              selected.stream().map(TckCase::id).toList());
                      assertThat(selected.stream().map(TckCase::id))
                          .as(broken.backend() + ": cases expected to fail but not selected")
                          .containsAll(broken.failures().keySet());
                      Set<String> expectedFailures =
                          broken.failures().keySet().stream()
                              .filter(id -> !skippedHere(id))
                              .collect(Collectors.toSet());
                      Set<String> failed =
                          outcomes.entrySet().stream()
                              .filter(e -> e.getValue().status() == Status.FAILED)
                              .map(Map.Entry::getKey)
                              .collect(Collectors.toSet());
                      assertThat(failed)
                          .as(
                              broken.backend()
                                  + ": the cases that failed; reasons:\n"
                                  + reasons(outcomes))
                          .containsExactlyInAnyOrderElementsOf(expectedFailures);
                      assertThat(
                              broken.failures().keySet().stream()
                                  .map(TckSelfTest::caseById)
                                  .map(TckCase::rule))
                          .as(broken.backend() + ": a case of the rule it breaks fails")
                          .contains(broken.rule());
                      for (String id : expectedFailures) {
                        TckCase c = caseById(id);
                        String message = outcomes.get(id).message();
                        assertThat(message)
                            .as(
                                broken.backend()
                                    + " / "
                                    + id
                                    + ": the failure names the rule and links to it")
                            .startsWith(c.rule().label() + ", case " + id + ": ")
                            .contains("The rule: " + c.rule().link());
                        Pattern reason = broken.failures().get(id);
                        assertThat(message)
                            .as(broken.backend() + " / " + id + ": the reason")
                            .containsPattern(reason);
                        if (!TIMED_OUT_OR_CRASHED.matcher(reason.pattern()).find()) {
                          assertThat(message)
                              .as(
                                  broken.backend()
                                      + " / "
                                      + id
                                      + ": it failed for its reason, not by timing out or crashing")
                              .doesNotContainPattern(TIMED_OUT_OR_CRASHED);
                        }
                      }
                      for (Map.Entry<String, Outcome> outcome : outcomes.entrySet()) {
                        if (outcome.getValue().status() == Status.ABORTED) {
                          assertThat(allowedSkip(outcome.getKey(), outcome.getValue().message()))
                              .as(
                                  broken.backend()
                                      + " / "
                                      + outcome.getKey()
                                      + " was skipped: "
                                      + outcome.getValue().message())
                              .isTrue();
                        }
                      }
                      deleteCrashFiles(outcomes);
                    }));
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
                      EngineExecutionResults results = runTck(backend.name(), null);
                      results.containerEvents().assertStatistics(stats -> stats.failed(0));
                      Map<String, Outcome> outcomes = outcomes(results);
                      assertThat(outcomes.keySet())
                          .as(backend.name() + ": the cases that ran")
                          .containsExactlyInAnyOrderElementsOf(
                              WeaveTckTest.cases().stream().map(TckCase::id).toList());
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
    for (Broken broken : brokenBackends()) {
      broken.failures().keySet().forEach(TckSelfTest::caseById);
      assertThat(WeaveTckTest.selectedCases(broken.cases()))
          .as(broken.backend() + " runs cases")
          .isNotEmpty();
    }
    assertThat(brokenBackends().stream().map(Broken::rule).collect(Collectors.toSet()))
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
