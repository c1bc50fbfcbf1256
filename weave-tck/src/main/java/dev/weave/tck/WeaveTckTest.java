package dev.weave.tck;

import static org.junit.jupiter.api.Assumptions.abort;

import dev.weave.Backend;
import dev.weave.Weave;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.IntStream;
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
 * java.util.ServiceLoader} finds on the class path, as one container per backend. A backend that is
 * unusable on this JVM shows as one skipped test that gives the reason.
 *
 * <p>To test a backend of your own, put it and {@code dev.weave:weave-tck} on the test class path
 * and let the test engine find this class (with Maven Surefire: {@code dependenciesToScan}; its
 * name matches Surefire's default includes).
 *
 * <p>Each backend's cases run, one after another, in a child JVM of their own (see {@value
 * #ISOLATION}): a case that crashes the JVM fails with the signal and the faulting frame, and the
 * cases after it still run. A failure names the case's {@link Rule} and links to it in the
 * specification.
 *
 * <p>Settings, each read as a JUnit Platform configuration parameter where noted (falling back to
 * the system property of the same name), else as a system property: {@value #BACKEND_FILTER} and
 * {@value #CASE_FILTER} (configuration parameters), {@value #ISOLATION}, {@value #CRASH_DIRECTORY},
 * {@value #TIMEOUT_SECONDS} and {@value #EXIT_RUNS}.
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
   * whose id ({@link TckCase#id()}, such as {@code r03-unregister-per-thread}) contains a match are
   * run.
   */
  public static final String CASE_FILTER = "weave.tck.case";

  /**
   * System property: {@code jvm} (the default) runs each backend's cases in a child JVM, which a
   * crash does not take the run down with; {@code none} runs them in this JVM, where a crash ends
   * the run.
   */
  public static final String ISOLATION = "weave.tck.isolation";

  /**
   * System property: the directory in which each child JVM gets a directory of its own, kept only
   * if the child crashed (it then holds the {@code hs_err} file); the system's temporary directory
   * unless set.
   */
  public static final String CRASH_DIRECTORY = "weave.tck.crashDirectory";

  /**
   * System property: how many seconds a case waits for a thread's destructors (or another event)
   * before it fails; 20 unless set. A case in a child JVM may take ten times as long in all.
   */
  public static final String TIMEOUT_SECONDS = "weave.tck.timeoutSeconds";

  /**
   * System property: how many child JVMs each JVM-exit race of rule 10 runs; 3 unless set (30 in
   * weave's soak).
   */
  public static final String EXIT_RUNS = "weave.tck.exitRuns";

  /** The name of the test shown for a backend that is unusable here. */
  public static final String UNAVAILABLE = "backend is unusable here";

  /** Made by the test engine. */
  public WeaveTckTest() {}

  /**
   * @return every case of the TCK, in the order they run; their ids are unique
   */
  public static List<TckCase> cases() {
    List<TckCase> cases = new ArrayList<>(SeedCases.all());
    // in the order of the rules, as docs/SPEC.md has them
    cases.addAll(PerThreadCases.all());
    cases.addAll(OrderCases.all());
    cases.addAll(UnregisterCases.all());
    cases.addAll(WhereDestructorsRunCases.all());
    cases.addAll(CellLifetimeCases.all());
    cases.addAll(ThrowingDestructorCases.all());
    cases.addAll(RoundsCases.all());
    cases.addAll(LeakCases.all());
    cases.addAll(VirtualThreadCases.all());
    cases.addAll(ExitCases.all());
    cases.addAll(ClosingCases.all());
    cases.addAll(BadInputCases.all());
    cases.addAll(EarlyEndCases.all());
    cases.addAll(WeaveThreadCases.all());
    cases.addAll(CheckedModeCases.all());
    cases.addAll(OsExitCases.all());
    // last: it hands out every other backend's registry, which Weave.runDestructors() then runs
    cases.add(BadInputCases.otherBackendsSlot());
    Set<String> ids = new HashSet<>();
    for (TckCase c : cases) {
      if (!ids.add(c.id())) {
        throw new IllegalStateException("two TCK cases have the id " + c.id());
      }
    }
    return cases;
  }

  /**
   * @param casePattern a regular expression, or null or blank for every case
   * @return the cases whose id contains a match of {@code casePattern}, case-insensitive
   */
  public static List<TckCase> selectedCases(String casePattern) {
    Pattern filter = pattern(casePattern);
    return cases().stream().filter(c -> filter == null || filter.matcher(c.id()).find()).toList();
  }

  /**
   * @param backendPattern a regular expression, or null or blank for every backend
   * @return the discovered backends whose whole name matches {@code backendPattern},
   *     case-insensitive
   */
  public static List<Backend> selectedBackends(String backendPattern) {
    Pattern filter = pattern(backendPattern);
    return Weave.backends().stream()
        .filter(b -> filter == null || filter.matcher(b.name()).matches())
        .toList();
  }

  /**
   * @return whether cases run in child JVMs ({@value #ISOLATION} is {@code jvm} or unset)
   */
  public static boolean isolated() {
    String value = System.getProperty(ISOLATION, "jvm").trim().toLowerCase(Locale.ROOT);
    return switch (value) {
      case "jvm", "" -> true;
      case "none" -> false;
      default ->
          throw new IllegalArgumentException(ISOLATION + " is '" + value + "': use jvm or none");
    };
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
          Stream.of(
              DynamicTest.dynamicTest(UNAVAILABLE, () -> abort(backend.unavailabilityReason()))));
    }
    BackendRun run = new BackendRun(backend.name(), isolated());
    return DynamicContainer.dynamicContainer(
        backend.name(),
        IntStream.range(0, cases.size())
            .mapToObj(
                i ->
                    DynamicTest.dynamicTest(
                        cases.get(i).displayName(),
                        () -> {
                          try {
                            run.run(cases.get(i));
                          } finally {
                            if (i == cases.size() - 1) {
                              run.close();
                            }
                          }
                        })));
  }

  /**
   * One backend's cases, in this JVM or in a child JVM that is replaced when a case crashes it; one
   * case at a time, even where the JUnit Platform runs tests in parallel.
   */
  static final class BackendRun implements AutoCloseable {
    private final String backend;
    private final boolean isolated;
    private ChildJvm child;

    BackendRun(String backend, boolean isolated) {
      this.backend = backend;
      this.isolated = isolated;
    }

    synchronized void run(TckCase c) throws Throwable {
      if (!isolated) {
        InProcess.prepare();
        CaseExecution.execute(c, Weave.registry(backend));
        return;
      }
      if (child == null || !child.isAlive()) {
        child = ChildJvm.start(backend);
      }
      child.run(c);
    }

    @Override
    public synchronized void close() {
      if (child != null) {
        child.close();
        child = null;
      }
    }
  }

  /** What a child JVM gets from its environment, done once in this JVM when cases run here. */
  static final class InProcess {
    private static boolean prepared;

    static synchronized void prepare() {
      if (!prepared) {
        prepared = true;
        NativeFixtures.perturbFreedMemory();
      }
    }
  }

  private static Pattern pattern(String value) {
    return value == null || value.isBlank()
        ? null
        : Pattern.compile(value, Pattern.CASE_INSENSITIVE);
  }
}
