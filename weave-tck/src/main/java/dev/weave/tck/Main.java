package dev.weave.tck;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import dev.weave.Backend;
import dev.weave.Weave;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.EngineFilter;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.TestPlan;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.opentest4j.TestAbortedException;

/**
 * Runs the TCK on the JUnit Platform Launcher and prints, as it goes, a line when a backend's cases
 * start and one when they finish (counts and time); then a table: a row per case, a column per
 * backend, each cell {@code pass}, {@code FAIL} (with the case's time) or {@code skipped}, and
 * {@code unusable} for a backend that cannot load here. Under the table: why each unusable backend
 * is unusable, why each skipped case was skipped, each failure's reason (which names the rule and
 * links to it); the last line is {@code N passed, N failed}.
 *
 * <pre>
 * java -cp ... dev.weave.tck.Main [--backend NAME] [--case PATTERN]
 * </pre>
 *
 * {@code --backend} names one discovered backend; {@code --case} is a regular expression that a
 * case's id must contain (case-insensitive), such as {@code seed} or {@code ^r0[23]-}. Without
 * them, the {@value WeaveTckTest#BACKEND_FILTER} and {@value WeaveTckTest#CASE_FILTER} system
 * properties apply, if set.
 *
 * <p>Exit status: 0 when every case passed, 1 when any failed, 2 for bad arguments (one line on
 * standard error: an unknown option, an unknown or unusable backend, a pattern that matches no
 * case).
 */
public final class Main {
  private Main() {}

  public static void main(String[] args) {
    System.exit(run(args, System.out, System.err));
  }

  /**
   * Runs the TCK and prints its table to {@code out}; bad arguments get one line on {@code err}.
   *
   * @return the exit status: 0 when every case passed, 1 when any failed, 2 for bad arguments
   */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    String backendName = null;
    String casePattern = null;
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      String option = arg.contains("=") ? arg.substring(0, arg.indexOf('=')) : arg;
      if (option.equals("--backend") || option.equals("--case")) {
        String value;
        if (arg.contains("=")) {
          value = arg.substring(arg.indexOf('=') + 1);
        } else if (i + 1 < args.length) {
          value = args[++i];
        } else {
          value = null;
        }
        if (value == null || value.isBlank()) {
          err.println("weave-tck: " + option + " needs a value; " + USAGE);
          return 2;
        }
        if (option.equals("--backend")) {
          backendName = value;
        } else {
          casePattern = value;
        }
      } else if (arg.equals("--help") || arg.equals("-h")) {
        out.println(USAGE);
        return 0;
      } else {
        err.println("weave-tck: unknown argument '" + arg + "'; " + USAGE);
        return 2;
      }
    }
    List<Backend> found = Weave.backends();
    String backendPattern = System.getProperty(WeaveTckTest.BACKEND_FILTER);
    if (backendName != null) {
      String name = backendName;
      Optional<Backend> named = found.stream().filter(b -> b.name().equals(name)).findFirst();
      if (named.isEmpty()) {
        err.println("weave-tck: no backend named '" + name + "'; " + describe(found));
        return 2;
      }
      if (!named.get().available()) {
        err.println(
            "weave-tck: backend '"
                + name
                + "' is unusable here: "
                + oneLine(named.get().unavailabilityReason())
                + "; "
                + describe(found));
        return 2;
      }
      backendPattern = Pattern.quote(name);
    }
    if (casePattern == null) {
      casePattern = System.getProperty(WeaveTckTest.CASE_FILTER);
    }
    if (casePattern != null && !casePattern.isBlank()) {
      try {
        Pattern.compile(casePattern);
      } catch (PatternSyntaxException e) {
        err.println(
            "weave-tck: --case '"
                + casePattern
                + "' is not a regular expression: "
                + oneLine(e.getDescription()));
        return 2;
      }
      if (WeaveTckTest.selectedCases(casePattern).isEmpty()) {
        err.println(
            "weave-tck: no case id matches '"
                + casePattern
                + "'; list them with --case . and see the first column");
        return 2;
      }
    }
    List<Backend> backends;
    try {
      backends = WeaveTckTest.selectedBackends(backendPattern);
    } catch (PatternSyntaxException e) {
      err.println(
          "weave-tck: "
              + WeaveTckTest.BACKEND_FILTER
              + " '"
              + backendPattern
              + "' is not a regular expression: "
              + oneLine(e.getDescription()));
      return 2;
    }
    if (backends.isEmpty()) {
      err.println("weave-tck: no weave backend to test; " + describe(found));
      return 2;
    }
    Results results = new Results(out, backends, WeaveTckTest.selectedCases(casePattern).size());
    LauncherDiscoveryRequestBuilder request =
        LauncherDiscoveryRequestBuilder.request()
            .selectors(selectClass(WeaveTckTest.class))
            .filters(
                EngineFilter.includeEngines(
                    "junit-jupiter")); // not other engines on the class path
    if (backendPattern != null) {
      request.configurationParameter(WeaveTckTest.BACKEND_FILTER, backendPattern);
    }
    if (casePattern != null) {
      request.configurationParameter(WeaveTckTest.CASE_FILTER, casePattern);
    }
    Launcher launcher = LauncherFactory.create();
    launcher.execute(request.build(), results);
    return results.print(out, backends, WeaveTckTest.selectedCases(casePattern));
  }

  private static final String USAGE = "usage: dev.weave.tck.Main [--backend NAME] [--case PATTERN]";

  private static String describe(List<Backend> found) {
    if (found.isEmpty()) {
      return "no backend is on the class path: add dev.weave:weave-ffm, weave-jnr or weave-jna";
    }
    List<String> usable = new ArrayList<>();
    List<String> unusable = new ArrayList<>();
    for (Backend backend : found) {
      if (backend.available()) {
        usable.add(backend.name());
      } else {
        unusable.add(backend.name() + " (" + oneLine(backend.unavailabilityReason()) + ")");
      }
    }
    return "usable: "
        + (usable.isEmpty() ? "none" : String.join(", ", usable))
        + (unusable.isEmpty() ? "" : "; unusable: " + String.join("; ", unusable));
  }

  private static String oneLine(String text) {
    return String.valueOf(text).replaceAll("\\s*\\R\\s*", " ");
  }

  /** How a case ended on a backend, as its table cell shows it. */
  private enum Status {
    PASS("pass"),
    FAIL("FAIL"),
    SKIPPED("skipped");

    final String cell;

    Status(String cell) {
      this.cell = cell;
    }
  }

  /** A case's result on one backend. */
  private record Outcome(Status status, Duration time, String reason) {
    String cell() {
      return status == Status.SKIPPED ? status.cell : status.cell + " " + time.toMillis() + " ms";
    }
  }

  /** How many of some outcomes passed, failed and were skipped: the one place they are counted. */
  private static final class Counts {
    private final Map<Status, Integer> byStatus = new EnumMap<>(Status.class);

    void add(Status status) {
      byStatus.merge(status, 1, Integer::sum);
    }

    int of(Status status) {
      return byStatus.getOrDefault(status, 0);
    }

    int total() {
      return of(Status.PASS) + of(Status.FAIL) + of(Status.SKIPPED);
    }
  }

  private static final class Results implements TestExecutionListener {
    private final PrintStream progress;
    private final Map<String, Backend> backendsByName = new LinkedHashMap<>();
    private final int caseCount;
    private TestPlan plan;
    private final Map<String, Long> started = new LinkedHashMap<>();

    /** case name, then backend name. */
    private final Map<String, Map<String, Outcome>> table = new LinkedHashMap<>();

    private final Map<String, String> unusable = new LinkedHashMap<>();
    private final List<String> failures = new ArrayList<>();

    /** Failures outside any case, such as a backend's container that could not start. */
    private final List<String> containerFailures = new ArrayList<>();

    Results(PrintStream progress, List<Backend> backends, int caseCount) {
      this.progress = progress;
      backends.forEach(b -> backendsByName.put(b.name(), b));
      this.caseCount = caseCount;
    }

    @Override
    public void testPlanExecutionStarted(TestPlan testPlan) {
      plan = testPlan;
    }

    /** A backend's container: a dynamic container named after a selected backend. */
    private Backend backendOf(TestIdentifier identifier) {
      if (!identifier.isContainer() || !identifier.getUniqueId().contains("[dynamic-container:")) {
        return null;
      }
      return backendsByName.get(identifier.getDisplayName());
    }

    @Override
    public void dynamicTestRegistered(TestIdentifier identifier) {}

    @Override
    public void executionStarted(TestIdentifier identifier) {
      started.put(identifier.getUniqueId(), System.nanoTime());
      Backend backend = backendOf(identifier);
      if (backend != null && backend.available()) {
        String walker = backend.walker() == null ? "" : ", " + oneLine(backend.walker());
        progress.println(backend.name() + ": " + caseCount + " cases started" + walker);
        progress.flush();
      }
    }

    private void backendFinished(Backend backend, TestIdentifier identifier) {
      if (!backend.available()) {
        return;
      }
      Counts counts = new Counts();
      for (Map<String, Outcome> row : table.values()) {
        Outcome outcome = row.get(backend.name());
        if (outcome != null) {
          counts.add(outcome.status());
        }
      }
      Duration time =
          Duration.ofNanos(
              System.nanoTime()
                  - started.getOrDefault(identifier.getUniqueId(), System.nanoTime()));
      progress.printf(
          Locale.ROOT,
          "%s: %d cases finished in %.1f s: %d passed, %d failed, %d skipped%n",
          backend.name(),
          counts.total(),
          time.toMillis() / 1000.0,
          counts.of(Status.PASS),
          counts.of(Status.FAIL),
          counts.of(Status.SKIPPED));
      progress.flush();
    }

    @Override
    public void executionSkipped(TestIdentifier identifier, String reason) {
      record(identifier, Status.SKIPPED, Duration.ZERO, reason);
    }

    @Override
    public void executionFinished(TestIdentifier identifier, TestExecutionResult result) {
      Backend backend = backendOf(identifier);
      if (backend != null) {
        backendFinished(backend, identifier);
      }
      if (!identifier.isTest()) {
        if (result.getStatus() == TestExecutionResult.Status.FAILED) {
          containerFailures.add(
              identifier.getDisplayName()
                  + ":\n"
                  + indent(result.getThrowable().map(Results::reason).orElse("failed")));
        }
        return;
      }
      Duration time =
          Duration.ofNanos(
              System.nanoTime()
                  - started.getOrDefault(identifier.getUniqueId(), System.nanoTime()));
      String reason = result.getThrowable().map(Results::reason).orElse(null);
      switch (result.getStatus()) {
        case SUCCESSFUL -> record(identifier, Status.PASS, time, null);
        case ABORTED -> record(identifier, Status.SKIPPED, time, reason);
        case FAILED -> record(identifier, Status.FAIL, time, reason);
      }
    }

    private void record(TestIdentifier identifier, Status status, Duration time, String reason) {
      Optional<TestIdentifier> parent = plan.getParent(identifier);
      String backend = parent.map(TestIdentifier::getDisplayName).orElse("?");
      String name = identifier.getDisplayName();
      if (name.equals(WeaveTckTest.UNAVAILABLE)) {
        unusable.put(backend, reason);
        return;
      }
      table
          .computeIfAbsent(name, n -> new LinkedHashMap<>())
          .put(backend, new Outcome(status, time, reason));
      if (status == Status.FAIL) {
        failures.add(backend + " / " + name + ":\n" + indent(reason));
      }
    }

    /** An assertion's or an assumption's message says it all; anything else also needs its type. */
    private static String reason(Throwable t) {
      String message = t.getMessage();
      if (message != null && !message.isBlank()) {
        if (t instanceof TestAbortedException) {
          return message.replaceFirst("^Assumption failed: ", "");
        }
        if (t instanceof AssertionError) {
          return message;
        }
      }
      return t.toString();
    }

    private static String indent(String text) {
      return "    " + String.valueOf(text).replaceAll("\\R", "\n    ");
    }

    int print(PrintStream out, List<Backend> backends, List<TckCase> cases) {
      Map<String, Map<String, Outcome>> rows = new LinkedHashMap<>();
      for (TckCase selected : cases) {
        rows.put(selected.displayName(), table.getOrDefault(selected.displayName(), Map.of()));
      }
      if (!backendsByName.isEmpty()) {
        out.println();
      }
      int caseWidth = "case".length();
      for (String name : rows.keySet()) {
        caseWidth = Math.min(CASE_COLUMN, Math.max(caseWidth, name.length()));
      }
      int cellWidth = 14;
      StringBuilder header = new StringBuilder(pad("case", caseWidth));
      for (Backend backend : backends) {
        header.append(" | ").append(pad(backend.name(), cellWidth));
      }
      out.println(header);
      out.println("-".repeat(header.length()));
      Counts counts = new Counts();
      for (Map.Entry<String, Map<String, Outcome>> row : rows.entrySet()) {
        StringBuilder line = new StringBuilder(pad(abbreviate(row.getKey(), caseWidth), caseWidth));
        for (Backend backend : backends) {
          Outcome outcome = row.getValue().get(backend.name());
          String cell;
          if (outcome == null) {
            cell = unusable.containsKey(backend.name()) ? "unusable" : "-";
          } else {
            cell = outcome.cell();
            counts.add(outcome.status());
          }
          line.append(" | ").append(pad(cell, cellWidth));
        }
        out.println(line);
      }
      out.println();
      for (Backend backend : backends) {
        if (!backend.available()) {
          out.println(
              backend.name() + " is unusable here: " + oneLine(backend.unavailabilityReason()));
        }
      }
      for (Map.Entry<String, Map<String, Outcome>> row : table.entrySet()) {
        for (Map.Entry<String, Outcome> cell : row.getValue().entrySet()) {
          if (cell.getValue().status() == Status.SKIPPED) {
            out.println(
                "skipped "
                    + cell.getKey()
                    + " / "
                    + row.getKey()
                    + ": "
                    + oneLine(cell.getValue().reason()));
          }
        }
      }
      for (String failure : failures) {
        out.println("FAIL " + failure);
      }
      for (String failure : containerFailures) {
        out.println("FAIL " + failure);
      }
      containerFailures.forEach(failure -> counts.add(Status.FAIL));
      if (counts.of(Status.SKIPPED) > 0) {
        out.println(counts.of(Status.SKIPPED) + " skipped");
      }
      out.println(counts.of(Status.PASS) + " passed, " + counts.of(Status.FAIL) + " failed");
      return counts.of(Status.FAIL) > 0 ? 1 : 0;
    }

    /** The case column's widest: an id and the start of its title (docs/SPEC.md has them whole). */
    private static final int CASE_COLUMN = 100;

    private static String abbreviate(String text, int width) {
      return text.length() <= width ? text : text.substring(0, width - 3) + "...";
    }

    private static String pad(String text, int width) {
      return text.length() >= width ? text : text + " ".repeat(width - text.length());
    }
  }
}
