package dev.weave.spi;

import dev.weave.Destructor;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.WeaveThread;
import java.lang.System.Logger.Level;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.ReentrantLock;

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
 * <p>Each OS thread's {@code ThreadState} goes through the states written in {@code
 * weave-api/LIFECYCLE.md}; the transitions are the methods {@code arm}, {@code disarm}, {@code
 * walk} and {@code die}, and nothing else changes {@code status}.
 *
 * <p>Locks, always taken in this order and never the other way: a slot's close lock, then a {@code
 * ThreadState}'s monitor, then the engine's private lock. Nothing synchronizes on the engine object
 * itself, so user code that does cannot stall dying threads.
 *
 * <p>With the system property {@value #CHECKED_PROPERTY} set to {@code true} when it is made, an
 * engine runs its primitives through {@link CheckedPrimitives} (contract rule 14).
 */
public final class Engine implements DestructorRegistry {
  /** As glibc's {@code PTHREAD_DESTRUCTOR_ITERATIONS}. */
  public static final int MAX_ROUNDS = 4;

  /** The system property that turns on checked mode for engines made after it is set. */
  public static final String CHECKED_PROPERTY = "weave.checked";

  private static final System.Logger LOG = System.getLogger("dev.weave");
  private static final VarHandle WEAVE_THREAD_STATES = weaveThreadStates();
  private static final long[] NO_CELLS = new long[0];
  private static final AtomicInteger ENGINE_IDS = new AtomicInteger();

  /** Every engine, to refuse a variable that is another engine's cell. */
  private static final List<Engine> ENGINES = new CopyOnWriteArrayList<>();

  /** The engine whose destructors this thread is running, if any. */
  private static final ThreadLocal<Engine> RUNNING_DESTRUCTORS = new ThreadLocal<>();

  private final String name;

  /** This engine's index in each {@link WeaveThread}'s states. */
  private final int id;

  private final NativePrimitives primitives;
  private final CheckedPrimitives checked;

  /** Whether {@link NativePrimitives#directBuffer} gives views of chunks. */
  private final boolean cellViews;

  /** The calling thread's state, on threads that are not {@link WeaveThread}s. */
  private final ThreadLocal<ThreadState> states = new ThreadLocal<>();

  private final AtomicLong nextSlotId = new AtomicLong(1);

  private final Object lock = new Object();

  /**
   * The armed and walking states, each at the index its thread's walker key holds (minus one), so
   * that the walk at death and adoption find them. Guarded by {@link #lock}.
   */
  private ThreadState[] armed = new ThreadState[8];

  /** Free indices of {@link #armed}: a stack. Guarded by {@link #lock}. */
  private int[] freeArmed = new int[8];

  /** Guarded by {@link #lock}. */
  private int freeArmedCount;

  /** Indices of {@link #armed} from here on were never used. Guarded by {@link #lock}. */
  private int armedHighWater;

  /** Guarded by {@link #lock}. */
  private int armedCount;

  /** Per chunk, the key whose destructor is libc {@code free}. Written under {@link #lock}. */
  private final AtomicLongArray memoryKeys = new AtomicLongArray(Chunks.MAX_CHUNKS);

  /** Guarded by {@link #lock}. */
  private int nextIndex;

  /** Indices of closed slots, for reuse. Guarded by {@link #lock}. */
  private final ArrayDeque<Integer> freeIndices = new ArrayDeque<>();

  /** Written under {@link #lock}. */
  private volatile long walkerKey;

  /** Written under {@link #lock}. */
  private volatile boolean shuttingDown;

  /**
   * @param name the backend's name, as {@link #backendName()} reports it
   * @param primitives the backend's native operations; a {@link CheckedPrimitives} makes this
   *     engine run checked whatever {@value #CHECKED_PROPERTY} says
   */
  public Engine(String name, NativePrimitives primitives) {
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
    id = ENGINE_IDS.getAndIncrement();
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
   * @return the checker of this engine's native memory and keys, if it runs in checked mode
   */
  public Optional<CheckedPrimitives> checked() {
    return Optional.ofNullable(checked);
  }

  @Override
  public ThreadLocalSlot newSlot() {
    PlatformThreads.require();
    int index;
    synchronized (lock) {
      Integer reused = freeIndices.pollFirst();
      if (reused == null && nextIndex == Chunks.CAPACITY) {
        throw new IllegalStateException(
            Chunks.CAPACITY + " slots are open, the most an engine holds: close some");
      }
      index = reused != null ? reused : nextIndex++;
    }
    return new Slot(index, nextSlotId.getAndIncrement());
  }

  @Override
  public void register(ThreadLocalSlot slot, Destructor destructor) {
    Slot own = ownSlot(slot);
    Objects.requireNonNull(destructor, "destructor is null");
    own.requireOpen();
    ThreadState state = currentState();
    synchronized (state) {
      own.requireOpen();
      state.add(state.cellOrCreate(own), destructor, 0, own);
    }
  }

  @Override
  public void registerNative(ThreadLocalSlot slot, long function) {
    Slot own = ownSlot(slot);
    requireAddress(function, "function");
    own.requireOpen();
    ThreadState state = currentState();
    synchronized (state) {
      own.requireOpen();
      state.add(state.cellOrCreate(own), null, function, own);
    }
  }

  @Override
  public void registerNative(long variable, long function) {
    requireAddress(variable, "variable");
    requireAddress(function, "function");
    refuseOtherEnginesCell(variable);
    ThreadState state = currentState();
    synchronized (state) {
      state.add(variable, null, function, null);
    }
  }

  @Override
  public boolean unregister(ThreadLocalSlot slot) {
    Slot own = ownSlot(slot);
    own.requireOpen();
    ThreadState state = currentState();
    synchronized (state) {
      own.requireOpen();
      long cell = state.cellIfPresent(own);
      return cell != 0 && state.remove(cell);
    }
  }

  @Override
  public boolean unregister(long variable) {
    requireAddress(variable, "variable");
    ThreadState state = currentState();
    synchronized (state) {
      return state.remove(variable);
    }
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
    Engine running = RUNNING_DESTRUCTORS.get();
    if (running != null) {
      throw new IllegalStateException(
          "runDestructors() was called from a destructor of the "
              + running.name
              + " backend; it ends a thread's weave life and may only be called outside destructors");
    }
    ThreadState state = stateIfPresent();
    if (state == null) {
      if (Thread.currentThread() instanceof WeaveThread) {
        return; // a WeaveThread never re-attaches: no state means it never used this engine
      }
      state = currentState(); // kept even if empty: a pool thread's next task end finds it at once
    }
    state.walk(false);
  }

  /**
   * @return how many threads have registrations that have not run yet, the dying ones included
   */
  public int threadsWithRegistrations() {
    synchronized (lock) {
      return armedCount;
    }
  }

  private Slot ownSlot(ThreadLocalSlot slot) {
    Objects.requireNonNull(slot, "slot is null");
    if (!(slot instanceof Slot) || ((Slot) slot).engine() != this) {
      String owner =
          slot instanceof Slot
              ? "the " + ((Slot) slot).engine().name + " backend"
              : foreignOwner(slot);
      throw new IllegalArgumentException(
          "slot belongs to "
              + owner
              + ", not to the "
              + name
              + " backend; use a slot made by this registry's newSlot()");
    }
    return (Slot) slot;
  }

  private static String foreignOwner(ThreadLocalSlot slot) {
    try {
      return "the "
          + slot.registry().backendName()
          + " backend ("
          + slot.getClass().getName()
          + ")";
    } catch (RuntimeException e) {
      return slot.getClass().getName();
    }
  }

  private static void requireAddress(long address, String what) {
    if (address == 0) {
      throw new IllegalArgumentException(what + " address is 0 (NULL)");
    }
  }

  /**
   * Another engine frees its cells on its own schedule (its keys' destructors), possibly before
   * this engine's walk reads them: a registration here must not point into them.
   */
  private void refuseOtherEnginesCell(long variable) {
    for (Engine other : ENGINES) {
      if (other != this && other.isCellOfCallingThread(variable)) {
        throw new IllegalArgumentException(
            "variable 0x"
                + Long.toHexString(variable)
                + " is a cell of a slot of the "
                + other.name
                + " backend; register it with that backend's registry (Weave.registry(\""
                + other.name
                + "\")), which keeps its cells until its destructors have run");
      }
    }
  }

  private boolean isCellOfCallingThread(long address) {
    ThreadState state = stateIfPresent();
    return state != null && state.holdsCell(address);
  }

  /**
   * {@link WeaveThread}'s private field: the fast path reads it instead of a {@link ThreadLocal}.
   */
  private static VarHandle weaveThreadStates() {
    try {
      return MethodHandles.privateLookupIn(WeaveThread.class, MethodHandles.lookup())
          .findVarHandle(WeaveThread.class, "engineStates", Object[].class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** The calling thread's state, if it has one in this attachment. Never allocates. */
  private ThreadState stateIfPresent() {
    Thread thread = Thread.currentThread();
    if (thread instanceof WeaveThread) {
      Object[] all = (Object[]) WEAVE_THREAD_STATES.get((WeaveThread) thread);
      return id < all.length ? (ThreadState) all[id] : null;
    }
    return states.get();
  }

  /** Makes {@code state} (or none, if null) the calling thread's. */
  private void bind(ThreadState state) {
    Thread thread = Thread.currentThread();
    if (thread instanceof WeaveThread) {
      Object[] all = (Object[]) WEAVE_THREAD_STATES.get((WeaveThread) thread);
      if (id >= all.length) {
        all = Arrays.copyOf(all, id + 1);
        WEAVE_THREAD_STATES.set((WeaveThread) thread, all);
      }
      all[id] = state;
    } else if (state == null) {
      states.remove();
    } else {
      states.set(state);
    }
  }

  /** The calling thread's state; a thread that never used weave gets an empty one. */
  private ThreadState currentState() {
    ThreadState state = stateIfPresent();
    if (state == null) {
      PlatformThreads.require();
      state = adopt();
      bind(state);
    }
    assert state.status != Status.DEAD : "a dead thread state was handed back";
    return state;
  }

  /**
   * Finds what this OS thread left in its pthread keys while attached as another {@link Thread}:
   * its registrations through the walker key, else its cells through the memory keys; or a new,
   * empty state.
   */
  private ThreadState adopt() {
    synchronized (lock) {
      if (walkerKey != 0 && !shuttingDown) { // a deleted key's index may be someone else's now
        ThreadState withRegistrations = armedAt(primitives.getKey(walkerKey));
        if (withRegistrations != null) {
          return withRegistrations;
        }
      }
    }
    ThreadState state = new ThreadState();
    for (int chunk = 0; chunk < Chunks.MAX_CHUNKS; chunk++) {
      long key = memoryKeys.get(chunk);
      long address = key == 0 ? 0 : primitives.getKey(key);
      if (address != 0) {
        state.adoptChunk(chunk, address);
      }
    }
    return state;
  }

  private long memoryKey(int chunk) {
    long key = memoryKeys.get(chunk);
    if (key != 0) {
      return key;
    }
    synchronized (lock) {
      key = memoryKeys.get(chunk);
      if (key == 0) {
        key = primitives.createKey(primitives.freeFunction());
        memoryKeys.set(chunk, key);
      }
      return key;
    }
  }

  private long walkerKey() {
    long key = walkerKey;
    if (key != 0) {
      return key;
    }
    synchronized (lock) {
      if (walkerKey == 0) {
        key = primitives.createKey(this::threadDied);
        try {
          Runtime.getRuntime()
              .addShutdownHook(new Thread(this::shutDown, "weave-" + name + "-shutdown"));
        } catch (IllegalStateException alreadyShuttingDown) {
          shuttingDown = true;
          primitives.deleteKey(key);
        }
        walkerKey = key;
      }
      return walkerKey;
    }
  }

  /**
   * Threads alive at exit do not run their destructors, and the launcher's main thread dies after
   * the JVM is destroyed: a deleted key makes glibc call nothing into a JVM that is gone.
   */
  private void shutDown() {
    synchronized (lock) {
      shuttingDown = true;
      primitives.deleteKey(walkerKey);
    }
  }

  /** Guarded by {@link #lock}. @return the armed state a walker key's value names, or null */
  private ThreadState armedAt(long walkerKeyValue) {
    long index = walkerKeyValue - 1;
    return index >= 0 && index < armedHighWater ? armed[(int) index] : null;
  }

  /** Guarded by {@link #lock}. @return the walker key value that names {@code state} */
  private long addArmed(ThreadState state) {
    int index;
    if (freeArmedCount > 0) {
      index = freeArmed[--freeArmedCount];
    } else {
      if (armedHighWater == armed.length) {
        armed = Arrays.copyOf(armed, armed.length * 2);
        freeArmed = Arrays.copyOf(freeArmed, armed.length);
      }
      index = armedHighWater++;
    }
    armed[index] = state;
    armedCount++;
    return index + 1L;
  }

  /** Guarded by {@link #lock}. */
  private void removeArmed(long walkerKeyValue) {
    int index = (int) (walkerKeyValue - 1);
    armed[index] = null;
    freeArmed[freeArmedCount++] = index;
    armedCount--;
  }

  /** Guarded by {@link #lock}. @return every armed and walking state */
  private List<ThreadState> armedStates() {
    List<ThreadState> states = new ArrayList<>(armedCount);
    for (int i = 0; i < armedHighWater; i++) {
      if (armed[i] != null) {
        states.add(armed[i]);
      }
    }
    return states;
  }

  /** The walker key's destructor, on the dying OS thread. Never throws. */
  private void threadDied(long walkerKeyValue) {
    try {
      ThreadState state;
      synchronized (lock) {
        state = armedAt(walkerKeyValue);
      }
      if (state != null && !shuttingDown) {
        state.walkAtDeath();
      }
    } catch (Throwable t) {
      report(Level.ERROR, "weave " + name + ": the walk at thread death failed", t);
    }
  }

  /** Logs, and never throws: a failing logger must not stop a walk (rule 6). */
  private static void report(Level level, String message, Throwable thrown) {
    try {
      LOG.log(level, message, thrown);
    } catch (Throwable ignored) {
      // nothing better can be done
    }
  }

  private static final class Registration {
    final long variable;
    final Destructor destructor;
    final long function;
    final int round;

    /** The slot it was made through, or null for a variable's address. */
    final Slot slot;

    Registration(long variable, Destructor destructor, long function, int round, Slot slot) {
      this.variable = variable;
      this.destructor = destructor;
      this.function = function;
      this.round = round;
      this.slot = slot;
    }
  }

  /** A thread state's place in the lifecycle of {@code LIFECYCLE.md}. */
  private enum Status {
    /** No registration; the chunks are on the memory keys. */
    UNARMED,
    /**
     * Registrations; the chunks are on the walker key alone, and the state is in {@link #armed}.
     */
    ARMED,
    /** As armed, while its own thread runs its registrations, at death or in runDestructors(). */
    WALKING,
    /** Walked at death: chunks freed, out of {@link #armed}, bound to no thread. */
    DEAD
  }

  /**
   * One OS thread's cells and registrations.
   *
   * <p>The cell cache ({@code cellOwners}, {@code cellAddresses}, {@code views}, {@code
   * cellsInUse}) is confined to the state's own OS thread and read there without a lock. {@code
   * chunks}, {@code registrations}, {@code status} and {@code currentRound} are written by that
   * thread under this monitor, and read by it freely; a closing thread reads them only under this
   * monitor. A closing thread may read another thread's owner words only while the state holds
   * registrations: its chunks are then on the walker key alone, and only {@link #die()} frees them,
   * under this monitor.
   */
  private final class ThreadState {
    /** While armed or walking: the value of its thread's walker key, and its place in armed. */
    long armedKeyValue;

    final long[] chunks = new long[Chunks.MAX_CHUNKS];
    final ArrayDeque<Registration> registrations = new ArrayDeque<>();
    Status status = Status.UNARMED;
    int currentRound;

    /**
     * The registration the walk has taken off the list and not finished, and the walking thread.
     */
    Registration running;

    Thread walker;

    /** Per slot index: the id of the slot whose cell this thread has there, and its address. */
    long[] cellOwners = NO_CELLS;

    long[] cellAddresses = NO_CELLS;
    final ByteBuffer[] views = new ByteBuffer[Chunks.MAX_CHUNKS];

    /**
     * Every cell at an index from here on reads 0: cells below it were handed out on this thread.
     */
    int cellsInUse;

    /** Owner thread. */
    boolean holdsCell(long address) {
      for (int chunk = 0; chunk < Chunks.MAX_CHUNKS; chunk++) {
        long base = chunks[chunk];
        if (base != 0
            && address >= base
            && address < base + Chunks.cellsIn(chunk) * (long) Long.BYTES) {
          return true;
        }
      }
      return false;
    }

    /** Owner thread; {@code index} is cached here. */
    long read(int index) {
      if (cellViews) {
        ByteBuffer view = views[Chunks.chunkOf(index)];
        if (view != null) {
          return view.getLong((int) Chunks.cellOffset(index));
        }
      }
      return primitives.getWord(cellAddresses[index]);
    }

    /** Owner thread; {@code index} is cached here. */
    void write(int index, long value) {
      if (cellViews) {
        ByteBuffer view = views[Chunks.chunkOf(index)];
        if (view != null) {
          view.putLong((int) Chunks.cellOffset(index), value);
          return;
        }
      }
      primitives.putWord(cellAddresses[index], value);
    }

    /** Owner thread: the slot's cell here, or 0 if this thread has none. Never allocates. */
    long cellIfPresent(Slot slot) {
      int index = slot.index;
      if (index < cellOwners.length && cellOwners[index] == slot.id) {
        return cellAddresses[index];
      }
      long cell = cellUncached(slot);
      if (cell != 0) {
        remember(index, cell, slot.id);
      }
      return cell;
    }

    /**
     * The slot's cell from the owner words in native memory, or 0: on the owner thread, or under
     * this monitor while the state holds registrations.
     */
    long cellUncached(Slot slot) {
      long base = chunks[Chunks.chunkOf(slot.index)];
      if (base == 0 || primitives.getWord(base + Chunks.ownerOffset(slot.index)) != slot.id) {
        return 0;
      }
      return base + Chunks.cellOffset(slot.index);
    }

    /**
     * Owner thread: the slot's cell here, made on first use (and zeroed, if a closed slot used it).
     */
    long cellOrCreate(Slot slot) {
      long cell = cellIfPresent(slot);
      if (cell != 0) {
        return cell;
      }
      synchronized (this) {
        int index = slot.index;
        int chunk = Chunks.chunkOf(index);
        if (chunks[chunk] == 0) {
          allocateChunk(chunk);
        }
        cell = chunks[chunk] + Chunks.cellOffset(index);
        primitives.putWord(cell, 0);
        primitives.putWord(chunks[chunk] + Chunks.ownerOffset(index), slot.id);
        remember(index, cell, slot.id);
        cellsInUse = Math.max(cellsInUse, index + 1);
        return cell;
      }
    }

    /** Owner thread, under this monitor. Leaves nothing behind if it throws. */
    private void allocateChunk(int chunk) {
      long key = status == Status.UNARMED ? memoryKey(chunk) : 0;
      long address = primitives.allocateZeroed(Chunks.bytesOf(chunk));
      if (key != 0) {
        try {
          primitives.setKey(key, address);
        } catch (RuntimeException | Error e) {
          primitives.free(address);
          throw e;
        }
      }
      chunks[chunk] = address;
      views[chunk] = view(chunk, address);
    }

    /** Owner thread, on adoption: a chunk this OS thread made while attached as another Thread. */
    void adoptChunk(int chunk, long address) {
      chunks[chunk] = address;
      views[chunk] = view(chunk, address);
      cellsInUse = Math.max(cellsInUse, Chunks.firstIndex(chunk) + Chunks.cellsIn(chunk));
    }

    private ByteBuffer view(int chunk, long address) {
      long cellBytes = (long) Chunks.cellsIn(chunk) * Long.BYTES;
      if (!cellViews || cellBytes > Integer.MAX_VALUE) {
        return null;
      }
      ByteBuffer view = primitives.directBuffer(address, (int) cellBytes);
      return view == null ? null : view.order(ByteOrder.nativeOrder());
    }

    private void remember(int index, long cell, long slotId) {
      if (index >= cellOwners.length) {
        int length = Math.max(Chunks.FIRST_CHUNK_CELLS, Integer.highestOneBit(index) << 1);
        cellAddresses = Arrays.copyOf(cellAddresses, length);
        cellOwners = Arrays.copyOf(cellOwners, length);
      }
      cellAddresses[index] = cell;
      cellOwners[index] = slotId;
    }

    /**
     * Owner thread, under this monitor. {@code slot}, if any, is checked open again where a close
     * would miss it.
     */
    void add(long variable, Destructor destructor, long function, Slot slot) {
      int round = status == Status.WALKING ? currentRound + 1 : 0;
      if (status == Status.UNARMED) {
        arm(slot);
      }
      registrations.addLast(new Registration(variable, destructor, function, round, slot));
    }

    /** Owner thread, under this monitor. */
    boolean remove(long variable) {
      boolean removed = false;
      for (Iterator<Registration> it = registrations.iterator(); it.hasNext(); ) {
        if (it.next().variable == variable) {
          it.remove();
          removed = true;
        }
      }
      if (registrations.isEmpty() && status == Status.ARMED) {
        disarm();
      }
      return removed;
    }

    /**
     * UNARMED to ARMED, on the owner thread under this monitor. A closing slot sweeps the threads
     * in {@link #armed}; checking the slot under the same lock as joining them means a registration
     * on it is either swept or refused.
     */
    private void arm(Slot slot) {
      long key = walkerKey();
      synchronized (lock) {
        if (slot != null) {
          slot.requireOpen();
        }
        long value = addArmed(this);
        if (!shuttingDown) { // the key is deleted then, and glibc may give its index to another
          try {
            primitives.setKey(key, value);
          } catch (RuntimeException | Error e) {
            removeArmed(value);
            throw e;
          }
        }
        armedKeyValue = value;
      }
      putChunksOnMemoryKeys(false); // setting NULL cannot fail
      status = Status.ARMED;
    }

    /** ARMED to UNARMED, on the owner thread under this monitor: it dies at bare cost again. */
    private void disarm() {
      try {
        putChunksOnMemoryKeys(true);
      } catch (RuntimeException | Error e) {
        putChunksOnMemoryKeys(false); // stay armed: the walk will free the chunks
        report(Level.DEBUG, "weave " + name + ": a thread stays armed: " + e, null);
        return;
      }
      synchronized (lock) {
        if (!shuttingDown) {
          primitives.setKey(walkerKey, 0);
        }
        removeArmed(armedKeyValue);
        armedKeyValue = 0;
      }
      status = Status.UNARMED;
    }

    private void putChunksOnMemoryKeys(boolean on) {
      for (int chunk = 0; chunk < Chunks.MAX_CHUNKS; chunk++) {
        if (chunks[chunk] != 0) {
          long key = on ? memoryKey(chunk) : memoryKeys.get(chunk);
          if (key != 0) {
            primitives.setKey(key, on ? chunks[chunk] : 0);
          }
        }
      }
    }

    /**
     * A closing thread drops the registrations on its slot's cell here, and waits for one the walk
     * has already taken, unless it is the walking thread: when close() returns, none may start.
     */
    synchronized void drop(Slot slot) {
      if (registrations.isEmpty() && running == null) {
        return; // and the chunks may be freed already: an unarmed thread's die at bare cost
      }
      assert status == Status.ARMED || status == Status.WALKING : status;
      long cell = cellUncached(slot);
      if (cell == 0) {
        return;
      }
      boolean interrupted = false;
      while (true) {
        registrations.removeIf(r -> r.variable == cell);
        if (running == null || running.variable != cell || walker == Thread.currentThread()) {
          break;
        }
        try {
          wait();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }

    /** On the dying OS thread, attached for the walker key's destructor. */
    void walkAtDeath() {
      ThreadState previous = stateIfPresent(); // this, when the thread is still attached
      assert previous == null || previous == this;
      bind(this);
      try {
        walk(true);
      } finally {
        bind(null);
      }
    }

    /**
     * Runs every registration on the calling thread, its own, in order, for at most {@link
     * #MAX_ROUNDS} rounds (contract rules 2, 5, 6, 7). At death the state then dies; on a live
     * thread (rule 13) every cell is set to 0 and the thread is unarmed.
     */
    void walk(boolean atDeath) {
      int dropped = 0;
      RUNNING_DESTRUCTORS.set(Engine.this);
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
            next = registrations.pollFirst();
            if (next == null) {
              break;
            }
            running = next;
            currentRound = next.round;
          }
          if (next.round >= MAX_ROUNDS) {
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
              if (registrations.isEmpty()) {
                disarm();
              }
            }
          }
        }
      }
      if (dropped > 0) {
        report(
            Level.WARNING,
            "weave "
                + name
                + ": dropped "
                + dropped
                + " destructor(s) registered during the last of "
                + MAX_ROUNDS
                + " rounds",
            null);
      }
    }

    /** Under this monitor: wakes closers waiting for the registration that ran. */
    private void finishedRunning() {
      if (running != null) {
        running = null;
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
        report(Level.WARNING, "weave " + name + ": a destructor threw; the others still run", t);
      }
    }

    /** Owner thread, under this monitor: rule 13's "every slot reads 0". */
    private void zeroCells() {
      for (int chunk = 0;
          chunk < Chunks.MAX_CHUNKS && Chunks.firstIndex(chunk) < cellsInUse;
          chunk++) {
        long base = chunks[chunk];
        if (base == 0) {
          continue;
        }
        int cells = Math.min(Chunks.cellsIn(chunk), cellsInUse - Chunks.firstIndex(chunk));
        ByteBuffer view = views[chunk];
        for (int cell = 0; cell < cells; cell++) {
          if (view != null) {
            view.putLong(cell * Long.BYTES, 0);
          } else {
            primitives.putWord(base + (long) cell * Long.BYTES, 0);
          }
        }
      }
    }

    /**
     * WALKING to DEAD, on the dying thread under this monitor: nothing may use the chunks after.
     */
    private void die() {
      status = Status.DEAD;
      registrations.clear();
      synchronized (lock) {
        removeArmed(armedKeyValue);
        armedKeyValue = 0;
      }
      for (int chunk = 0; chunk < Chunks.MAX_CHUNKS; chunk++) {
        if (chunks[chunk] != 0) {
          primitives.free(chunks[chunk]);
          chunks[chunk] = 0;
          views[chunk] = null;
        }
      }
      cellOwners = NO_CELLS;
      cellAddresses = NO_CELLS;
      cellsInUse = 0;
    }
  }

  private final class Slot implements ThreadLocalSlot {
    final int index;
    final long id;
    volatile boolean closed;

    /** Held for the whole of close(), so a second closer returns only once the first is done. */
    private final ReentrantLock closing = new ReentrantLock();

    Slot(int index, long id) {
      this.index = index;
      this.id = id;
    }

    Engine engine() {
      return Engine.this;
    }

    void requireOpen() {
      if (closed) {
        throw new IllegalStateException("slot is closed");
      }
    }

    @Override
    public long get() {
      requireOpen();
      ThreadState state = stateIfPresent();
      if (state != null) {
        long[] owners = state.cellOwners;
        if (index < owners.length && owners[index] == id) {
          return state.read(index);
        }
      }
      state = currentState();
      return state.cellIfPresent(this) == 0 ? 0 : state.read(index);
    }

    @Override
    public void set(long value) {
      requireOpen();
      ThreadState state = stateIfPresent();
      if (state == null || index >= state.cellOwners.length || state.cellOwners[index] != id) {
        state = currentState();
        state.cellOrCreate(this);
      }
      state.write(index, value);
    }

    @Override
    public long cellAddress() {
      requireOpen();
      ThreadState state = stateIfPresent();
      if (state != null) {
        long[] owners = state.cellOwners;
        if (index < owners.length && owners[index] == id) {
          return state.cellAddresses[index];
        }
      }
      return currentState().cellOrCreate(this);
    }

    @Override
    public DestructorRegistry registry() {
      return Engine.this;
    }

    @Override
    public void close() {
      PlatformThreads.require();
      if (RUNNING_DESTRUCTORS.get() != null) {
        // A first closer may be waiting for this very destructor to finish: do not wait for it.
        if (!closing.tryLock()) {
          return;
        }
      } else {
        closing.lock();
      }
      try {
        if (closed) {
          return;
        }
        List<ThreadState> withRegistrations;
        synchronized (lock) {
          closed = true;
          withRegistrations = armedStates();
        }
        for (ThreadState state : withRegistrations) {
          state.drop(this);
        }
        synchronized (lock) {
          freeIndices.addFirst(index);
        }
      } finally {
        closing.unlock();
      }
    }

    @Override
    public String toString() {
      return "ThreadLocalSlot[" + name + " #" + index + (closed ? ", closed" : "") + "]";
    }
  }
}
