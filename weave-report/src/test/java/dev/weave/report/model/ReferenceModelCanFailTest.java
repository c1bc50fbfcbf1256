package dev.weave.report.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import dev.weave.Weave;
import java.util.regex.Pattern;
import org.junit.jupiter.api.parallel.ResourceLock;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.testkit.engine.EngineExecutionResults;
import org.junit.platform.testkit.engine.EngineTestKit;

/**
 * The reference model's property can fail: run by jqwik's own engine (through {@link
 * EngineTestKit}) on a broken backend whose fault generated programs can reach, it must fail, with
 * a counterexample.
 */
class ReferenceModelCanFailTest {
  @ParameterizedTest
  @ValueSource(strings = {"broken-reverse-order", "broken-unregister-drops-one", "broken-stale-value"})
  @ResourceLock("system properties")
  void failsOnABrokenBackend(String backend) {
    assumeTrue(Weave.backends().stream().anyMatch(b -> b.name().equals(backend) && b.available()), backend + " is unusable here");
    EngineExecutionResults results;
    System.setProperty(ReferenceModelTest.BACKEND_PROPERTY, Pattern.quote(backend));
    try {
      results = EngineTestKit.engine("jqwik")
          .selectors(selectClass(ReferenceModelTest.class))
          .configurationParameter("jqwik.tries.default", "300")
          .configurationParameter("jqwik.failures.after.default", "RANDOM_SEED")
          .configurationParameter("jqwik.database", "target/jqwik-database-can-fail")
          .execute();
    } finally {
      System.clearProperty(ReferenceModelTest.BACKEND_PROPERTY);
    }
    assertThat(results.testEvents().failed().count()).as(backend + ": failed properties").isEqualTo(1);
    Throwable failure = results.testEvents().failed().stream()
        .findFirst().orElseThrow()
        .getPayload(TestExecutionResult.class).orElseThrow()
        .getThrowable().orElseThrow();
    System.out.println(backend + ": the reference model's property failed as it must; " + firstLines(failure.getMessage(), 6));
    assertThat(failure.getMessage()).contains(backend + ":");
  }

  private static String firstLines(String text, int lines) {
    String[] all = String.valueOf(text).split("\\R");
    return String.join("\n  ", java.util.Arrays.copyOf(all, Math.min(lines, all.length)));
  }
}
