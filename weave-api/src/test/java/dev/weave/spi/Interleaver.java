package dev.weave.spi;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.AbstractOwnableSynchronizer;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * A deterministic interleaving harness: runs a few threads (actors) one at a time, and at every
 * scheduling point chooses, from a seed, which runnable actor goes next. The points are {@link
 * #point} (wired to {@link SimulatedPrimitives#hook}, so every primitive operation is one), an
 * actor's start, and {@link #await}. One seed is one schedule: the choices depend only on the seed
 * and on which actors are runnable, which the harness decides only when none is moving.
 *
 * <p>The seed picks a strategy: a random walk (any runnable actor, uniformly), or PCT (Burckhardt
 * et al., "A Randomized Scheduler with Probabilistic Guarantees of Finding Bugs", ASPLOS 2010):
 * random priorities, the highest runnable actor runs, and at up to two random change points the
 * running actor drops below all others. PCT finds bugs that need a few preemptions at the right
 * places; the random walk finds those that need many small ones.
 *
 * <p>Code under test may block on a Java monitor, in {@code Object.wait} or on a {@code
 * java.util.concurrent} lock while another actor is paused at a point holding what it waits for.
 * Such an actor is not runnable: the harness sees it through {@link Thread#getState()} (and, for a
 * monitor, whose it is) and lets another actor run. If none can run, that is a deadlock: the run
 * fails with every actor's stack.
 *
 * <p>What does not replay exactly: when a step releases a monitor or lock that another actor was
 * blocked on (or notifies it), that actor runs on at once, alongside the step's own actor, until
 * both reach their next point; if the two then race for a lock again, either may win. Measured on
 * the races of {@link RaceScenarios} that have such handoffs: up to 8 in 100 schedules took another
 * path on replay. An exact replay there would need every lock to be a point: instrumented bytecode.
 */
final class Interleaver {
  /** The most steps one schedule may take: a scenario is a few threads and a few operations. */
  static final int MAX_STEPS = 5_000;

  /** How long nothing may move, no actor being runnable, before it is called a deadlock. */
  private static final Duration DEADLOCK_GRACE = Duration.ofMillis(500);

  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

  private final Strategy strategy;
  private final String threadPrefix;
  private final List<Actor> actors = new ArrayList<>();
  private final Map<Thread, Actor> byThread = new ConcurrentHashMap<>();
  private final List<String> trace = new ArrayList<>();
  private Thread controller;
  private volatile boolean aborted;

  /** Where an actor is, as the controller and the actor hand steps to each other. */
  private enum Phase {
    /** Paused at a scheduling point, waiting for its turn. */
    AT_POINT,
    /** Given its turn by the controller, not yet running it. */
    GRANTED,
    /** Running its step: until its next point, or blocked in the code under test. */
    RUNNING,
    /** Its body has returned or thrown. */
    FINISHED
  }

  /** Thrown at the points of an abandoned run, so that its actors unwind. */
  static final class Abandoned extends Error {
    Abandoned() {
      super("the interleaving run was abandoned", null, false, false);
    }
  }

  /** One thread of a scenario. */
  final class Actor {
    final String name;
    final Thread thread;
    private final Runnable body;
    private final List<Actor> predecessors = new ArrayList<>();
    private volatile Phase phase = Phase.AT_POINT;

    /** What it does next, for the trace. */
    private volatile String operation = "start";

    /** Null, or what must hold for it to be runnable. */
    private volatile BooleanSupplier until = this::predecessorsFinished;

    private volatile Throwable failure;

    private Actor(String name, Runnable body) {
      this.name = name;
      this.body = body;
      thread = new Thread(this::main, threadPrefix + name);
      thread.setDaemon(true); // an actor stuck in a deadlock must not keep the test JVM alive
    }

    /** This actor starts only after {@code others} have finished. Before {@link #run}. */
    Actor after(Actor... others) {
      predecessors.addAll(Arrays.asList(others));
      return this;
    }

    boolean finished() {
      return phase == Phase.FINISHED;
    }

    /**
     * @return what its body threw, other than an expected {@link Abandoned}; or null
     */
    Throwable failure() {
      return failure;
    }

    private boolean predecessorsFinished() {
      return predecessors.stream().allMatch(Actor::finished);
    }

    private void main() {
      try {
        awaitTurn();
        body.run();
      } catch (Abandoned abandoned) {
        // the run failed elsewhere; nothing to record
      } catch (Throwable t) {
        failure = t;
      } finally {
        phase = Phase.FINISHED;
        LockSupport.unpark(controller);
      }
    }

    private void pause(String next, BooleanSupplier condition) {
      operation = next;
      until = condition;
      phase = Phase.AT_POINT; // written last: the controller reads the two above after it
      LockSupport.unpark(controller);
      awaitTurn();
    }

    private void awaitTurn() {
      while (phase == Phase.AT_POINT && !aborted) {
        LockSupport.park(Interleaver.this);
      }
      if (aborted) {
        throw new Abandoned();
      }
      phase = Phase.RUNNING;
    }

    @Override
    public String toString() {
      return name;
    }
  }

  /**
   * @param seed the schedule
   * @param threadPrefix the start of each actor thread's name, for stack dumps
   */
  Interleaver(long seed, String threadPrefix) {
    this.threadPrefix = threadPrefix;
    SplittableRandom random = new SplittableRandom(seed);
    strategy = random.nextBoolean() ? new RandomWalk(random.split()) : new Pct(random.split());
  }

  /**
   * @return the strategy this seed chose, with its parameters
   */
  String strategy() {
    return strategy.toString();
  }

  /** Adds an actor. Before {@link #run}. */
  Actor actor(String name, Runnable body) {
    if (controller != null) {
      throw new IllegalStateException("actors are added before the run");
    }
    Actor actor = new Actor(name, body);
    actors.add(actor);
    byThread.put(actor.thread, actor);
    return actor;
  }

  /** A scheduling point: called before every primitive operation; on other threads, nothing. */
  void point(String operation, long argument) {
    Actor actor = byThread.get(Thread.currentThread());
    if (actor != null) {
      actor.pause(operation + "(0x" + Long.toHexString(argument) + ")", null);
    }
  }

  /**
   * From an actor: a scheduling point, where it lets the others run until {@code condition} holds
   * (evaluated between steps), or at once if it is null.
   */
  void await(String what, BooleanSupplier condition) {
    Actor actor = byThread.get(Thread.currentThread());
    if (actor == null) {
      throw new IllegalStateException("await is for actors of this run");
    }
    actor.pause("await " + what, condition);
  }

  /**
   * @return the actors, in the order they were added
   */
  List<Actor> actors() {
    return List.copyOf(actors);
  }

  /**
   * @return every step taken, in order: the actor, and the point it went on from (it ran from there
   *     to its next point)
   */
  List<String> trace() {
    return trace;
  }

  /**
   * Runs every actor to its end, one step at a time.
   *
   * @throws AssertionError on a deadlock, or if the run takes longer than {@code timeout} or {@link
   *     #MAX_STEPS}; the actors are then abandoned
   */
  void run(Duration timeout) {
    controller = Thread.currentThread();
    long deadline = System.nanoTime() + timeout.toNanos();
    for (Actor actor : actors) {
      actor.thread.start();
    }
    Actor previous = null;
    while (true) {
      settle(deadline);
      List<Actor> runnable = runnable();
      if (runnable.isEmpty()) {
        if (actors.stream().allMatch(Actor::finished)) {
          return;
        }
        awaitAnyMove(deadline);
        continue;
      }
      if (trace.size() == MAX_STEPS) {
        throw abandon("the schedule took more than " + MAX_STEPS + " steps");
      }
      Actor next = strategy.choose(runnable, trace.size(), previous);
      trace.add(String.format("%4d %s, from %s", trace.size(), next.name, next.operation));
      next.phase = Phase.GRANTED;
      LockSupport.unpark(next.thread);
      previous = next;
    }
  }

  /** The actors at a point whose condition holds, in the order they were added. */
  private List<Actor> runnable() {
    List<Actor> runnable = new ArrayList<>();
    for (Actor actor : actors) {
      BooleanSupplier until = actor.until;
      if (actor.phase == Phase.AT_POINT && (until == null || until.getAsBoolean())) {
        runnable.add(actor);
      }
    }
    return runnable;
  }

  /** Waits until no actor is moving: each is at a point, finished, or blocked by another. */
  private void settle(long deadline) {
    long pause = 1_000;
    while (actors.stream().anyMatch(this::moving)) {
      if (System.nanoTime() - deadline > 0) {
        throw abandon("the schedule did not finish in time");
      }
      LockSupport.parkNanos(this, pause); // an actor reaching a point unparks this at once
      pause = Math.min(2 * pause, 1_000_000);
    }
  }

  /**
   * No actor is runnable and some have not finished: a deadlock, unless one that seemed to wait
   * (notified, or handed a lock, by the last step, and not awake yet) moves soon, or has already
   * run to its next point or its end.
   */
  private void awaitAnyMove(long deadline) {
    long stuckSince = System.nanoTime();
    while (System.nanoTime() - stuckSince < DEADLOCK_GRACE.toNanos()) {
      if (actors.stream().anyMatch(this::moving)
          || !runnable().isEmpty()
          || actors.stream().allMatch(Actor::finished)) { // the last ones ran to their ends
        return;
      }
      LockSupport.parkNanos(this, 1_000_000);
    }
    throw abandon("deadlock: no actor can run");
  }

  private boolean moving(Actor actor) {
    switch (actor.phase) {
      case AT_POINT:
      case FINISHED:
        return false;
      case GRANTED:
        return true;
      default:
        return !blocked(actor);
    }
  }

  /** A running actor that cannot go on until another moves. */
  private boolean blocked(Actor actor) {
    if (actor.thread.getState() == Thread.State.RUNNABLE) {
      return false;
    }
    ThreadInfo info = THREADS.getThreadInfo(actor.thread.getId());
    if (info == null) {
      return false;
    }
    switch (info.getThreadState()) {
      case BLOCKED:
        return heldByAnActorThatWaits(info); // a monitor
      case WAITING:
      case TIMED_WAITING:
        if (LockSupport.getBlocker(actor.thread) instanceof AbstractOwnableSynchronizer) {
          return heldByAnActorThatWaits(info); // a java.util.concurrent lock
        }
        return true; // Object.wait, a join, a latch: until another actor signals it
      default:
        return false;
    }
  }

  /**
   * Whether the monitor or lock {@code info}'s thread waits for is held by an actor that is paused
   * or blocked itself. Free (its owner just released it) or held by a running actor, it is only a
   * moment's wait.
   */
  private boolean heldByAnActorThatWaits(ThreadInfo info) {
    Actor owner = actorOf(info.getLockOwnerId());
    if (owner == null) {
      return false;
    }
    Phase ownerPhase = owner.phase;
    return ownerPhase == Phase.AT_POINT
        || ownerPhase == Phase.RUNNING && owner.thread.getState() != Thread.State.RUNNABLE;
  }

  private Actor actorOf(long threadId) {
    for (Actor actor : actors) {
      if (actor.thread.getId() == threadId) {
        return actor;
      }
    }
    return null;
  }

  private AssertionError abandon(String problem) {
    String report = problem + "\n" + describeActors();
    aborted = true;
    for (Actor actor : actors) {
      LockSupport.unpark(actor.thread);
    }
    return new AssertionError(report);
  }

  /** Every actor: where it is, what it waits for, and its stack. */
  String describeActors() {
    StringBuilder text = new StringBuilder();
    for (Actor actor : actors) {
      text.append("  actor ").append(actor.name).append(": ").append(actor.phase);
      if (actor.phase == Phase.AT_POINT) {
        text.append(" before ").append(actor.operation);
        BooleanSupplier until = actor.until;
        text.append(until == null || until.getAsBoolean() ? "" : " (waiting for its condition)");
      }
      if (actor.phase == Phase.RUNNING || actor.phase == Phase.GRANTED) {
        ThreadInfo info = THREADS.getThreadInfo(actor.thread.getId());
        if (info != null) {
          text.append(", thread ").append(info.getThreadState());
          if (info.getLockName() != null) {
            text.append(" on ").append(info.getLockName());
          }
          Actor owner = actorOf(info.getLockOwnerId());
          if (owner != null) {
            text.append(" held by ").append(owner.name);
          }
        }
        for (StackTraceElement frame : actor.thread.getStackTrace()) {
          text.append("\n      at ").append(frame);
        }
      }
      text.append('\n');
    }
    return text.toString();
  }

  /** Which runnable actor takes the next step. */
  private interface Strategy {
    Actor choose(List<Actor> runnable, int step, Actor previous);
  }

  private static final class RandomWalk implements Strategy {
    private final SplittableRandom random;

    RandomWalk(SplittableRandom random) {
      this.random = random;
    }

    @Override
    public Actor choose(List<Actor> runnable, int step, Actor previous) {
      return runnable.get(random.nextInt(runnable.size()));
    }

    @Override
    public String toString() {
      return "random walk";
    }
  }

  /**
   * Probabilistic concurrency testing with depth 1 to 3: priorities are random (ties go to the
   * first actor seen), and at each of depth - 1 change points the actor that just ran drops to the
   * bottom. The change points are steps drawn below a horizon that is itself drawn, since how many
   * steps a race takes depends on its schedule.
   */
  private static final class Pct implements Strategy {
    private final SplittableRandom random;
    private final int[] changePoints;
    private final Map<Actor, Integer> priorities = new HashMap<>(); // the controller's alone
    private final int horizon;

    Pct(SplittableRandom random) {
      this.random = random;
      int depth = 1 + random.nextInt(3);
      horizon = random.nextInt(8, 120);
      changePoints = random.ints(depth - 1, 0, horizon).sorted().toArray();
    }

    @Override
    public Actor choose(List<Actor> runnable, int step, Actor previous) {
      for (int change = 0; change < changePoints.length; change++) {
        if (changePoints[change] == step && previous != null) {
          priorities.put(previous, -changePoints.length + change); // below every initial priority
        }
      }
      Actor best = null;
      for (Actor actor : runnable) {
        // Initial priorities are drawn when an actor is first seen, in actor order: reproducible.
        int priority = priorities.computeIfAbsent(actor, a -> random.nextInt(1 << 20));
        if (best == null || priority > priorities.get(best)) {
          best = actor;
        }
      }
      return best;
    }

    @Override
    public String toString() {
      return "PCT, change points " + Arrays.toString(changePoints) + " (horizon " + horizon + ")";
    }
  }
}
