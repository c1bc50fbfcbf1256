package dev.weave.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import dev.weave.spi.RaceScenarios.Scenario;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * The interleaving harness proves it can fail: the engine with each old defect switched back on
 * ({@link Seam.Fault}), and over broken primitives, must be caught, by the fault it has, within a
 * budget of schedules (1,000, or {@value #BUDGET_PROPERTY}; each search stops at its first catch,
 * and prints how many it needed); and the harness itself copes with monitors, waits and deadlocks.
 */
class InterleavingSelfTest {
  /** Schedules a search may take to catch its fault. */
  static final String BUDGET_PROPERTY = "weave.interleave.budget";

  private static final int BUDGET = Integer.getInteger(BUDGET_PROPERTY, 1_000);

  /** Checked mode logs each violation it counts; here they are expected, and in each report. */
  private static final Logger WEAVE_LOG = Logger.getLogger("dev.weave");

  private static Level weaveLogLevel;

  @BeforeAll
  static void quietViolations() {
    weaveLogLevel = WEAVE_LOG.getLevel();
    WEAVE_LOG.setLevel(Level.OFF);
  }

  @AfterAll
  static void restoreLogging() {
    WEAVE_LOG.setLevel(weaveLogLevel);
  }

  /**
   * It shows only when close's copy of the armed states, the owner's disarm and its bare death fall
   * between two of close's reads: about one schedule in 150, so this search gets three budgets.
   */
  @Test
  void catchesACloseThatReadsTheCellsOfAThreadWithNoRegistration(TestInfo test) {
    catches(
        RaceScenarios.closeRacingUnregisterAndABareDeath(),
        Race.Subject.engineWith(Seam.Fault.CLOSE_READS_UNARMED_CELLS),
        readOfFreedMemoryBy("closer"),
        3 * BUDGET,
        test);
  }

  @Test
  void catchesADeadStateStillInUse(TestInfo test) {
    catches(
        RaceScenarios.laterKeyDestructorRegistersAfterTheWalk(),
        Race.Subject.engineWith(Seam.Fault.DEAD_STATE_STAYS_IN_USE),
        readOfFreedMemoryBy("attached"), // the later key destructor's set, on the dead state
        test);
  }

  @Test
  void catchesASecondCloseThatReturnsAtOnce(TestInfo test) {
    catches(
        RaceScenarios.twoClosesRacingADeathWalk(),
        Race.Subject.engineWith(Seam.Fault.SECOND_CLOSE_RETURNS_AT_ONCE),
        Pattern.quote("after a close returned while an earlier close was still closing"),
        test);
  }

  @Test
  void catchesACloseThatWaitsForADestructorWaitingForIt(TestInfo test) {
    catches(
        RaceScenarios.destructorsClosingEachOthersSlots(),
        Race.Subject.engineWith(Seam.Fault.CLOSE_WAITS_IN_A_CYCLE),
        "deadlock: no actor can run",
        test);
  }

  @Test
  void catchesACellRegistrationThatOutlivesItsSlot(TestInfo test) {
    catches(
        RaceScenarios.cellRegistrationRacingClose(),
        Race.Subject.engineWith(Seam.Fault.CELL_REGISTRATION_UNTIED),
        Pattern.quote("outcome not allowed: registered; native [d1(42)]"),
        test);
  }

  @Test
  void catchesAStateUsedAfterGlibcFreedItsCells(TestInfo test) {
    catches(
        RaceScenarios.keyDestructorsAroundWeavesKeys(),
        Race.Subject.engineWith(Seam.Fault.STALE_STATES_UNCHECKED),
        readOfFreedMemoryBy("attached"), // the key destructor after weave's, on the stale state
        test);
  }

  @Test
  void catchesACloseThatDoesNotWaitForANativeDestructorTheNativeWalkerRuns(TestInfo test) {
    catches(
        RaceScenarios.closeRacingANativeDestructor(),
        Race.Subject.engineWithNativeWalkerAnd(Seam.Fault.CLOSE_IGNORES_A_NATIVE_RUN),
        Pattern.quote("d1(5) after close returned"),
        test);
  }

  @Test
  void catchesAStateTheNativeWalkerWalkedStillInUse(TestInfo test) {
    catches(
        RaceScenarios.laterKeyDestructorRegistersAfterTheWalk(),
        Race.Subject.engineWithNativeWalkerAnd(Seam.Fault.WALKED_STATE_STAYS_IN_USE),
        Pattern.quote("late(0)"), // its set went to the walked state's cell, its register not
        test);
  }

  @Test
  void catchesPrimitivesThatFreeEveryBlockTwice(TestInfo test) {
    catches(
        RaceScenarios.closeRacingADeathWalk(),
        Race.Subject.engineOver(
            "the engine over primitives that free twice", BrokenPrimitives::freeingTwice),
        "checked mode: double free",
        test);
  }

  @Test
  void catchesPrimitivesThatFreeCellsBeforeTheLastDestructor(TestInfo test) {
    catches(
        RaceScenarios.closeRacingADeathWalk(),
        Race.Subject.engineOver(
            "the engine over primitives that free cells at the first native destructor",
            BrokenPrimitives::freeingCellsAtTheFirstNativeDestructor),
        readOfFreedMemoryBy(
            "owner dies"), // the walk, reading the cell of the owner's next destructor
        test);
  }

  /**
   * A violation of checked mode: a read of freed memory by {@code actor} (the end of its thread's
   * name).
   */
  private static String readOfFreedMemoryBy(String actor) {
    return "checked mode: read of freed memory.*(\n .*)*?\n  this access by thread \"[^\"]* "
        + actor
        + "\":";
  }

  /**
   * Requires a schedule of {@code scenario} against {@code subject} whose report has {@code fault},
   * a regex.
   */
  private static void catches(
      Scenario scenario, Race.Subject subject, String fault, TestInfo test) {
    catches(scenario, subject, fault, BUDGET, test);
  }

  private static void catches(
      Scenario scenario, Race.Subject subject, String fault, int budget, TestInfo test) {
    Pattern shows = Pattern.compile(fault);
    Exploration exploration =
        Exploration.explore(
            scenario,
            subject,
            budget,
            report -> shows.matcher(report).find(),
            Exploration.runAlone(test));
    System.out.println(exploration.summary());
    if (exploration.failure == null) {
      fail(
          "no schedule of "
              + exploration.schedules
              + " showed \""
              + fault
              + "\" in "
              + scenario
              + " against "
              + subject
              + (exploration.firstOtherFailure == null
                  ? ""
                  : "; another failure did:\n" + exploration.firstOtherFailure));
    }
  }

  // The harness on its own, without an engine.

  @Test
  void anActorBlockedOnAMonitorIsNotRunnableAndTheOwnerGoesOn() {
    Object monitor = new Object();
    List<String> order = Collections.synchronizedList(new ArrayList<>());
    for (long seed = 0; seed < 20; seed++) {
      order.clear();
      Interleaver interleaver = new Interleaver(seed, "monitor ");
      for (String name : List.of("a", "b")) {
        interleaver.actor(
            name,
            () -> {
              synchronized (monitor) {
                order.add(name + " in");
                interleaver.point("inside", 0); // the other actor blocks on the monitor here
                order.add(name + " out");
              }
            });
      }
      interleaver.run(Duration.ofSeconds(20));
      assertThat(String.join(", ", order))
          .as("seed " + seed)
          .isIn("a in, a out, b in, b out", "b in, b out, a in, a out");
    }
  }

  @Test
  void anActorWaitingForALockIsNotRunnableAndTheHolderGoesOn() {
    ReentrantLock lock = new ReentrantLock();
    List<String> order = Collections.synchronizedList(new ArrayList<>());
    for (long seed = 0; seed < 20; seed++) {
      order.clear();
      Interleaver interleaver = new Interleaver(seed, "lock ");
      for (String name : List.of("a", "b")) {
        interleaver.actor(
            name,
            () -> {
              lock.lock();
              try {
                order.add(name + " in");
                interleaver.point("inside", 0); // the other actor parks on the lock here
                order.add(name + " out");
              } finally {
                lock.unlock();
              }
            });
      }
      interleaver.run(Duration.ofSeconds(20));
      assertThat(String.join(", ", order))
          .as("seed " + seed)
          .isIn("a in, a out, b in, b out", "b in, b out, a in, a out");
    }
  }

  @Test
  void anActorInObjectWaitIsNotRunnableUntilNotified() {
    Object monitor = new Object();
    boolean[] ready = new boolean[1];
    for (long seed = 0; seed < 20; seed++) {
      ready[0] = false;
      Interleaver interleaver = new Interleaver(seed, "wait ");
      interleaver.actor(
          "waiter",
          () -> {
            synchronized (monitor) {
              while (!ready[0]) {
                try {
                  monitor.wait();
                } catch (InterruptedException e) {
                  throw new AssertionError(e);
                }
              }
            }
            interleaver.point("after the wait", 0);
          });
      interleaver.actor(
          "notifier",
          () -> {
            interleaver.point("before notifying", 0);
            synchronized (monitor) {
              ready[0] = true;
              monitor.notifyAll();
            }
          });
      interleaver.run(
          Duration.ofSeconds(20)); // it would time out if a waiting actor counted as moving
      String trace = String.join("\n", interleaver.trace());
      assertThat(trace.indexOf("waiter, from after the wait"))
          .as("seed " + seed + ":\n" + trace)
          .isGreaterThan(trace.indexOf("notifier, from before notifying"));
    }
  }

  @Test
  void aDeadlockFailsWithEveryActorsStack() {
    Object first = new Object();
    Object second = new Object();
    Interleaver interleaver = findDeadlock(first, second);
    assertThat(interleaver)
        .as("some seed of 50 takes the locks in opposite orders at once")
        .isNotNull();
  }

  /**
   * Two actors take two monitors in opposite orders, with a point in between: some seed deadlocks.
   */
  private static Interleaver findDeadlock(Object first, Object second) {
    for (long seed = 0; seed < 50; seed++) {
      Interleaver interleaver = new Interleaver(seed, "deadlock " + seed + " ");
      interleaver.actor("ab", () -> nested(interleaver, first, second));
      interleaver.actor("ba", () -> nested(interleaver, second, first));
      try {
        interleaver.run(Duration.ofSeconds(20));
      } catch (AssertionError deadlock) {
        assertThat(deadlock.getMessage())
            .startsWith("deadlock: no actor can run")
            .contains("actor ab: RUNNING, thread BLOCKED on java.lang.Object@", "held by ba")
            .contains("actor ba: RUNNING, thread BLOCKED on java.lang.Object@", "held by ab")
            .contains(
                InterleavingSelfTest.class.getName() + ".nested("); // after "at ", a loader on 17
        return interleaver;
      }
    }
    return null;
  }

  private static void nested(Interleaver interleaver, Object outer, Object inner) {
    synchronized (outer) {
      interleaver.point("between the locks", 0);
      synchronized (inner) {
        interleaver.point("inside both", 0);
      }
    }
  }

  @Test
  void aScheduleReplaysFromItsSeed() {
    for (long seed = 0; seed < 20; seed++) {
      assertThat(schedule(seed)).as("seed " + seed).isEqualTo(schedule(seed));
    }
  }

  private static List<String> schedule(long seed) {
    Interleaver interleaver = new Interleaver(seed, "replay ");
    for (String name : List.of("a", "b", "c")) {
      interleaver.actor(
          name,
          () -> {
            for (int step = 0; step < 5; step++) {
              interleaver.point("step", step);
            }
          });
    }
    interleaver.run(Duration.ofSeconds(20));
    return interleaver.trace();
  }
}
