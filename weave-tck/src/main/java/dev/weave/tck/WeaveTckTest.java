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
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * The weave TCK: every case of the contract, run against every backend that {@link
 * java.util.ServiceLoader} finds on the class path, as one container per backend. A backend that
 * is unusable on this JVM shows as one skipped test that gives the reason.
 *
 * <p>To test a backend of your own, put it and {@code dev.weave:weave-tck} on the test class path
 * and let the test engine find this class (with Maven Surefire: {@code dependenciesToScan}; its name matches Surefire's default includes).
 *
 * <p>Two filters narrow a run. Each is read as a JUnit Platform configuration parameter, which falls
 * back to the system property of the same name: {@value #BACKEND_FILTER} and {@value #CASE_FILTER}.
 */
@ExtendWith(WeaveTckTest.FiltersResolver.class)
public class WeaveTckTest {
  /**
   * Configuration parameter or system property: a regular expression, case-insensitive; only
   * backends whose whole name matches it are tested.
   */
  public static final String BACKEND_FILTER = "weave.tck.backend";

  /**
   * Configuration parameter or system property: a regular expression, case-insensitive; only cases
   * whose name contains a match are run.
   */
  public static final String CASE_FILTER = "weave.tck.case";

  /** The name of the test shown for a backend that is unusable here. */
  public static final String UNAVAILABLE = "backend is unusable here";

  /** Made by the test engine. */
  public WeaveTckTest() {}

  /** @return every case of the TCK, in the order they run */
  public static List<TckCase> cases() {
    List<TckCase> cases = new ArrayList<>(SeedCases.all());
    cases.addAll(ContractCases.all());
    return cases;
  }

  /** @return the cases whose name the {@value #CASE_FILTER} system property finds, or all of them */
  public static List<TckCase> selectedCases() {
    return selectedCases(System.getProperty(CASE_FILTER));
  }

  /**
   * @param casePattern a regular expression, or null or blank for every case
   * @return the cases whose name contains a match of {@code casePattern}, case-insensitive
   */
  public static List<TckCase> selectedCases(String casePattern) {
    Pattern filter = pattern(casePattern);
    return cases().stream().filter(c -> filter == null || filter.matcher(c.name()).find()).toList();
  }

  /** @return the discovered backends whose name the {@value #BACKEND_FILTER} system property matches */
  public static List<Backend> selectedBackends() {
    return selectedBackends(System.getProperty(BACKEND_FILTER));
  }

  /**
   * @param backendPattern a regular expression, or null or blank for every backend
   * @return the discovered backends whose whole name matches {@code backendPattern}, case-insensitive
   */
  public static List<Backend> selectedBackends(String backendPattern) {
    Pattern filter = pattern(backendPattern);
    return Weave.backends().stream().filter(b -> filter == null || filter.matcher(b.name()).matches()).toList();
  }

  @TestFactory
  Stream<DynamicNode> weaveTck(Filters filters) {
    List<TckCase> cases = selectedCases(filters.cases());
    return selectedBackends(filters.backends()).stream().map(backend -> container(backend, cases));
  }

  /**
   * The run's filters, as the JUnit Platform hands them over: configuration parameters first, then
   * system properties.
   *
   * @param backends the {@value #BACKEND_FILTER} pattern, or null
   * @param cases the {@value #CASE_FILTER} pattern, or null
   */
  public record Filters(String backends, String cases) {}

  /** Resolves {@link Filters} from the configuration parameters of the run. */
  static final class FiltersResolver implements ParameterResolver {
    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
      return parameter.getParameter().getType() == Filters.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
      return new Filters(
          context.getConfigurationParameter(BACKEND_FILTER).orElse(null),
          context.getConfigurationParameter(CASE_FILTER).orElse(null));
    }
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

  private static Pattern pattern(String value) {
    return value == null || value.isBlank() ? null : Pattern.compile(value, Pattern.CASE_INSENSITIVE);
  }
}
