package dev.weave.tck;

import static org.junit.jupiter.api.Assumptions.abort;

import dev.weave.Backend;
import dev.weave.Weave;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The weave TCK: every case of the contract, run against every backend that {@link
 * java.util.ServiceLoader} finds on the class path, as one container per backend. A backend that
 * is unusable on this JVM shows as one skipped test that gives the reason.
 *
 * <p>To test a backend of your own, put it and {@code dev.weave:weave-tck} on the test class path
 * and let the test engine find this class (with Maven Surefire: {@code dependenciesToScan}; its name matches Surefire's default includes).
 */
public class WeaveTckTest {
  /** System property: a regular expression; only backends whose name matches it are tested. */
  public static final String BACKEND_FILTER = "weave.tck.backend";

  /** System property: a regular expression; only cases whose name contains a match are run. */
  public static final String CASE_FILTER = "weave.tck.case";

  /** The name of the test shown for a backend that is unusable here. */
  public static final String UNAVAILABLE = "backend is unusable here";

  /** @return every case of the TCK, in the order they run */
  public static List<TckCase> cases() {
    List<TckCase> cases = new ArrayList<>(SeedCases.all());
    cases.addAll(ContractCases.all());
    return cases;
  }

  /** @return the cases whose name the {@value #CASE_FILTER} pattern finds, or all of them */
  public static List<TckCase> selectedCases() {
    Pattern filter = pattern(CASE_FILTER);
    return cases().stream().filter(c -> filter == null || filter.matcher(c.name()).find()).toList();
  }

  /** @return the discovered backends whose name the {@value #BACKEND_FILTER} pattern matches */
  public static List<Backend> selectedBackends() {
    Pattern filter = pattern(BACKEND_FILTER);
    return Weave.backends().stream().filter(b -> filter == null || filter.matcher(b.name()).matches()).toList();
  }

  @TestFactory
  Stream<DynamicNode> weaveTck() {
    List<TckCase> cases = selectedCases();
    return selectedBackends().stream().map(backend -> container(backend, cases));
  }

  private static DynamicNode container(Backend backend, List<TckCase> cases) {
    if (!backend.available()) {
      return DynamicContainer.dynamicContainer(
          backend.name(),
          Stream.of(DynamicTest.dynamicTest(UNAVAILABLE, () -> abort(backend.unavailabilityReason()))));
    }
    return DynamicContainer.dynamicContainer(
        backend.name(),
        cases.stream()
            .map(c -> DynamicTest.dynamicTest(c.name(), () -> c.check().run(Weave.registry(backend.name())))));
  }

  private static Pattern pattern(String property) {
    String value = System.getProperty(property);
    return value == null || value.isBlank() ? null : Pattern.compile(value, Pattern.CASE_INSENSITIVE);
  }
}
