package dev.weave.spi;

import dev.weave.spi.RaceScenarios.Scenario;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.junit.jupiter.api.TestInfo;

/**
 * A scenario run against a subject under many schedules, one {@link Race} each, until one fails.
 * Schedule {@code i} has the seed {@code base + i}; the base is drawn for each run (so that CI
 * explores new schedules every time) unless {@value #BASE_PROPERTY} gives it.
 *
 * <p>{@value #SEED_PROPERTY} replays one schedule. A replay is exact unless a step woke an actor
 * blocked on a monitor or lock and the two then raced for a lock again (see {@link Interleaver});
 * so a replay runs the seed until it fails, at most {@value #REPLAY_ATTEMPTS} times, and prints the
 * schedule it ran.
 */
final class Exploration {
  /** Replays the one schedule with this seed. */
  static final String SEED_PROPERTY = "weave.interleave.seed";

  /** The first seed of a run, to repeat a whole run. */
  static final String BASE_PROPERTY = "weave.interleave.base";

  /** How many times a replayed seed runs, at most, until it fails again. */
  static final int REPLAY_ATTEMPTS = 20;

  final Scenario scenario;
  final Race.Subject subject;

  /** How many schedules ran. */
  int schedules;

  /** How many schedules failed in a way that was not sought. */
  int otherFailures;

  /** The report of the first failure, or null. */
  String failure;

  /** The first failure that was not sought, or null. */
  String firstOtherFailure;

  /** Each outcome seen, and in how many schedules. */
  final Map<String, Integer> outcomes = new TreeMap<>();

  private final long base;
  private final String replay;

  private Exploration(Scenario scenario, Race.Subject subject, long base, String replay) {
    this.scenario = scenario;
    this.subject = subject;
    this.base = base;
    this.replay = replay;
  }

  /**
   * Runs {@code scenario} under at most {@code budget} schedules (or replays the schedule of
   * {@value #SEED_PROPERTY}), until one fails with a report that {@code sought} accepts.
   *
   * @param replay how to run this exploration alone, e.g. {@code -Dtest=Class#method}
   */
  static Exploration explore(
      Scenario scenario,
      Race.Subject subject,
      int budget,
      Predicate<String> sought,
      String replay) {
    Long replayed = Long.getLong(SEED_PROPERTY);
    long base =
        replayed != null
            ? replayed
            : Long.getLong(BASE_PROPERTY, ThreadLocalRandom.current().nextLong());
    Exploration exploration = new Exploration(scenario, subject, base, replay);
    int runs = replayed != null ? REPLAY_ATTEMPTS : budget;
    String schedule = null;
    for (int i = 0; i < runs && exploration.failure == null; i++) {
      schedule = exploration.runSchedule(replayed != null ? replayed : base + i, sought);
    }
    if (replayed != null) {
      System.out.println(schedule);
    }
    return exploration;
  }

  /**
   * @return the Surefire option that runs {@code test} alone
   */
  static String runAlone(TestInfo test) {
    return "-Dtest="
        + test.getTestClass().orElseThrow().getSimpleName()
        + "#"
        + test.getTestMethod().orElseThrow().getName();
  }

  /**
   * @return the report of the schedule: what it showed, and every step
   */
  private String runSchedule(long seed, Predicate<String> sought) {
    schedules++;
    Race race = new Race(seed, subject, scenario.name);
    Supplier<String> outcome = scenario.setUp(race);
    List<String> problems = race.run();
    String observed = race.finished() ? outcome.get() : "(unfinished)";
    outcomes.merge(observed, 1, Integer::sum);
    if (scenario.whyAllowed(observed) == null) {
      problems.add(
          0,
          "outcome not allowed: "
              + observed
              + "\n allowed outcomes:\n"
              + scenario.describeAllowed());
    }
    String report = describe(seed, observed, problems) + "\n" + race.describeSchedule();
    if (problems.isEmpty()) {
      return report;
    }
    if (sought.test(report)) {
      failure = report;
    } else {
      otherFailures++;
      if (firstOtherFailure == null) {
        firstOtherFailure = report;
      }
    }
    return report;
  }

  private String describe(long seed, String observed, List<String> problems) {
    return scenario.name
        + ", against "
        + subject
        + ", schedule "
        + schedules
        + " (seed "
        + seed
        + "; replay: -D"
        + SEED_PROPERTY
        + "="
        + seed
        + " "
        + replay
        + ")\n"
        + "outcome: "
        + observed
        + "\n"
        + (problems.isEmpty() ? "no problem\n" : String.join("\n", problems) + "\n");
  }

  /** One line: what ran and what was seen. */
  String summary() {
    return scenario.name
        + " against "
        + subject
        + ": "
        + schedules
        + " schedule(s) from seed "
        + base
        + (failure != null ? ", FAILED at schedule " + schedules : "")
        + (otherFailures > 0 ? ", " + otherFailures + " other failure(s)" : "")
        + "; outcomes "
        + outcomes;
  }
}
