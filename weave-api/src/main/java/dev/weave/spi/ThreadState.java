package dev.weave.spi;

import dev.weave.Destructor;
import java.lang.System.Logger.Level;
import java.lang.invoke.VarHandle;

/**
 * One OS thread's weave state: its cells ({@link ThreadCells}, the other half of this object) and
 * its registrations, and the state machine of {@code weave-api/LIFECYCLE.md}: UNARMED, ARMED,
 * WALKING, DEAD. Each transition is one method here ({@link #arm}, {@link #disarm}, {@link #walk},
 * {@link #die}) and nothing else changes {@link #status}.
 *
 * <p>{@code chunks}, {@link #record}, {@link #status} and {@link #currentRound} are written by the
 * owner thread under this monitor, and read by it freely; a closing thread reads them only under
 * this monitor, and reads none of the thread's cells ({@link #drop}): only its {@link Record},
 * which the engine alone frees, under this monitor.
 */
final class ThreadState extends ThreadCells {
  /** The backend whose destructors the calling thread is running, if any. */
  static final ThreadLocal<String> RUNNING_DESTRUCTORS = new ThreadLocal<>();

  private static final System.Logger LOG = System.getLogger("dev.weave");

  /** A thread state's place in the lifecycle of {@code LIFECYCLE.md}. */
  enum Status {
    /** No registration; the chunks are on the memory keys. */
    UNARMED,
    /**
     * Registrations; the chunks are on the walker key alone, and the state is armed in a Ledger.
     */
    ARMED,
    /** As armed, while its own thread runs its registrations, at death or in runDestructors(). */
    WALKING,
    /**
     * Walked at death: chunks freed, out of the armed table; still bound to the attachment that
     * walked it, which starts a new state at its next call.
     */
    DEAD
  }

  private final String backend;

  /**
   * How many walks at death this OS thread has had, as far as the attachments this state was made
   * in know: glibc visits the walker key at most once a pass, so a state that counts {@link
   * Engine#MAX_ROUNDS} is past glibc's last pass. Owner thread.
   */
  int walksAtDeath;

  /**
   * Its OS thread's token, set on its first arm: what the thread's identity key holds ({@link
   * Ledger}). Guarded by the ledger's lock.
   */
  long token;

  /** While armed or walking: its place in the ledger's armed table. */
  private int armedIndex;

  /**
   * While armed or walking: the registrations, in native memory, whose address is the walker key's
   * value. Null while unarmed and once dead.
   */
  private Record record;

  Status status = Status.UNARMED;
  private int currentRound;

  /** The thread that runs a walk of this state's registrations now, if any. */
  private Thread walker;

  /**
   * Set by a close that dropped the last registration of this armed state: only the owner thread
   * can take its chunks off the walker key (pthread keys are per thread), at its next slow call.
   */
  private volatile boolean emptiedByClose;

  /** Owner thread: why the last disarm failed, to log once no lock is held. */
  private Throwable unreportedDisarmFailure;

  ThreadState(String backend, Ledger ledger, NativePrimitives primitives, boolean cellViews) {
    super(ledger, primitives, cellViews);
    this.backend = backend;
  }

  @Override
  boolean chunksOnMemoryKeys() {
    return status == Status.UNARMED;
  }

  /**
   * Owner thread: whether the calling attachment may go on using this state. A dead one's chunks
   * are freed; an unarmed one bound to an attachment the JVM did not start is stale once glibc has
   * taken one of its chunks off its memory key, at the thread's OS exit (rule 15).
   */
  boolean usableHere() {
    if (status == Status.DEAD) {
      return ledger.seam.has(Seam.Fault.DEAD_STATE_STAYS_IN_USE);
    }
    if (status != Status.UNARMED) {
      return !uncached() || !walkedByNativeWalker();
    }
    return !uncached() || ledger.seam.has(Seam.Fault.STALE_STATES_UNCHECKED) || chunksOnTheirKeys();
  }

  /**
   * Owner thread, in an attachment the JVM did not start: whether the native walker has walked this
   * armed state at death, with no Java running (and so freed its chunks), or the engine has buried
   * it since. A thread started by Java runs no Java in its own attachment after its key destructors
   * began, so a cached state never asks.
   */
  private boolean walkedByNativeWalker() {
    if (ledger.nativeWalker == null || ledger.seam.has(Seam.Fault.WALKED_STATE_STAYS_IN_USE)) {
      return false;
    }
    synchronized (this) {
      return status == Status.DEAD || (record != null && record.status() == Record.WALKED);
    }
  }

  /**
   * Owner thread: whether glibc has run its last destructor pass for this thread (four walks at
   * death), so that a registration could never run. The native walker counts this OS thread's walks
   * itself; the Java one only as far as the attachments this state was made in know. Only a thread
   * the JVM did not start can be in its OS exit here.
   */
  boolean pastTheLastPass() {
    if (status != Status.UNARMED) {
      return false;
    }
    long walks = walksAtDeath;
    if (ledger.nativeWalker != null && uncached()) {
      walks = Math.max(walks, ledger.nativeWalker.walksAtDeath());
    }
    return walks >= Engine.MAX_ROUNDS;
  }

  /**
   * Owner thread, under this monitor. {@code slot}, if any, is checked open again where a close
   * would miss it.
   */
  void add(long variable, Destructor destructor, long function, Slot slot) {
    assert Thread.holdsLock(this);
    int round = status == Status.WALKING ? currentRound + 1 : 0;
    if (status == Status.UNARMED) {
      arm(slot);
    }
    record.add(variable, destructor, function, round, slot, status == Status.ARMED);
  }

  /** Owner thread, under this monitor. */
  boolean remove(long variable) {
    assert Thread.holdsLock(this);
    if (record == null) {
      return false;
    }
    boolean removed = record.remove(variable);
    if (record.live() == 0 && status == Status.ARMED && disarmsWhenEmpty()) {
      disarm();
    }
    return removed;
  }

  /**
   * Whether an armed state with nothing left to run goes back to UNARMED. With the Java walker it
   * must: a walk at death attaches the thread to the JVM, even to find nothing. The native walker
   * walks an empty record in C, for about what a disarm costs now (a block freed, the chunks back
   * on their keys), so the state stays armed and the thread's next registration arms nothing.
   */
  private boolean disarmsWhenEmpty() {
    return ledger.nativeWalkerConfig() == 0;
  }

  /** UNARMED to ARMED, on the owner thread under this monitor. */
  private void arm(Slot slot) {
    assert Thread.holdsLock(this);
    Record fresh = Record.allocate(primitives, ledger.nativeWalkerConfig(), cellViews);
    try {
      armedIndex = ledger.arm(this, slot, fresh);
    } catch (RuntimeException | Error e) {
      fresh.free();
      throw e;
    }
    record = fresh;
    for (int chunk = 0; chunk < Chunks.MAX_CHUNKS; chunk++) {
      if (chunks[chunk] != 0) {
        record.chunk(chunk, chunks[chunk]);
      }
    }
    putChunksOnMemoryKeys(false); // setting NULL cannot fail
    status = Status.ARMED;
  }

  @Override
  void chunkAllocated(int chunk, long address) {
    if (record != null) {
      record.chunk(chunk, address);
    }
  }

  /**
   * ARMED to UNARMED, on the owner thread under this monitor: it dies at bare cost again. If a
   * memory key cannot take its chunk back, the state stays armed (the walk will free the chunks)
   * and {@link #reportDisarmFailure()} logs why.
   */
  private void disarm() {
    assert Thread.holdsLock(this);
    try {
      putChunksOnMemoryKeys(true);
    } catch (RuntimeException | Error e) {
      putChunksOnMemoryKeys(false);
      unreportedDisarmFailure = e;
      return;
    }
    ledger.disarm(armedIndex);
    record.free();
    record = null;
    status = Status.UNARMED;
  }

  /** Owner thread, holding no lock: disarms a state whose registrations a close dropped. */
  void disarmIfDropped() {
    if (emptiedByClose) {
      synchronized (this) {
        emptiedByClose = false;
        if (status == Status.ARMED && record.live() == 0 && disarmsWhenEmpty()) {
          disarm();
        }
      }
      reportDisarmFailure();
    }
  }

  /** Owner thread, holding no lock. */
  void reportDisarmFailure() {
    Throwable failure = unreportedDisarmFailure;
    if (failure != null) {
      unreportedDisarmFailure = null;
      report(Level.DEBUG, "weave " + backend + ": a thread stays armed: " + failure, null);
    }
  }

  /**
   * @return whether this state holds a registration not run yet, or runs one now
   */
  synchronized boolean holdsRegistrations() {
    return record != null && (record.live() > 0 || record.running() != 0);
  }

  /**
   * A closing thread drops the registrations on {@code slot} here, made through it or through its
   * cell's address, and waits for one the walk has already taken, unless it is the walking thread,
   * or the walking thread waits for it ({@link CloseWaits}): when close() returns, none may start.
   * It reads no native memory: the chunks of a thread with no registration may be freed already, by
   * glibc at its death.
   */
  synchronized void drop(Slot slot) {
    if (ledger.seam.has(Seam.Fault.CLOSE_READS_UNARMED_CELLS)) {
      cellUncached(slot);
    }
    boolean interrupted = false;
    while (record != null) {
      if (record.drop(slot) && record.live() == 0 && status == Status.ARMED) {
        emptiedByClose = true;
      }
      // A walk publishes the entry it runs, then reads its flags again: the other half of this.
      VarHandle.fullFence();
      long running = record.running();
      Thread walking = walker;
      if (running == 0 || record.slotOf(running) != slot || walking == Thread.currentThread()) {
        break;
      }
      if (walking == null && ledger.seam.has(Seam.Fault.CLOSE_IGNORES_A_NATIVE_RUN)) {
        break;
      }
      if (!ledger.seam.has(Seam.Fault.CLOSE_WAITS_IN_A_CYCLE) && !CloseWaits.start(walking)) {
        break; // the walk waits for this thread: its destructor has begun, and would never end
      }
      try {
        if (walking == null) {
          wait(NATIVE_WALK_POLL_MILLIS); // the native walker runs a C destructor: none notifies
        } else {
          wait();
        }
      } catch (InterruptedException e) {
        interrupted = true;
      } finally {
        CloseWaits.stop();
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * How long a closer waits before it looks again at a native destructor the native walker runs: C
   * cannot notify a Java monitor.
   */
  static final long NATIVE_WALK_POLL_MILLIS = 1;

  /**
   * The native walker's call into Java, on the dying thread: runs the Java destructor it is at (it
   * has published it as running and seen it not dropped), or reports the registrations it dropped
   * past the last round. Holding no lock.
   */
  void calledByNativeWalker() {
    Registration entry;
    long dropped = 0;
    synchronized (this) {
      if (record == null) {
        return;
      }
      if (status == Status.ARMED) {
        status = Status.WALKING; // from here on a registration goes to the next round
      }
      if (record.call() == Record.CALL_REPORT) {
        entry = null;
        dropped = record.droppedPastLastRound();
      } else {
        entry = record.runningJavaEntry();
        if (entry == null) {
          return;
        }
        currentRound = entry.round;
        walker = Thread.currentThread();
      }
    }
    if (entry == null) {
      reportDroppedPastLastRound(dropped);
      return;
    }
    RUNNING_DESTRUCTORS.set(backend);
    try {
      run(entry);
    } finally {
      RUNNING_DESTRUCTORS.remove();
      synchronized (this) {
        walker = null;
        finishedRunning();
      }
    }
  }

  /**
   * ARMED or WALKING to DEAD, on any thread holding no lock: the native walker walked this state at
   * death and has let go of its record. Its chunks are freed (by the walk, or here in checked mode,
   * which must see it); the cell cache is left alone: no attachment with the cache on runs Java
   * after its thread's key destructors began.
   */
  void bury() {
    synchronized (this) {
      if (record == null) {
        return;
      }
      status = Status.DEAD;
      ledger.leave(armedIndex);
      record.free();
      record = null;
      for (int chunk = 0; chunk < Chunks.MAX_CHUNKS; chunk++) {
        if (chunks[chunk] != 0 && !ledger.nativeWalker.freesChunks) {
          primitives.free(chunks[chunk]);
        }
        chunks[chunk] = 0;
        views[chunk] = null;
      }
      notifyAll(); // closers that poll
    }
  }

  /**
   * Runs every registration on the calling thread, its own, in order, for at most {@link
   * Engine#MAX_ROUNDS} rounds (contract rules 2, 5, 6, 7). At death the state then dies; on a live
   * thread (rule 13) every cell is set to 0 and the thread is unarmed.
   */
  void walk(boolean atDeath) {
    int dropped = 0;
    RUNNING_DESTRUCTORS.set(backend);
    try {
      synchronized (this) {
        if (status == Status.ARMED) {
          status = Status.WALKING;
        }
        walker = Thread.currentThread();
      }
      while (true) {
        Registration next;
        synchronized (this) {
          finishedRunning();
          next = record == null ? null : record.take();
          if (next == null) {
            break;
          }
          currentRound = next.round;
        }
        if (next.round >= Engine.MAX_ROUNDS) {
          dropped++;
        } else {
          run(next);
        }
      }
    } finally {
      RUNNING_DESTRUCTORS.remove();
      synchronized (this) {
        finishedRunning();
        walker = null;
        if (atDeath) {
          die();
        } else {
          zeroCells();
          if (status == Status.WALKING) {
            status = Status.ARMED;
            if (record.live() == 0) {
              disarm();
            }
          }
        }
      }
    }
    reportDisarmFailure();
    reportDroppedPastLastRound(dropped);
  }

  private void reportDroppedPastLastRound(long dropped) {
    if (dropped > 0) {
      report(
          Level.WARNING,
          "weave "
              + backend
              + ": dropped "
              + dropped
              + " destructor(s) registered during the last of "
              + Engine.MAX_ROUNDS
              + " rounds",
          null);
    }
  }

  /** Under this monitor: wakes closers waiting for the registration that ran. */
  private void finishedRunning() {
    assert Thread.holdsLock(this);
    if (record != null && record.running() != 0) {
      record.finishedRunning();
      notifyAll();
    }
  }

  private void run(Registration registration) {
    if (registration.slot != null && registration.slot.closed) {
      return; // dropped: its close has begun, and will wait for none but a running one
    }
    try {
      long value = primitives.getWord(registration.variable);
      if (registration.destructor != null) {
        registration.destructor.destroy(value);
      } else {
        primitives.callDestructor(registration.function, value);
      }
    } catch (Throwable t) {
      report(Level.WARNING, "weave " + backend + ": a destructor threw; the others still run", t);
    }
  }

  /** WALKING to DEAD, on the dying thread under this monitor: nothing may use the chunks after. */
  private void die() {
    assert Thread.holdsLock(this);
    status = Status.DEAD;
    if (record != null) {
      ledger.leave(armedIndex);
      record.free();
      record = null;
    }
    freeChunks();
  }

  /** Logs, and never throws: a failing logger must not stop a walk (rule 6). */
  static void report(Level level, String message, Throwable thrown) {
    try {
      LOG.log(level, message, thrown);
    } catch (Throwable ignored) {
      // nothing better can be done
    }
  }
}
