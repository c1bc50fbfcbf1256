package dev.weave.spi;

import java.util.EnumSet;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * What a test may change in an engine, through its package-private constructor; an engine made
 * through the public one uses {@link #NONE}. None of it is read on a fast path.
 */
final class Seam {
  /**
   * Old defects, each switched back on at one place, to prove the interleaving harness finds it.
   */
  enum Fault {
    /** Issue 11, defect 1: close() reads the owner words of a thread with no registration. */
    CLOSE_READS_UNARMED_CELLS,
    /** Issue 11, defect 2: a state stays in use after its walk at death freed its cells. */
    DEAD_STATE_STAYS_IN_USE,
    /** Issue 11, defect 4: a second close() returns while the first is still dropping. */
    SECOND_CLOSE_RETURNS_AT_ONCE,
    /** Issue 17, defect 3: close() waits for a destructor that waits for it. */
    CLOSE_WAITS_IN_A_CYCLE,
    /** Issue 17, defect 6: a registration through a cell's address is not tied to its slot. */
    CELL_REGISTRATION_UNTIED,
    /** Issue 17, defect 1: a state on a thread the JVM did not start is never checked stale. */
    STALE_STATES_UNCHECKED,
    /** Issue 20: close() does not wait for a native destructor the native walker runs. */
    CLOSE_IGNORES_A_NATIVE_RUN,
    /** Issue 20: a state the native walker walked at death stays in use in its attachment. */
    WALKED_STATE_STAYS_IN_USE
  }

  static final Seam NONE =
      new Seam(
          EnumSet.noneOf(Fault.class),
          Bindings::startedByJava,
          hook -> Runtime.getRuntime().addShutdownHook(hook));

  private final Set<Fault> faults;

  /** Whether the calling thread's {@link Thread} was started by Java (see {@link Bindings}). */
  final Predicate<Thread> startedByJava;

  /** {@link Runtime#addShutdownHook}. */
  final Consumer<Thread> addShutdownHook;

  Seam(Set<Fault> faults, Predicate<Thread> startedByJava, Consumer<Thread> addShutdownHook) {
    this.faults = EnumSet.noneOf(Fault.class);
    this.faults.addAll(faults);
    this.startedByJava = startedByJava;
    this.addShutdownHook = addShutdownHook;
  }

  boolean has(Fault fault) {
    return faults.contains(fault);
  }

  Seam with(Fault fault) {
    Set<Fault> more = EnumSet.noneOf(Fault.class);
    more.addAll(faults);
    more.add(fault);
    return new Seam(more, startedByJava, addShutdownHook);
  }

  Seam startedByJava(Predicate<Thread> classifier) {
    return new Seam(faults, classifier, addShutdownHook);
  }

  Seam addShutdownHook(Consumer<Thread> hooks) {
    return new Seam(faults, startedByJava, hooks);
  }
}
