package dev.weave.tck;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import dev.weave.Backend;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.TestPlan;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

/**
 * Runs the TCK on the JUnit Platform and prints a table: a row per case, a column per backend.
 *
 * <pre>
 * java -cp ... dev.weave.tck.Main [--backend NAME] [--case PATTERN]
 * </pre>
 *
 * Exit status: 0 when every case passed, 1 when any failed, 2 for bad arguments.
 */
public final class Main {
  private Main() {}

  public static void main(String[] args) {
    System.exit(run(args, System.out, System.err));
  }

  /** @return the exit status */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    String backendName = null;
    String casePattern = null;
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      if ((arg.equals("--backend") || arg.equals("--case")) && i + 1 < args.length) {
        if (arg.equals("--backend")) {
          backendName = args[++i];
        } else {
          casePattern = args[++i];
        }
      } else if (arg.equals("--help") || arg.equals("-h")) {
        out.println("usage: dev.weave.tck.Main [--backend NAME] [--case PATTERN]");
        return 0;
      } else {
        err.println("weave-tck: unknown argument '" + arg + "'; usage: [--backend NAME] [--case PATTERN]");
        return 2;
      }
    }
    List<Backend> found = dev.weave.Weave.backends();
    if (backendName != null) {
      String name = backendName;
      if (found.stream().noneMatch(b -> b.name().equals(name))) {
        err.println("weave-tck: no backend named '" + name + "'; found: " + names(found));
        return 2;
      }
      System.setProperty(WeaveTckTest.BACKEND_FILTER, Pattern.quote(name));
    }
    if (casePattern != null) {
      try {
        Pattern.compile(casePattern);
      } catch (PatternSyntaxException e) {
        err.println("weave-tck: --case '" + casePattern + "' is not a regular expression: " + e.getDescription());
        return 2;
      }
      System.setProperty(WeaveTckTest.CASE_FILTER, casePattern);
      if (WeaveTckTest.selectedCases().isEmpty()) {
        err.println("weave-tck: no case matches '" + casePattern + "'");
        return 2;
      }
    }
    List<Backend> backends = WeaveTckTest.selectedBackends();
    if (backends.isEmpty()) {
      err.println("weave-tck: no weave backend on the class path; add dev.weave:weave-ffm, weave-jnr or weave-jna");
      return 2;
    }
    Results results = new Results();
    LauncherDiscoveryRequest request =
        LauncherDiscoveryRequestBuilder.request().selectors(selectClass(WeaveTckTest.class)).build();
    Launcher launcher = LauncherFactory.create();
    launcher.execute(request, results);
    return results.print(out, backends);
  }

  private static String names(List<Backend> backends) {
    if (backends.isEmpty()) {
      return "none";
    }
    List<String> names = new ArrayList<>();
    for (Backend backend : backends) {
      names.add(backend.name() + (backend.available() ? "" : " (unusable: " + backend.unavailabilityReason() + ")"));
    }
    return String.join(", ", names);
  }

  private record Outcome(String status, Duration time, String reason) {}

  private static final class Results implements TestExecutionListener {
    private TestPlan plan;
    private final Map<String, Long> started = new LinkedHashMap<>();
    /** case name, then backend name. */
    private final Map<String, Map<String, Outcome>> table = new LinkedHashMap<>();
    private final Map<String, String> unusable = new LinkedHashMap<>();
    private final List<String> failures = new ArrayList<>();

    @Override
    public void testPlanExecutionStarted(TestPlan testPlan) {
      plan = testPlan;
    }

    @Override
    public void dynamicTestRegistered(TestIdentifier identifier) {}

    @Override
    public void executionStarted(TestIdentifier identifier) {
      started.put(identifier.getUniqueId(), System.nanoTime());
    }

    @Override
    public void executionSkipped(TestIdentifier identifier, String reason) {
      record(identifier, "skipped", Duration.ZERO, reason);
    }

    @Override
    public void executionFinished(TestIdentifier identifier, TestExecutionResult result) {
      if (!identifier.isTest()) {
        result.getThrowable().ifPresent(t -> failures.add(identifier.getDisplayName() + ": " + t));
        return;
      }
      Duration time = Duration.ofNanos(System.nanoTime() - started.getOrDefault(identifier.getUniqueId(), System.nanoTime()));
      String reason = result.getThrowable().map(t -> String.valueOf(t.getMessage())).orElse(null);
      switch (result.getStatus()) {
        case SUCCESSFUL -> record(identifier, "pass", time, null);
        case ABORTED -> record(identifier, "skipped", time, reason);
        case FAILED -> record(identifier, "FAIL", time, reason);
      }
    }

    private void record(TestIdentifier identifier, String status, Duration time, String reason) {
      Optional<TestIdentifier> parent = plan.getParent(identifier);
      String backend = parent.map(TestIdentifier::getDisplayName).orElse("?");
      String name = identifier.getDisplayName();
      if (name.equals(WeaveTckTest.UNAVAILABLE)) {
        unusable.put(backend, reason);
        return;
      }
      table.computeIfAbsent(name, n -> new LinkedHashMap<>()).put(backend, new Outcome(status, time, reason));
      if (status.equals("FAIL")) {
        failures.add(backend + " / " + name + ":\n    " + reason);
      }
    }

    int print(PrintStream out, List<Backend> backends) {
      Map<String, Map<String, Outcome>> rows = new LinkedHashMap<>();
      for (TckCase selected : WeaveTckTest.selectedCases()) {
        rows.put(selected.name(), table.getOrDefault(selected.name(), Map.of()));
      }
      int caseWidth = "case".length();
      for (String name : rows.keySet()) {
        caseWidth = Math.max(caseWidth, name.length());
      }
      int cellWidth = 14;
      StringBuilder header = new StringBuilder(pad("case", caseWidth));
      for (Backend backend : backends) {
        header.append(" | ").append(pad(backend.name(), cellWidth));
      }
      out.println(header);
      out.println("-".repeat(header.length()));
      int passed = 0;
      int failed = 0;
      int skipped = 0;
      for (Map.Entry<String, Map<String, Outcome>> row : rows.entrySet()) {
        StringBuilder line = new StringBuilder(pad(row.getKey(), caseWidth));
        for (Backend backend : backends) {
          Outcome outcome = row.getValue().get(backend.name());
          String cell;
          if (outcome == null) {
            cell = unusable.containsKey(backend.name()) ? "unusable" : "-";
          } else {
            cell = outcome.status().equals("skipped") ? "skipped" : outcome.status() + " " + millis(outcome.time());
            switch (outcome.status()) {
              case "pass" -> passed++;
              case "FAIL" -> failed++;
              default -> skipped++;
            }
          }
          line.append(" | ").append(pad(cell, cellWidth));
        }
        out.println(line);
      }
      out.println();
      for (Backend backend : backends) {
        if (!backend.available()) {
          out.println(backend.name() + " is unusable here: " + backend.unavailabilityReason());
        }
      }
      for (Map.Entry<String, Map<String, Outcome>> row : table.entrySet()) {
        for (Map.Entry<String, Outcome> cell : row.getValue().entrySet()) {
          if (cell.getValue().status().equals("skipped")) {
            out.println("skipped " + cell.getKey() + " / " + row.getKey() + ": " + cell.getValue().reason());
          }
        }
      }
      for (String failure : failures) {
        out.println("FAIL " + failure);
      }
      if (!failures.isEmpty() && failed == 0) {
        failed = failures.size(); // a container that failed outside any case
      }
      out.println(passed + " passed, " + failed + " failed" + (skipped > 0 ? ", " + skipped + " skipped" : ""));
      return failed > 0 ? 1 : 0;
    }

    private static String millis(Duration time) {
      return time.toMillis() + " ms";
    }

    private static String pad(String text, int width) {
      return text.length() >= width ? text : text + " ".repeat(width - text.length());
    }
  }
}
