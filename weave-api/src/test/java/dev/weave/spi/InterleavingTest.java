package dev.weave.spi;

import static org.junit.jupiter.api.Assertions.fail;

import dev.weave.spi.RaceScenarios.Scenario;
import java.util.stream.Stream;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Issue 11 §4: the engine under each race of {@link RaceScenarios}, for a budget of schedules each
 * (500, or {@value #SCHEDULES_PROPERTY}; 3,000 under {@code -Psoak}). A failure names the seed that
 * replays it: {@code -Dweave.interleave.seed=SEED -Dtest=InterleavingTest#method}.
 */
class InterleavingTest {
  /** Schedules per race. */
  static final String SCHEDULES_PROPERTY = "weave.interleave.schedules";

  private static final int SCHEDULES = Integer.getInteger(SCHEDULES_PROPERTY, 500);

  /**
   * The engine lets a destructor start after {@code close()} of its slot returned: the walk takes a
   * registration off the list under the state's monitor, then reads its cell and calls it with no
   * lock held; a close in between finds nothing to drop, and returns. Seed -4419635201277071013 of
   * closeRacingADeathWalk shows it: the bystander's walk takes its registration and pauses before
   * getWord(cell) (step 25), the closer closes and returns (26-27), then bystander(9) runs (28).
   * To run the disabled races: {@code -Djunit.jupiter.conditions.deactivate=org.junit.*DisabledCondition}.
   */
  private static final String STARTS_AFTER_CLOSE =
      "engine defect: close() returns while a walk holds a registration on the slot that it has taken"
          + " off the list and not yet started (the contract: once close returned, none may start)";

  @Test
  @Disabled(STARTS_AFTER_CLOSE)
  void closeRacingADeathWalk(TestInfo test) {
    holds(RaceScenarios.closeRacingADeathWalk(), test);
  }

  @Test
  @Disabled(STARTS_AFTER_CLOSE)
  void closeRacingUnregisterAndABareDeath(TestInfo test) {
    holds(RaceScenarios.closeRacingUnregisterAndABareDeath(), test);
  }

  @Test
  @Disabled(STARTS_AFTER_CLOSE)
  void twoClosesRacingADeathWalk(TestInfo test) {
    holds(RaceScenarios.twoClosesRacingADeathWalk(), test);
  }

  @Test
  void getAndSetRacingCloseAndReuse(TestInfo test) {
    holds(RaceScenarios.getAndSetRacingCloseAndReuse(), test);
  }

  @Test
  void registerRacingClose(TestInfo test) {
    holds(RaceScenarios.registerRacingClose(), test);
  }

  @Test
  @Disabled(STARTS_AFTER_CLOSE)
  void laterKeyDestructorRegistersAfterTheWalk(TestInfo test) {
    holds(RaceScenarios.laterKeyDestructorRegistersAfterTheWalk(), test);
  }

  @Test
  @Disabled(STARTS_AFTER_CLOSE)
  void runDestructorsRacingClose(TestInfo test) {
    holds(RaceScenarios.runDestructorsRacingClose(), test);
  }

  static Stream<Scenario> racesWithStartsAfterClose() {
    return Stream.of(
        RaceScenarios.closeRacingADeathWalk(),
        RaceScenarios.closeRacingUnregisterAndABareDeath(),
        RaceScenarios.twoClosesRacingADeathWalk(),
        RaceScenarios.laterKeyDestructorRegistersAfterTheWalk(),
        RaceScenarios.runDestructorsRacingClose());
  }

  /**
   * Until the defect of the five disabled races is fixed: the same races, with that one outcome
   * counted as allowed, so that all else they check still runs (no violation, live blocks back to
   * the baseline, each destructor at most once, none after a close that overtook another).
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("racesWithStartsAfterClose")
  void racesApartFromStartsAfterClose(Scenario scenario, TestInfo test) {
    holds(scenario.ignoringStartsAfterClose(), test);
  }

  private static void holds(Scenario scenario, TestInfo test) {
    Exploration exploration =
        Exploration.explore(
            scenario, Race.Subject.engine(), SCHEDULES, report -> true, Exploration.runAlone(test));
    System.out.println(exploration.summary());
    if (exploration.failure != null) {
      fail(exploration.failure);
    }
  }
}
