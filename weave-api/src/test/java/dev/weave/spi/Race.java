package dev.weave.spi;

import dev.weave.Destructor;
import dev.weave.ThreadLocalSlot;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.UnaryOperator;
import java.util.stream.Collectors;

/**
 * One schedule of one scenario: a fresh engine over {@link CheckedPrimitives} over {@link
 * SimulatedPrimitives}, whose every operation is a scheduling point of an {@link Interleaver}, and
 * the scenario's threads, each followed by its death (its key destructors run the way glibc runs
 * them, on a thread standing for the re-attached OS thread).
 */
final class Race {
  /** How long one schedule may take; a normal one takes milliseconds. */
  static final Duration TIMEOUT = Duration.ofSeconds(20);

  /**
   * What is under test: the engine, with the old defects its seam switches back on, and what (if
   * anything) sits between it and the checker.
   */
  static final class Subject {
    final String name;
    private final Seam seam;
    private final UnaryOperator<NativePrimitives> between;
    private final boolean nativeWalker;

    private Subject(
        String name, Seam seam, UnaryOperator<NativePrimitives> between, boolean nativeWalker) {
      this.name = name;
      this.seam = seam;
      this.between = between;
      this.nativeWalker = nativeWalker;
    }

    private Subject(String name, Seam seam, UnaryOperator<NativePrimitives> between) {
      this(name, seam, between, false);
    }

    /** The engine as it is, with its Java walker. */
    static Subject engine() {
      return new Subject("Engine", Seam.NONE, p -> p);
    }

    /** The engine with the native walker, played step by step ({@link SimulatedWalker}). */
    static Subject engineWithNativeWalker() {
      return new Subject("the engine with its native walker", Seam.NONE, p -> p, true);
    }

    /** The engine with {@code fault} switched back on. */
    static Subject engineWith(Seam.Fault fault) {
      return new Subject("the engine with " + fault, Seam.NONE.with(fault), p -> p);
    }

    /** The engine with its native walker and {@code fault} switched on. */
    static Subject engineWithNativeWalkerAnd(Seam.Fault fault) {
      return new Subject(
          "the engine with its native walker and " + fault, Seam.NONE.with(fault), p -> p, true);
    }

    /** The engine with {@code broken} primitives between it and the checker. */
    static Subject engineOver(String name, UnaryOperator<NativePrimitives> broken) {
      return new Subject(name, Seam.NONE, broken);
    }

    @Override
    public String toString() {
      return name;
    }
  }

  final SimulatedPrimitives simulation = new SimulatedPrimitives();
  final CheckedPrimitives checked = new CheckedPrimitives(simulation);
  final Engine registry;
  private final Interleaver interleaver;
  private final long baselineBlocks;
  private final List<Interleaver.Actor> deaths = new ArrayList<>();
  private final List<String> destructorRuns = Collections.synchronizedList(new ArrayList<>());

  /** Per close of the race's slot, in the order they began: whether it has returned. */
  private final List<Boolean> closes = new ArrayList<>();

  Race(long seed, Subject subject, String scenario) {
    interleaver = new Interleaver(seed, scenario + " #" + Long.toHexString(seed) + " ");
    if (subject.nativeWalker) {
      simulation.withNativeWalker();
    }
    registry =
        new Engine(
            "interleaved",
            subject.between.apply(checked),
            subject.seam.startedByJava(simulation::startedByJava));
    baselineBlocks = checked.liveBlocks();
    simulation.hook = interleaver::point;
  }

  /**
   * As {@link #thread}, for a thread created in C and attached to the JVM: its key destructors run
   * in the same attachment when it calls {@link SimulatedPrimitives#exitWhileAttached()}.
   */
  Interleaver.Actor threadAttachedFromNative(String name, Runnable body) {
    return thread(
        name,
        () -> {
          simulation.markAttachedFromNative(Thread.currentThread());
          body.run();
        });
  }

  /**
   * A thread of the scenario running {@code body}, then its death: an actor of its own that runs
   * the thread's key destructors once it has finished.
   *
   * @return the thread; {@link #deathOf} gives its death
   */
  Interleaver.Actor thread(String name, Runnable body) {
    Interleaver.Actor thread = interleaver.actor(name, body);
    Interleaver.Actor death =
        interleaver.actor(name + " dies", () -> simulation.dieOnCallingThread(thread.thread));
    deaths.add(death.after(thread));
    return thread;
  }

  /** The actor that runs {@code thread}'s death, to order it after others. */
  Interleaver.Actor deathOf(Interleaver.Actor thread) {
    for (Interleaver.Actor death : deaths) {
      if (death.name.equals(thread.name + " dies")) {
        return death;
      }
    }
    throw new IllegalArgumentException(thread + " is not a thread of this race");
  }

  /** From a thread of the scenario: lets the others run until {@code condition} holds. */
  void await(String what, BooleanSupplier condition) {
    interleaver.await(what, condition);
  }

  /**
   * From a thread of the scenario: a scheduling point of its own, where the engine has none (a real
   * thread may be preempted anywhere).
   */
  void point() {
    interleaver.await("a point of the scenario", null);
  }

  /** Closes {@code slot}, the one the race is about, noting when the close began and returned. */
  void close(ThreadLocalSlot slot) {
    int close;
    synchronized (closes) {
      close = closes.size();
      closes.add(Boolean.FALSE);
    }
    slot.close();
    synchronized (closes) {
      closes.set(close, Boolean.TRUE);
    }
  }

  /**
   * A destructor on the slot the race closes: it notes its run, with the value and when it started:
   * before any close returned; after one returned; or after one returned while a close that began
   * before it was still closing (a close that overtook another).
   */
  Destructor onClosedSlot(String name) {
    return value -> destructorRuns.add(name + "(" + value + ") " + whenAgainstTheCloses());
  }

  /**
   * Notes each call of the native destructor {@code function} as {@link #onClosedSlot} notes a Java
   * one, under {@code name}: for a native destructor on the slot the race closes.
   */
  void nativeOnClosedSlot(long function, String name) {
    simulation.nativeCallObserver =
        (called, value) -> {
          if (called == function) {
            destructorRuns.add(name + "(" + value + ") " + whenAgainstTheCloses());
          }
        };
  }

  private String whenAgainstTheCloses() {
    synchronized (closes) {
      int lastReturned = closes.lastIndexOf(Boolean.TRUE);
      return lastReturned < 0
          ? "before close returned"
          : closes.subList(0, lastReturned).contains(Boolean.FALSE)
              ? "after a close returned while an earlier close was still closing"
              : "after close returned";
    }
  }

  /** A destructor on a slot nobody closes: it notes its run and the value. */
  Destructor onOpenSlot(String name) {
    return value -> destructorRuns.add(name + "(" + value + ")");
  }

  /**
   * @return the destructors that ran, in order, or "none ran"
   */
  String destructorRuns() {
    synchronized (destructorRuns) {
      return destructorRuns.isEmpty() ? "none ran" : String.join(", ", destructorRuns);
    }
  }

  /**
   * @return whether every thread and death of the race ran to its end
   */
  boolean finished() {
    return interleaver.actors().stream().allMatch(Interleaver.Actor::finished);
  }

  /**
   * @return the destructors that ran, sorted, or "none ran": for those run on different threads
   */
  String destructorRunsInAnyOrder() {
    synchronized (destructorRuns) {
      return destructorRuns.isEmpty()
          ? "none ran"
          : destructorRuns.stream().sorted().collect(Collectors.joining(", "));
    }
  }

  /**
   * Runs the schedule and checks what every scenario requires: no thread failed, no violation of
   * checked mode, live blocks back to the baseline, no thread left with registrations.
   *
   * @return the problems, empty if none
   */
  List<String> run() {
    List<String> problems = new ArrayList<>();
    try {
      interleaver.run(TIMEOUT);
    } catch (AssertionError stuck) {
      problems.add(stuck.getMessage());
      return problems;
    } finally {
      simulation.hook = (operation, argument) -> {}; // a shutdown hook may still call it
    }
    for (Interleaver.Actor actor : actorsWithFailures()) {
      problems.add(actor.name + " threw " + stackTrace(actor.failure()));
    }
    for (String violation : checked.violations()) {
      problems.add("checked mode: " + violation);
    }
    for (String violation : simulation.violations()) {
      problems.add("simulation: " + violation);
    }
    long live = checked.liveBlocks();
    if (live != baselineBlocks) {
      problems.add(
          "live blocks: "
              + live
              + ", baseline "
              + baselineBlocks
              + "\n  "
              + String.join("\n  ", checked.describeLiveBlocks()));
    }
    int armed = registry.threadsWithRegistrations();
    if (armed != 0) {
      problems.add(armed + " thread(s) still have registrations after every thread died");
    }
    return problems;
  }

  private List<Interleaver.Actor> actorsWithFailures() {
    List<Interleaver.Actor> failed = new ArrayList<>();
    for (Interleaver.Actor actor : interleaver.actors()) {
      if (actor.failure() != null) {
        failed.add(actor);
      }
    }
    return failed;
  }

  /** The seed, the strategy and every step, for a failure report. */
  String describeSchedule() {
    List<String> trace = interleaver.trace();
    return "strategy: "
        + interleaver.strategy()
        + "\ntrace ("
        + trace.size()
        + " steps):\n"
        + String.join("\n", trace);
  }

  private static String stackTrace(Throwable t) {
    StringWriter text = new StringWriter();
    t.printStackTrace(new PrintWriter(text));
    return text.toString();
  }
}
