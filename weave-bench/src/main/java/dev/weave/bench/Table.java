package dev.weave.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Turns JMH's {@code -rf json} output of this module into one Markdown table: every backend's
 * figure next to its baseline from the same run, the ratio, and the targets met (✓) or
 * missed (✗).
 *
 * <p>{@code java dev.weave.bench.Table jmh-result.json [table.md]} prints the table and, if a
 * second path is given, writes it there too.
 */
public final class Table {
  private static final String[] BACKENDS = {"ffm", "jnr", "jna"};
  private static final String PACKAGE = "dev.weave.bench.";
  private static final double[] NO_LIMITS = {Double.NaN, Double.NaN, Double.NaN};

  /** The targets, per backend (ffm, jnr, jna). */
  private static final double[] PLAIN_THREAD_SLOT = {1.5, 2.5, 2.5};

  private static final double[] WEAVE_THREAD_SLOT = {1.0, 2, 2};
  private static final double[] WEAVE_THREAD_LIFE = {1.15, 1.15, 1.15};

  /** Issue 20: a plain thread with one native destructor, under the native walker. */
  private static final double[] NATIVE_WALKER_LIFE = {1.15, 1.15, 1.15};

  private static final double[] ONLY_REGISTRATION_NANOS = {150, 150, 300};

  private final List<Map<String, Object>> results;
  private final StringBuilder out = new StringBuilder();

  private Table(List<Map<String, Object>> results) {
    this.results = results;
  }

  public static void main(String[] args) throws IOException {
    if (args.length < 1) {
      System.err.println("usage: Table jmh-result.json [table.md]");
      System.exit(2);
    }
    @SuppressWarnings("unchecked")
    List<Map<String, Object>> results =
        (List<Map<String, Object>>) Json.parse(Files.readString(Path.of(args[0])));
    String table = new Table(results).render();
    System.out.print(table);
    if (args.length > 1) {
      Files.writeString(Path.of(args[1]), table);
    }
  }

  private String render() {
    header();
    line("Wall-clock time, as JMH measures it:");
    line("");
    tableHead();
    perThreadValues(false);
    registerRows(false);
    double bare = score("LifecycleBaseline.bareThread");
    lifecycle(
        "thread: start, set a slot, die (0 destructors)",
        bare,
        NO_LIMITS,
        "LifecycleBench.threadLifecycle",
        "destructors",
        "0");
    for (String kind : new String[] {"native", "java"}) {
      for (String walker : new String[] {"native", "java"}) {
        lifecycle(
            "thread: start, 1 "
                + (kind.equals("native") ? "native" : "Java")
                + " destructor, die, destructor done; "
                + (walker.equals("native") ? "native" : "Java")
                + " walker",
            bare,
            kind.equals("native") && walker.equals("native") ? NATIVE_WALKER_LIFE : NO_LIMITS,
            "WalkerBench.threadWithOneDestructor",
            "walker",
            walker,
            "destructor",
            kind);
      }
    }
    lifecycle(
        "thread: start, 10 native destructors, die, all done",
        bare,
        NO_LIMITS,
        "LifecycleBench.threadLifecycle",
        "destructors",
        "10");
    lifecycle(
        "weave thread: start, 1 native destructor, task ends, destructor done, joined",
        bare,
        WEAVE_THREAD_LIFE,
        "WeaveThreadLifecycleBench.weaveThreadLifecycle",
        "destructor",
        "native");
    lifecycle(
        "weave thread: start, 1 Java destructor, task ends, destructor done, joined",
        bare,
        WEAVE_THREAD_LIFE,
        "WeaveThreadLifecycleBench.weaveThreadLifecycle",
        "destructor",
        "java");
    walkRow(false);
    absolute(
        "whole thread with 10,000 native destructors, per destructor",
        "ns",
        perBackend("WalkBench.threadWith10000Destructors"),
        NO_LIMITS);
    for (String slots : new String[] {"0", "1", "100"}) {
      double[] bytes = new double[BACKENDS.length];
      for (int i = 0; i < BACKENDS.length; i++) {
        Map<String, Object> result =
            find("MemoryBench.threadSettingSlots", "backend", BACKENDS[i], "slots", slots);
        bytes[i] = result == null ? Double.NaN : secondaryMean(result, "nativeBytesPerThread");
      }
      String what =
          slots.equals("0")
              ? "0 slots set (reads one)"
              : slots.equals("1") ? "1 slot set" : slots + " slots set";
      absolute("native bytes per thread, " + what, "B", bytes, NO_LIMITS);
    }
    line("");
    if (hasCpu()) {
      line(
          "CPU time per operation (the fork's, all threads; the walk: the dying thread's), which time spent");
      line("waiting for a CPU does not inflate:");
      line("");
      tableHead();
      perThreadValues(true);
      registerRows(true);
      walkRow(true);
      line("");
    }
    line(
        "Scores are JMH averages over the measured iterations (errors and raw data: `weave-bench/target/jmh-result.json`).");
    line(
        "Ratios divide each backend's figure by the baseline in the same row; ✓ / ✗: the issue's target met / missed.");
    line(
        "Thread rows: each fork also starts and joins bare threads, in blocks of "
            + LifecycleBench.BLOCK
            + " alternating with the measured ones, and the ratio is");
    line("to that paired figure; \"alone\" is `LifecycleBaseline.bareThread`, in its own fork.");
    String load = loadAverage();
    if (load != null) {
      line(
          "Load average (1, 5, 15 min) when the run ended: "
              + load
              + " on "
              + Runtime.getRuntime().availableProcessors()
              + " CPUs; the benchmark itself accounts for about 1.");
    }
    return out.toString();
  }

  private void tableHead() {
    line(
        "| benchmark | unit | ffm | jnr | jna | baseline (same run) | ffm ÷ base | jnr ÷ base | jna ÷ base | target |");
    line("|---|---|--:|--:|--:|---|--:|--:|--:|---|");
  }

  private void perThreadValues(boolean cpu) {
    double[] get = perBackend(cpu, "SlotBench.get");
    double[] set = perBackend(cpu, "SlotBench.set");
    compare(
        "`slot.get()`",
        "ns",
        get,
        "`ThreadLocal.get()`",
        score(cpu, "SlotBaseline.threadLocalGet"),
        PLAIN_THREAD_SLOT);
    compare(
        "`slot.get()`",
        "ns",
        get,
        "FFM `pthread_getspecific`",
        score(cpu, "SlotBaseline.pthreadGetspecific"),
        null);
    compare(
        "`slot.get()`",
        "ns",
        get,
        "FFM `pthread_getspecific`, critical",
        score(cpu, "SlotBaseline.pthreadGetspecificCritical"),
        null);
    compare(
        "`slot.set(v)`",
        "ns",
        set,
        "`ThreadLocal.set(v)`",
        score(cpu, "SlotBaseline.threadLocalSet"),
        PLAIN_THREAD_SLOT);
    compare(
        "`slot.set(v)`",
        "ns",
        set,
        "FFM `pthread_setspecific`",
        score(cpu, "SlotBaseline.pthreadSetspecific"),
        null);
    comparePerFork(
        "`slot.get()` on a weave thread",
        perBackend(cpu, "WeaveThreadSlotBench.get"),
        "`ThreadLocal.get()` on the same weave threads, per fork",
        perBackend(cpu, "WeaveThreadSlotBench.threadLocalGet"));
    comparePerFork(
        "`slot.set(v)` on a weave thread",
        perBackend(cpu, "WeaveThreadSlotBench.set"),
        "`ThreadLocal.set(v)` on the same weave threads, per fork",
        perBackend(cpu, "WeaveThreadSlotBench.threadLocalSet"));
  }

  /** A row whose baseline was measured in each backend's own fork. */
  private void comparePerFork(String what, double[] values, String baseline, double[] bases) {
    StringBuilder row = new StringBuilder("| " + what + " | ns | ");
    List<String> paired = new ArrayList<>();
    for (int i = 0; i < BACKENDS.length; i++) {
      row.append(number(values[i])).append(" | ");
      paired.add(number(bases[i]));
    }
    row.append(baseline).append(": ").append(String.join(" · ", paired)).append(" | ");
    List<String> targets = new ArrayList<>();
    for (int i = 0; i < BACKENDS.length; i++) {
      double ratio = values[i] / bases[i];
      row.append(ratio(ratio)).append(" | ");
      targets.add(
          BACKENDS[i]
              + " ≤ "
              + trim(WEAVE_THREAD_SLOT[i])
              + "× "
              + verdict(ratio <= WEAVE_THREAD_SLOT[i], ratio));
    }
    line(row.append(String.join(", ", targets)).append(" |").toString());
  }

  private void registerRows(boolean cpu) {
    absolute(
        "`register` + `unregister`, Java destructor, thread's only one",
        "ns",
        perBackend(cpu, "RegisterBench.registerUnregisterJava"),
        ONLY_REGISTRATION_NANOS);
    absolute(
        "`register` + `unregister`, native destructor, thread's only one",
        "ns",
        perBackend(cpu, "RegisterBench.registerUnregisterNative"),
        ONLY_REGISTRATION_NANOS);
    absolute(
        "`register` + `unregister`, Java destructor, thread holds another",
        "ns",
        perBackend(cpu, "RegisterBench.registerUnregisterJavaArmed"),
        NO_LIMITS);
    absolute(
        "`register` + `unregister`, native destructor, thread holds another",
        "ns",
        perBackend(cpu, "RegisterBench.registerUnregisterNativeArmed"),
        NO_LIMITS);
  }

  private void walkRow(boolean cpu) {
    double[] walk = new double[BACKENDS.length];
    for (int i = 0; i < BACKENDS.length; i++) {
      Map<String, Object> result =
          find("WalkBench.threadWith10000Destructors", "backend", BACKENDS[i]);
      walk[i] =
          result == null
              ? Double.NaN
              : secondarySum(result, cpu ? "walkCpuNanos" : "walkNanos")
                  / secondarySum(result, "walkedDestructors");
    }
    absolute(
        "walk at death, per native destructor (10,000 on one thread)",
        "ns",
        walk,
        new double[] {100, 100, 100});
  }

  private boolean hasCpu() {
    return results.stream().anyMatch(result -> !secondaryRaw(result, "cpu").isEmpty());
  }

  private void header() {
    Map<String, Object> any = results.isEmpty() ? Map.of() : results.get(0);
    String jdk =
        any.isEmpty()
            ? "?"
            : any.get("jdkVersion") + " (" + any.get("vmName") + " " + any.get("vmVersion") + ")";
    // The profile per benchmark class, most common first.
    Map<String, List<String>> classesByProfile = new java.util.LinkedHashMap<>();
    for (Map<String, Object> result : results) {
      String name = String.valueOf(result.get("benchmark")).replace(PACKAGE, "");
      String benchmarkClass = name.substring(0, name.indexOf('.'));
      List<String> classes =
          classesByProfile.computeIfAbsent(profile(result), k -> new ArrayList<>());
      if (!classes.contains(benchmarkClass)) {
        classes.add(benchmarkClass);
      }
    }
    List<String> profiles = new ArrayList<>(classesByProfile.keySet());
    profiles.sort((a, b) -> classesByProfile.get(b).size() - classesByProfile.get(a).size());
    List<String> described = new ArrayList<>();
    for (int i = 0; i < profiles.size(); i++) {
      described.add(
          i == 0
              ? profiles.get(i)
              : String.join(", ", classesByProfile.get(profiles.get(i))) + ": " + profiles.get(i));
    }
    line(
        "weave benchmarks, "
            + LocalDate.now()
            + ": "
            + cpu()
            + "; JDK "
            + jdk
            + "; JMH "
            + any.get("jmhVersion")
            + "; "
            + String.join("; ", described)
            + ".");
    line("");
  }

  private static String profile(Map<String, Object> result) {
    return String.format(
        Locale.ROOT,
        "%d fork(s), %d × %s warm-up, %d × %s measured",
        ((Double) result.get("forks")).intValue(),
        ((Double) result.get("warmupIterations")).intValue(),
        result.get("warmupTime"),
        ((Double) result.get("measurementIterations")).intValue(),
        result.get("measurementTime"));
  }

  /**
   * A row of per-backend figures against one baseline; {@code limits} per backend (NaN: none), or
   * null.
   */
  private void compare(
      String what, String unit, double[] values, String baseline, double base, double[] limits) {
    StringBuilder row = new StringBuilder("| " + what + " | " + unit + " | ");
    for (double value : values) {
      row.append(number(value)).append(" | ");
    }
    row.append(baseline).append(" ").append(number(base)).append(" | ");
    List<String> targets = new ArrayList<>();
    for (int i = 0; i < values.length; i++) {
      double ratio = values[i] / base;
      row.append(ratio(ratio)).append(" | ");
      if (limits != null && !Double.isNaN(limits[i])) {
        targets.add(
            BACKENDS[i] + " ≤ " + trim(limits[i]) + "× " + verdict(ratio <= limits[i], ratio));
      }
    }
    row.append(targets.isEmpty() ? "–" : String.join(", ", targets)).append(" |");
    line(row.toString());
  }

  /**
   * A thread-lifecycle row: each backend's fork also timed bare threads alternately with its own
   * (the {@code bareThread*} counters); ratios are to those, the figure JMH took alone is shown
   * too.
   */
  private void lifecycle(
      String what, double bareAlone, double[] limits, String benchmark, String... params) {
    StringBuilder row = new StringBuilder("| " + what + " | µs | ");
    double[] ratios = new double[BACKENDS.length];
    List<String> paired = new ArrayList<>();
    for (int i = 0; i < BACKENDS.length; i++) {
      String[] all =
          Stream.concat(Stream.of("backend", BACKENDS[i]), Stream.of(params))
              .toArray(String[]::new);
      Map<String, Object> result = find(benchmark, all);
      double value = result == null ? Double.NaN : primary(result);
      double bare =
          result == null
              ? Double.NaN
              : secondarySum(result, "bareThreadNanos")
                  / secondarySum(result, "bareThreads")
                  / 1000;
      ratios[i] = value / bare;
      paired.add(number(bare));
      row.append(number(value)).append(" | ");
    }
    row.append("bare `Thread` start + join, alternating in each fork: ")
        .append(String.join(" · ", paired))
        .append(" (alone: ")
        .append(number(bareAlone))
        .append(") | ");
    List<String> targets = new ArrayList<>();
    for (int i = 0; i < BACKENDS.length; i++) {
      row.append(ratio(ratios[i])).append(" | ");
      if (!Double.isNaN(limits[i])) {
        targets.add(
            BACKENDS[i]
                + " ≤ "
                + trim(limits[i])
                + "× "
                + verdict(ratios[i] <= limits[i], ratios[i]));
      }
    }
    line(row.append(targets.isEmpty() ? "–" : String.join(", ", targets)).append(" |").toString());
  }

  /** A row with no baseline; {@code limits} per backend in the row's unit (NaN: none). */
  private void absolute(String what, String unit, double[] values, double[] limits) {
    StringBuilder row = new StringBuilder("| " + what + " | " + unit + " | ");
    for (double value : values) {
      row.append(number(value)).append(" | ");
    }
    row.append("– | – | – | – | ");
    List<String> targets = new ArrayList<>();
    for (int i = 0; i < values.length; i++) {
      if (!Double.isNaN(limits[i])) {
        targets.add(
            BACKENDS[i]
                + " ≤ "
                + trim(limits[i])
                + " "
                + unit
                + " "
                + verdict(values[i] <= limits[i], values[i]));
      }
    }
    row.append(targets.isEmpty() ? "–" : String.join(", ", targets)).append(" |");
    line(row.toString());
  }

  private static String ratio(double ratio) {
    return Double.isNaN(ratio) ? "–" : String.format(Locale.ROOT, "%.2f×", ratio);
  }

  private static String verdict(boolean met, double value) {
    return Double.isNaN(value) ? "(no result)" : met ? "✓" : "✗";
  }

  private double[] perBackend(String benchmark, String... params) {
    return perBackend(false, benchmark, params);
  }

  /** Each backend's JMH score, or with {@code cpu} its {@link CpuTimeProfiler} figure. */
  private double[] perBackend(boolean cpu, String benchmark, String... params) {
    double[] values = new double[BACKENDS.length];
    for (int i = 0; i < BACKENDS.length; i++) {
      String[] all =
          Stream.concat(Stream.of("backend", BACKENDS[i]), Stream.of(params))
              .toArray(String[]::new);
      values[i] = value(cpu, find(benchmark, all));
    }
    return values;
  }

  private double score(String benchmark) {
    return score(false, benchmark);
  }

  private double score(boolean cpu, String benchmark) {
    return value(cpu, find(benchmark));
  }

  private static double value(boolean cpu, Map<String, Object> result) {
    if (result == null) {
      return Double.NaN;
    }
    return cpu ? secondaryMean(result, "cpu") : primary(result);
  }

  /**
   * The result of {@code benchmark} (class.method) whose params include the given name/value pairs.
   */
  private Map<String, Object> find(String benchmark, String... params) {
    for (Map<String, Object> result : results) {
      if (!(PACKAGE + benchmark).equals(result.get("benchmark"))) {
        continue;
      }
      @SuppressWarnings("unchecked")
      Map<String, Object> actual = (Map<String, Object>) result.getOrDefault("params", Map.of());
      boolean matches = true;
      for (int i = 0; i < params.length; i += 2) {
        matches &= params[i + 1].equals(actual.get(params[i]));
      }
      if (matches) {
        return result;
      }
    }
    return null;
  }

  @SuppressWarnings("unchecked")
  private static double primary(Map<String, Object> result) {
    Object score = ((Map<String, Object>) result.get("primaryMetric")).get("score");
    return score instanceof Double ? (Double) score : Double.NaN;
  }

  /**
   * JMH sums an {@code EVENTS} counter over the iterations in its score, so the raw per-iteration
   * values are read instead.
   */
  @SuppressWarnings("unchecked")
  private static List<Double> secondaryRaw(Map<String, Object> result, String name) {
    Map<String, Object> secondary =
        (Map<String, Object>) result.getOrDefault("secondaryMetrics", Map.of());
    Map<String, Object> metric = (Map<String, Object>) secondary.get(name);
    List<Double> values = new ArrayList<>();
    if (metric != null) {
      for (Object fork : (List<Object>) metric.get("rawData")) {
        for (Object value : (List<Object>) fork) {
          values.add((Double) value);
        }
      }
    }
    return values;
  }

  private static double secondarySum(Map<String, Object> result, String name) {
    List<Double> values = secondaryRaw(result, name);
    return values.isEmpty() ? Double.NaN : values.stream().mapToDouble(Double::doubleValue).sum();
  }

  private static double secondaryMean(Map<String, Object> result, String name) {
    return secondaryRaw(result, name).stream()
        .mapToDouble(Double::doubleValue)
        .average()
        .orElse(Double.NaN);
  }

  private static String number(double value) {
    if (Double.isNaN(value) || Double.isInfinite(value)) {
      return "n/a";
    }
    double magnitude = Math.abs(value);
    String format =
        magnitude >= 100 || value == Math.rint(value) ? "%.0f" : magnitude >= 10 ? "%.1f" : "%.2f";
    return String.format(Locale.ROOT, format, value);
  }

  private static String trim(double value) {
    return value == Math.rint(value) ? String.valueOf((long) value) : String.valueOf(value);
  }

  private static String cpu() {
    String model = "unknown CPU";
    try {
      for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
        if (line.startsWith("model name")) {
          model = line.substring(line.indexOf(':') + 1).trim();
          break;
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux, or not readable: keep "unknown CPU"
    }
    return model + " × " + Runtime.getRuntime().availableProcessors() + " CPUs";
  }

  /**
   * @return the 1, 5 and 15 minute load averages, or null where there is no {@code /proc/loadavg}
   */
  private static String loadAverage() {
    try {
      String[] fields = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
      return fields[0] + ", " + fields[1] + ", " + fields[2];
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  private void line(String text) {
    out.append(text).append('\n');
  }
}
