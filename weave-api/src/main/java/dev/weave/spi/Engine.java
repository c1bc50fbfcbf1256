package dev.weave.spi;

import dev.weave.Destructor;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.WeaveThread;
import java.lang.System.Logger.Level;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The whole weave contract in pure Java, over a backend's {@link NativePrimitives}: slot cells, the
 * ordered registrations, the walk at thread death and on a live thread, rounds, closing, error
 * isolation and every argument check. A backend is a {@link NativePrimitives} plus {@code new
 * Engine(name, primitives)}.
 *
 * <p>Cells live in per-thread chunks of native memory that never move ({@link Chunks}). The pthread
 * keys, not the {@link Thread} object, say which chunks and registrations belong to an OS thread: a
 * native thread that detaches from the JVM and attaches again (a new {@code Thread}) finds its
 * cells and registrations where it left them. While a thread has no registration, each chunk is the
 * value of a pthread key whose destructor is libc {@code free}: the thread dies at bare cost. From
 * its first registration the chunks belong to the walker key instead, whose destructor runs the
 * registrations and only then frees the chunks, so cells outlive destructors.
 *
 * <p>The engine is four rooms, each a file read alone: this facade (which state a calling thread
 * gets: {@link #currentState()}, adoption, the walk at death; its refusals are in {@link
 * BadInput}); {@link ThreadState}, one OS thread's registrations and the state machine of {@code
 * weave-api/LIFECYCLE.md}, with {@link ThreadCells}, its memory; {@link Ledger}, what the engine's
 * private lock guards (the keys, the armed table, slot indices, shutdown); and {@link Slot}. Locks
 * are taken in one order: a slot's close, then a {@code ThreadState}'s monitor, then the ledger's
 * lock. Nothing synchronizes on the engine object itself, so user code that does cannot stall dying
 * threads.
 *
 * <p>Calls made during a thread's OS exit (contract rule 15), by other libraries' key destructors,
 * never touch memory glibc has freed: a state bound to an attachment the JVM did not start checks
 * that its chunks are still on their keys before each slow-path call, and has no fast path ({@link
 * Bindings}).
 *
 * <p>With the system property {@value #CHECKED_PROPERTY} set to {@code true} when it is made, an
 * engine runs its primitives through {@link CheckedPrimitives} (contract rule 14).
 */
public final class Engine implements DestructorRegistry {
  /** As glibc's {@code PTHREAD_DESTRUCTOR_ITERATIONS}. */
  public static final int MAX_ROUNDS = 4;

  /** The system property that turns on checked mode for engines made after it is set. */
  public static final String CHECKED_PROPERTY = "weave.checked";

  /** Every engine, to refuse a variable that is another engine's cell. */
  static final List<Engine> ENGINES = new CopyOnWriteArrayList<>();

  private final String name;

  private final NativePrimitives primitives;
  private final CheckedPrimitives checked;

  /** Whether {@link NativePrimitives#directBuffer} gives views of chunks. */
  private final boolean cellViews;

  private final Ledger ledger;

  /** Which walker runs this engine's walks at death, and why. */
  private final WalkerChoice walker;

  /** The native walker, or null for the Java walker ({@link #threadDied}). */
  private final NativeWalker nativeWalker;

  private final Seam seam;
  final Bindings bindings = new Bindings();

  private final AtomicLong nextSlotId = new AtomicLong(1);

  /**
   * @param name the backend's name, as {@link #backendName()} reports it
   * @param primitives the backend's native operations; a {@link CheckedPrimitives} makes this
   *     engine run checked whatever {@value #CHECKED_PROPERTY} says
   */
  public Engine(String name, NativePrimitives primitives) {
    this(name, primitives, Seam.NONE);
  }

  /** With what a test changes: see {@link Seam}. */
  Engine(String name, NativePrimitives primitives, Seam seam) {
    this.seam = Objects.requireNonNull(seam, "seam");
    this.name = Objects.requireNonNull(name, "name");
    Objects.requireNonNull(primitives, "primitives");
    if (primitives instanceof CheckedPrimitives) {
      checked = (CheckedPrimitives) primitives;
    } else if (Boolean.getBoolean(CHECKED_PROPERTY)) {
      checked = new CheckedPrimitives(primitives);
    } else {
      checked = null;
    }
    this.primitives = checked != null ? checked : primitives;
    cellViews = offersViews(this.primitives);
    NativePrimitives own = this.primitives;
    boolean runsChecked = checked != null;
    NativeWalker[] started = new NativeWalker[1];
    walker =
        WalkerLibrary.load(
            name,
            own,
            (library, loader) ->
                started[0] =
                    NativeWalker.start(
                        library, loader, own, this::nativeWalkerCalled, runsChecked));
    nativeWalker = started[0];
    ledger = new Ledger(name, this.primitives, this::threadDied, nativeWalker, seam);
    if (checked != null && nativeWalker != null) {
      checked.beforeCounting(this::reclaimWalked);
    }
    ENGINES.add(this);
  }

  private static boolean offersViews(NativePrimitives primitives) {
    long probe = primitives.allocateZeroed(2 * Long.BYTES);
    try {
      return primitives.directBuffer(probe, 2 * Long.BYTES) != null;
    } finally {
      primitives.free(probe);
    }
  }

  @Override
  public String backendName() {
    return name;
  }

  /**
   * @return which walker runs this engine's walks at death: the native one, or the Java one and why
   */
  public WalkerChoice walker() {
    return walker;
  }

  /**
   * @return the checker of this engine's native memory and keys, if it runs in checked mode
   */
  public Optional<CheckedPrimitives> checked() {
    return Optional.ofNullable(checked);
  }

  @Override
  public ThreadLocalSlot newSlot() {
    PlatformThreads.require();
    reclaimWalked();
    long id = nextSlotId.getAndIncrement();
    return ledger.openSlot(index -> new Slot(this, ledger, index, id));
  }

  @Override
  public void register(ThreadLocalSlot slot, Destructor destructor) {
    Slot own = BadInput.ownSlot(this, slot);
    Objects.requireNonNull(destructor, "destructor is null");
    own.requireOpen();
    ThreadState state = stateToRegisterOn();
    if (state == null) {
      return;
    }
    synchronized (state) {
      own.requireOpen();
      state.add(state.cellOrCreate(own), destructor, 0, own);
    }
  }

  @Override
  public void registerNative(ThreadLocalSlot slot, long function) {
    Slot own = BadInput.ownSlot(this, slot);
    BadInput.requireAddress(function, "function");
    own.requireOpen();
    ThreadState state = stateToRegisterOn();
    if (state == null) {
      return;
    }
    synchronized (state) {
      own.requireOpen();
      state.add(state.cellOrCreate(own), null, function, own);
    }
  }

  @Override
  public void registerNative(long variable, long function) {
    BadInput.requireVariable(variable);
    BadInput.requireAddress(function, "function");
    BadInput.refuseOtherEnginesCell(this, variable);
    ThreadState state = stateToRegisterOn();
    if (state == null) {
      return;
    }
    synchronized (state) {
      state.add(variable, null, function, slotOfCell(state, variable));
    }
  }

  /**
   * The calling thread's state, or null if the registration is dropped with a warning: glibc has
   * run its last destructor pass for this thread (rule 15), so it could never run, and nothing is
   * allocated for it.
   */
  private ThreadState stateToRegisterOn() {
    reclaimWalked();
    ThreadState state = currentState();
    if (!state.pastTheLastPass()) {
      return state;
    }
    ThreadState.report(
        Level.WARNING,
        "weave "
            + name
            + ": dropped a destructor registered on a dying thread after glibc's last destructor"
            + " pass ("
            + MAX_ROUNDS
            + " walks at death): it could never run",
        null);
    return null;
  }

  /**
   * The open slot whose cell on this thread {@code variable} is, so that closing it drops this
   * registration as one made through the slot (rule 11); or null for a plain variable. Owner
   * thread, under the state's monitor, as the slot form checks its slot open.
   *
   * @throws IllegalStateException if it is the cell of a closed slot
   * @throws IllegalArgumentException if it is in this thread's chunks but no open slot's cell
   */
  private Slot slotOfCell(ThreadState state, long variable) {
    int index = state.slotIndexAt(variable);
    if (index < 0 || seam.has(Seam.Fault.CELL_REGISTRATION_UNTIED)) {
      return null;
    }
    long owner = state.ownerAt(index);
    Slot slot = owner == 0 ? null : ledger.openSlotAt(index, owner);
    if (slot == null) {
      String where = "variable 0x" + Long.toHexString(variable) + " is ";
      if (owner != 0) {
        throw new IllegalStateException(
            where + "the cell of a closed slot of the " + name + " backend on this thread");
      }
      throw new IllegalArgumentException(
          where + "in the " + name + " backend's cells, but no slot has used it on this thread");
    }
    return slot;
  }

  @Override
  public boolean unregister(ThreadLocalSlot slot) {
    Slot own = BadInput.ownSlot(this, slot);
    own.requireOpen();
    ThreadState state = currentState();
    boolean removed;
    synchronized (state) {
      own.requireOpen();
      long cell = state.cellIfPresent(own);
      removed = cell != 0 && state.remove(cell);
    }
    state.reportDisarmFailure();
    return removed;
  }

  @Override
  public boolean unregister(long variable) {
    BadInput.requireVariable(variable);
    ThreadState state = currentState();
    boolean removed;
    synchronized (state) {
      removed = state.remove(variable);
    }
    state.reportDisarmFailure();
    return removed;
  }

  /**
   * Runs the calling thread's registrations now, on the live thread, as its death would (contract
   * rule 13), then sets every cell of the thread to 0. The thread may use weave again afterwards.
   *
   * @throws IllegalStateException on a virtual thread, or from a destructor
   */
  @Override
  public void runDestructors() {
    PlatformThreads.require();
    String running = ThreadState.RUNNING_DESTRUCTORS.get();
    if (running != null) {
      throw new IllegalStateException(
          "runDestructors() was called from a destructor of the "
              + running
              + " backend; it ends a thread's weave life and may only be called outside destructors");
    }
    if (stateIfPresent() == null && Thread.currentThread() instanceof WeaveThread) {
      return; // a WeaveThread never re-attaches: no state means it never used this engine
    }
    currentState()
        .walk(false); // kept even if empty: a pool thread's next task end finds it at once
  }

  /**
   * @return how many threads have registrations that have not run yet, the dying ones included
   */
  public int threadsWithRegistrations() {
    reclaimWalked();
    int count = 0;
    for (ThreadState state : ledger.armedStates()) {
      if (state.holdsRegistrations()) {
        count++;
      }
    }
    return count;
  }

  /**
   * Frees what the native walker has walked at death: each record's state dies here ({@link
   * ThreadState#bury}). Called holding no lock, at the engine's calls that may arm a thread, open
   * or close a slot, or count (so that counts see the dead as dead).
   */
  void reclaimWalked() {
    if (nativeWalker == null || !nativeWalker.hasWalked()) {
      return;
    }
    for (long record = nativeWalker.takeWalked(); record != 0; ) {
      long next = primitives.getWord(record + Record.NEXT_WALKED);
      ThreadState state = ledger.armedAt(record);
      if (state != null) {
        state.bury();
      }
      record = next;
    }
  }

  /**
   * The native walker's call into Java, on the dying thread, attached: runs the Java destructor it
   * is at with the thread's state bound (rule 4), or reports what it dropped. Never throws.
   */
  private void nativeWalkerCalled(long record) {
    try {
      ThreadState state = ledger.armedAt(record);
      if (state != null) {
        if (stateIfPresent() != state) {
          bindings.bind(state);
        }
        state.calledByNativeWalker();
      }
    } catch (Throwable t) {
      ThreadState.report(Level.ERROR, "weave " + name + ": the native walker's call failed", t);
    }
  }

  /**
   * @return this engine's primitives without the checker, for reading another engine's keys: they
   *     are not this engine's to check
   */
  NativePrimitives uncheckedPrimitives() {
    return checked != null ? checked.delegate() : primitives;
  }

  /**
   * Whether {@code address} is in one of this engine's chunks of the calling OS thread, found
   * through its pthread keys (the walker key names an armed state, each memory key holds a chunk)
   * rather than through the state bound to this attachment, which a thread that attached again does
   * not have. Another engine asks, and the keys are read through its primitives ({@code keys}),
   * unchecked: a call through this engine's FFI library could change a thread that never chose this
   * backend (after a JNA call, JNA's own key detaches the thread at its exit).
   */
  boolean isCellOfCallingThread(long address, NativePrimitives keys) {
    ThreadState armed = ledger.armedOnCallingThread(keys);
    if (armed != null) {
      synchronized (armed) {
        if (armed.holdsAddress(address)) {
          return true;
        }
      }
    }
    for (int chunk = 0; chunk < Chunks.MAX_CHUNKS; chunk++) {
      long key = ledger.memoryKeyIfPresent(chunk);
      long base = key == 0 ? 0 : keys.getKey(key);
      if (base != 0 && address >= base && address < base + Chunks.bytesOf(chunk)) {
        return true;
      }
    }
    return false;
  }

  Seam seam() {
    return seam;
  }

  /** For tests: what the engine's lock guards. */
  Ledger ledger() {
    return ledger;
  }

  /** The calling thread's state, if it has one in this attachment. Never allocates. */
  ThreadState stateIfPresent() {
    return bindings.bound();
  }

  /** Makes {@code state} the calling attachment's. */
  private void bind(ThreadState state) {
    bindings.bind(state);
    state.boundHere();
  }

  /**
   * The calling thread's state, usable here: a thread that never used weave gets an empty one, and
   * one whose bound state died or went stale at its OS exit adopts afresh from its keys.
   */
  ThreadState currentState() {
    ThreadState state = stateIfPresent();
    if (state == null || !state.usableHere()) {
      PlatformThreads.require();
      state = adopt(state);
      bind(state);
    }
    state.countSlowCall(seam.startedByJava);
    state.disarmIfDropped();
    return state;
  }

  /**
   * Finds what this OS thread left in its pthread keys, as another {@link Thread} or earlier in its
   * OS exit: its registrations through the walker key, else its cells through the memory keys
   * (those glibc has not freed yet); or a new, empty state. A stale or dead {@code previous} state
   * is forgotten, never freed, and passes on how many walks at death it has seen.
   */
  private ThreadState adopt(ThreadState previous) {
    ThreadState withRegistrations = ledger.armedOnCallingThread();
    if (withRegistrations != null) {
      return withRegistrations;
    }
    ThreadState state = new ThreadState(name, ledger, primitives, cellViews);
    state.walksAtDeath = previous == null ? 0 : previous.walksAtDeath;
    for (int chunk = 0; chunk < Chunks.MAX_CHUNKS; chunk++) {
      long key = ledger.memoryKeyIfPresent(chunk);
      long address = key == 0 ? 0 : primitives.getKey(key);
      if (address != 0) {
        state.adoptChunk(chunk, address);
      }
    }
    return state;
  }

  /**
   * The walker key's destructor, on the dying OS thread. The dead state stays bound to the
   * attachment, so that a later weave call there (another library's key destructor) knows the walks
   * this thread has had, and starts a new state. Never throws.
   */
  private void threadDied(long walkerKeyValue) {
    try {
      ThreadState state = ledger.armedAt(walkerKeyValue);
      if (state != null && !ledger.shuttingDown()) {
        ThreadState previous = stateIfPresent();
        int walks = Math.max(state.walksAtDeath, previous == null ? 0 : previous.walksAtDeath);
        state.walksAtDeath = walks + 1;
        if (previous != state) {
          // Its cache stays on, if it was: its cells live until die() empties the cache.
          bindings.bind(state);
        }
        state.walk(true);
      }
    } catch (Throwable t) {
      ThreadState.report(Level.ERROR, "weave " + name + ": the walk at thread death failed", t);
    }
  }
}
