package dev.weave.spi;

import static org.junit.jupiter.api.Assertions.fail;

import dev.weave.spi.RaceScenarios.Scenario;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * Issue 11 §4: the engine under each race of {@link RaceScenarios}, for a budget of schedules each
 * (500, or {@value #SCHEDULES_PROPERTY}; 3,000 under {@code -Psoak}). A failure names the seed that
 * replays it: {@code -Dweave.interleave.seed=SEED -Dtest=InterleavingTest#method}.
 */
class InterleavingTest {
  /** Schedules per race. */
  static final String SCHEDULES_PROPERTY = "weave.interleave.schedules";

  private static final int SCHEDULES = Integer.getInteger(SCHEDULES_PROPERTY, 500);

  @Test
  void closeRacingADeathWalk(TestInfo test) {
    holds(RaceScenarios.closeRacingADeathWalk(), test);
  }

  @Test
  void closeRacingUnregisterAndABareDeath(TestInfo test) {
    holds(RaceScenarios.closeRacingUnregisterAndABareDeath(), test);
  }

  @Test
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
  void laterKeyDestructorRegistersAfterTheWalk(TestInfo test) {
    holds(RaceScenarios.laterKeyDestructorRegistersAfterTheWalk(), test);
  }

  @Test
  void runDestructorsRacingClose(TestInfo test) {
    holds(RaceScenarios.runDestructorsRacingClose(), test);
  }

  @Test
  void destructorsClosingEachOthersSlots(TestInfo test) {
    holds(RaceScenarios.destructorsClosingEachOthersSlots(), test);
  }

  @Test
  void cellRegistrationRacingClose(TestInfo test) {
    holds(RaceScenarios.cellRegistrationRacingClose(), test);
  }

  @Test
  void keyDestructorsAroundWeavesKeys(TestInfo test) {
    holds(RaceScenarios.keyDestructorsAroundWeavesKeys(), test);
  }

  @Test
  void closeRacingANativeDestructor(TestInfo test) {
    holds(RaceScenarios.closeRacingANativeDestructor(), test);
  }

  /** Each race against the engine with each walker, for the budget each. */
  private static void holds(Scenario scenario, TestInfo test) {
    for (Race.Subject subject :
        new Race.Subject[] {Race.Subject.engine(), Race.Subject.engineWithNativeWalker()}) {
      Exploration exploration =
          Exploration.explore(
              scenario, subject, SCHEDULES, report -> true, Exploration.runAlone(test));
      System.out.println(exploration.summary());
      if (exploration.failure != null) {
        fail(exploration.failure);
      }
    }
  }
}
