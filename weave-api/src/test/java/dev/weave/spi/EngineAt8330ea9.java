package dev.weave.spi;

import dev.weave.Destructor;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import java.lang.System.Logger.Level;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A test fixture: {@code Engine} as it was at commit 8330ea9, before issue 11, with defects 1, 2
 * and 4 of that issue in it. Only its name changed (and {@code Slot.engine()}'s type with it). The
 * interleaving self-test requires the harness to find those defects in it.
 *
 * <p>Its Javadoc then: the whole weave contract in pure Java, over a backend's {@link
 * NativePrimitives}: slot cells, the ordered registrations, the walk at thread death, rounds,
 * closing, error isolation and every argument check. A backend is a {@link NativePrimitives} plus
 * {@code new Engine(name, primitives)}.
 *
 * <p>Cells live in per-thread chunks of native memory that never move. Chunk {@code c} holds {@code
 * 64 << c} cells, so a few chunks cover any number of slots, and after them as many words naming
 * the slot that last used each cell, so that a new slot on a closed slot's cell starts at 0. The
 * pthread keys, not the {@link Thread} object, say which chunks and registrations belong to an OS
 * thread: a native thread that detaches from the JVM and attaches again (a new {@code Thread})
 * finds its cells and registrations where it left them. While a thread has no registration, each
 * chunk is the value of a pthread key whose destructor is libc {@code free}: the thread dies at
 * bare cost. From its first registration, the thread's chunks belong to the walker key instead,
 * whose destructor runs the registrations and only then frees the chunks, so cells outlive
 * destructors.
 */
final class EngineAt8330ea9 implements DestructorRegistry {
  /** As glibc's {@code PTHREAD_DESTRUCTOR_ITERATIONS}. */
  public static final int MAX_ROUNDS = 4;

  private static final System.Logger LOG = System.getLogger("dev.weave");
  private static final int FIRST_CHUNK_CELLS = 64;
  private static final int MAX_CHUNKS = 24;
  private static final MethodHandle IS_VIRTUAL = isVirtualHandle();

  private final String name;
  private final NativePrimitives primitives;
  private final ThreadLocal<ThreadState> states = new ThreadLocal<>();
  private final AtomicLong nextThreadId = new AtomicLong(1);
  private final AtomicLong nextSlotId = new AtomicLong(1);

  /** Threads with registrations, by walker key value. Guarded by {@code this} for writes. */
  private final Map<Long, ThreadState> armed = new ConcurrentHashMap<>();

  /** Guarded by {@code this}. */
  private final long[] memoryKeys = new long[MAX_CHUNKS];

  /** Guarded by {@code this}. */
  private int nextIndex;

  /** Indices of closed slots, for reuse. Guarded by {@code this}. */
  private final ArrayDeque<Integer> freeIndices = new ArrayDeque<>();

  private volatile long walkerKey;
  private volatile boolean shuttingDown;

  /**
   * @param name the backend's name, as {@link #backendName()} reports it
   * @param primitives the backend's native operations
   */
  EngineAt8330ea9(String name, NativePrimitives primitives) {
    this.name = Objects.requireNonNull(name, "name");
    this.primitives = Objects.requireNonNull(primitives, "primitives");
  }

  @Override
  public String backendName() {
    return name;
  }

  @Override
  public ThreadLocalSlot newSlot() {
    requirePlatformThread();
    int index;
    synchronized (this) {
      Integer reused = freeIndices.pollFirst();
      index = reused != null ? reused : nextIndex++;
    }
    return new Slot(index, nextSlotId.getAndIncrement());
  }

  @Override
  public void register(ThreadLocalSlot slot, Destructor destructor) {
    Slot own = ownSlot(slot);
    Objects.requireNonNull(destructor, "destructor is null");
    ThreadState state = currentState();
    synchronized (state) {
      own.requireOpen();
      state.add(state.cell(own), destructor, 0, own);
    }
  }

  @Override
  public void registerNative(ThreadLocalSlot slot, long function) {
    Slot own = ownSlot(slot);
    requireAddress(function, "function");
    ThreadState state = currentState();
    synchronized (state) {
      own.requireOpen();
      state.add(state.cell(own), null, function, own);
    }
  }

  @Override
  public void registerNative(long variable, long function) {
    requireAddress(variable, "variable");
    requireAddress(function, "function");
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
      long cell = state.existingCell(own);
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
   * @return how many threads have registrations that have not run yet, the dying ones included
   */
  public int threadsWithRegistrations() {
    return armed.size();
  }

  private Slot ownSlot(ThreadLocalSlot slot) {
    Objects.requireNonNull(slot, "slot is null");
    if (!(slot instanceof Slot) || ((Slot) slot).engine() != this) {
      String owner =
          slot instanceof Slot
              ? "the " + ((Slot) slot).engine().name + " backend"
              : slot.getClass().getName();
      throw new IllegalArgumentException(
          "slot belongs to "
              + owner
              + ", not to the "
              + name
              + " backend; use a slot made by this registry's newSlot()");
    }
    return (Slot) slot;
  }

  private static void requireAddress(long address, String what) {
    if (address == 0) {
      throw new IllegalArgumentException(what + " address is 0 (NULL)");
    }
  }

  private static void requirePlatformThread() {
    if (isVirtual(Thread.currentThread())) {
      throw new IllegalStateException(
          "weave was called from a virtual thread; native thread-local storage belongs to OS threads: call it from a platform thread");
    }
  }

  private static boolean isVirtual(Thread thread) {
    if (IS_VIRTUAL == null) {
      return false;
    }
    try {
      return (boolean) IS_VIRTUAL.invokeExact(thread);
    } catch (Throwable t) {
      throw new AssertionError(t);
    }
  }

  private static MethodHandle isVirtualHandle() {
    try {
      return MethodHandles.publicLookup()
          .findVirtual(Thread.class, "isVirtual", MethodType.methodType(boolean.class));
    } catch (ReflectiveOperationException e) {
      return null; // before Java 21 there are no virtual threads
    }
  }

  /** The calling thread's state; a thread that never used weave gets an empty one. */
  private ThreadState currentState() {
    ThreadState state = states.get();
    if (state == null) {
      requirePlatformThread();
      state = adopt();
      states.set(state);
    }
    return state;
  }

  /**
   * Finds what this OS thread left in its pthread keys while attached as another {@link Thread}:
   * its registrations through the walker key, else its cells through the memory keys; or a new,
   * empty state.
   */
  private ThreadState adopt() {
    long[] keys;
    synchronized (this) {
      if (walkerKey != 0 && !shuttingDown) { // a deleted key's index may be someone else's now
        long id = primitives.getKey(walkerKey);
        ThreadState withRegistrations = id == 0 ? null : armed.get(id);
        if (withRegistrations != null) {
          return withRegistrations;
        }
      }
      keys = memoryKeys.clone();
    }
    ThreadState state = new ThreadState(nextThreadId.getAndIncrement());
    for (int chunk = 0; chunk < MAX_CHUNKS; chunk++) {
      if (keys[chunk] != 0) {
        state.chunks[chunk] = primitives.getKey(keys[chunk]);
      }
    }
    return state;
  }

  private synchronized long memoryKey(int chunk) {
    if (memoryKeys[chunk] == 0) {
      memoryKeys[chunk] = primitives.createKey(primitives.freeFunction());
    }
    return memoryKeys[chunk];
  }

  private long walkerKey() {
    long key = walkerKey;
    if (key == 0) {
      synchronized (this) {
        key = walkerKey;
        if (key == 0) {
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
      }
    }
    return key;
  }

  /**
   * Threads alive at exit do not run their destructors, and the launcher's main thread dies after
   * the JVM is destroyed: a deleted key makes glibc call nothing into a JVM that is gone.
   */
  private synchronized void shutDown() {
    shuttingDown = true;
    primitives.deleteKey(walkerKey);
  }

  private void threadDied(long threadId) {
    try {
      ThreadState state = armed.get(threadId);
      if (state != null && !shuttingDown) {
        state.walk();
      }
    } catch (Throwable t) {
      // Nothing may escape into native code.
      try {
        LOG.log(Level.ERROR, "weave " + name + ": thread death walk failed", t);
      } catch (Throwable ignored) {
        // not even a logging failure
      }
    }
  }

  private static final class Registration {
    final long variable;
    final Destructor destructor;
    final long function;
    final int round;

    Registration(long variable, Destructor destructor, long function, int round) {
      this.variable = variable;
      this.destructor = destructor;
      this.function = function;
      this.round = round;
    }
  }

  private static int chunkOf(int index) {
    return 31 - Integer.numberOfLeadingZeros(index / FIRST_CHUNK_CELLS + 1);
  }

  private static long firstIndex(int chunk) {
    return (long) FIRST_CHUNK_CELLS * ((1L << chunk) - 1);
  }

  private static long cellsIn(int chunk) {
    return (long) FIRST_CHUNK_CELLS << chunk;
  }

  /** One OS thread's cells and registrations. Only its own thread changes its cells. */
  private final class ThreadState {
    final long id;
    final long[] chunks = new long[MAX_CHUNKS];

    /** Per slot index: the cell's address, and the id of the slot that last used it here. */
    long[] cellAddresses = new long[0];

    long[] cellOwners = new long[0];
    final ArrayDeque<Registration> registrations = new ArrayDeque<>();
    boolean isArmed;
    boolean walking;

    /** Set by the walk once the chunks are freed; read only on the thread that walked. */
    boolean freed;

    int currentRound;

    ThreadState(long id) {
      this.id = id;
    }

    /** The owner thread's fast path: the slot's cell here, or 0 if this thread never used it. */
    long existingCell(Slot slot) {
      int index = slot.index;
      if (index < cellOwners.length && cellOwners[index] == slot.id) {
        return cellAddresses[index];
      }
      long cell = lookUpCell(slot);
      if (cell != 0) {
        synchronized (this) {
          remember(index, cell, slot.id);
        }
      }
      return cell;
    }

    /** From native memory, with no caching: for the owner thread, or any thread under this lock. */
    long lookUpCell(Slot slot) {
      int chunk = chunkOf(slot.index);
      if (chunk >= MAX_CHUNKS || chunks[chunk] == 0) {
        return 0;
      }
      return primitives.getWord(ownerAddress(chunk, slot.index)) == slot.id
          ? cellAddress(chunk, slot.index)
          : 0;
    }

    /** The slot's cell on this thread, made (and zeroed, if a closed slot used it) on first use. */
    long cell(Slot slot) {
      long cell = existingCell(slot);
      if (cell != 0) {
        return cell;
      }
      synchronized (this) {
        int index = slot.index;
        int chunk = chunkOf(index);
        if (chunk >= MAX_CHUNKS) {
          throw new IllegalStateException(
              "more than " + (FIRST_CHUNK_CELLS << MAX_CHUNKS) + " open slots");
        }
        if (chunks[chunk] == 0) {
          long address = primitives.allocateZeroed(2 * cellsIn(chunk) * Long.BYTES);
          if (!isArmed) {
            primitives.setKey(memoryKey(chunk), address);
          }
          chunks[chunk] = address;
        }
        cell = cellAddress(chunk, index);
        primitives.putWord(cell, 0);
        primitives.putWord(ownerAddress(chunk, index), slot.id);
        remember(index, cell, slot.id);
        return cell;
      }
    }

    /** Guarded by this. */
    private void remember(int index, long cell, long slotId) {
      if (index >= cellOwners.length) {
        int length = Math.max(FIRST_CHUNK_CELLS, Integer.highestOneBit(index) << 1);
        cellAddresses = Arrays.copyOf(cellAddresses, length);
        cellOwners = Arrays.copyOf(cellOwners, length);
      }
      cellAddresses[index] = cell;
      cellOwners[index] = slotId;
    }

    private long cellAddress(int chunk, int index) {
      return chunks[chunk] + (index - firstIndex(chunk)) * Long.BYTES;
    }

    private long ownerAddress(int chunk, int index) {
      return chunks[chunk] + (cellsIn(chunk) + index - firstIndex(chunk)) * Long.BYTES;
    }

    /** Guarded by this. {@code slot}, if any, is checked open again where a close would miss it. */
    void add(long variable, Destructor destructor, long function, Slot slot) {
      int round = walking ? currentRound + 1 : 0;
      if (!isArmed) {
        arm(slot);
      }
      registrations.addLast(new Registration(variable, destructor, function, round));
    }

    /** Guarded by this. */
    boolean remove(long variable) {
      boolean removed = registrations.removeIf(r -> r.variable == variable);
      if (registrations.isEmpty() && isArmed && !walking) {
        disarm();
      }
      return removed;
    }

    /**
     * A closing slot sweeps the threads in {@code armed}; checking the slot under the same lock as
     * joining them means a registration is either swept or refused.
     */
    private void arm(Slot slot) {
      long key = walkerKey();
      synchronized (EngineAt8330ea9.this) {
        if (slot != null) {
          slot.requireOpen();
        }
        armed.put(id, this);
        if (!shuttingDown) { // the key is deleted then, and glibc may give its index to another
          primitives.setKey(key, id);
        }
      }
      for (int chunk = 0; chunk < MAX_CHUNKS; chunk++) {
        if (chunks[chunk] != 0) {
          primitives.setKey(memoryKey(chunk), 0);
        }
      }
      isArmed = true;
    }

    /** A thread that unregistered everything dies at bare cost again. */
    private void disarm() {
      for (int chunk = 0; chunk < MAX_CHUNKS; chunk++) {
        if (chunks[chunk] != 0) {
          primitives.setKey(memoryKey(chunk), chunks[chunk]);
        }
      }
      synchronized (EngineAt8330ea9.this) {
        armed.remove(id);
        if (!shuttingDown) {
          primitives.setKey(walkerKey, 0);
        }
      }
      isArmed = false;
    }

    /** Drops the registrations on a closing slot's cell. Called from the closing thread. */
    synchronized void drop(Slot slot) {
      long cell = lookUpCell(slot);
      if (cell != 0) {
        registrations.removeIf(r -> r.variable == cell);
      }
    }

    void walk() {
      ThreadState previous = states.get();
      states.set(this);
      int dropped = 0;
      try {
        synchronized (this) {
          walking = true;
        }
        while (true) {
          Registration next;
          synchronized (this) {
            next = registrations.pollFirst();
            if (next == null) {
              break;
            }
            currentRound = next.round;
          }
          if (next.round >= MAX_ROUNDS) {
            dropped++;
          } else {
            run(next);
          }
        }
      } finally {
        synchronized (EngineAt8330ea9.this) {
          armed.remove(id);
        }
        for (int chunk = 0; chunk < MAX_CHUNKS; chunk++) {
          if (chunks[chunk] != 0) {
            primitives.free(chunks[chunk]);
          }
        }
        freed = true; // cells cached on this Thread during the walk point into freed memory now
        if (previous == null) {
          states.remove();
        } else {
          states.set(previous);
        }
      }
      if (dropped > 0) {
        LOG.log(
            Level.WARNING,
            "weave {0}: dropped {1} destructor(s) registered during the last of {2} rounds at thread death",
            name,
            dropped,
            MAX_ROUNDS);
      }
    }

    private void run(Registration registration) {
      try {
        long value = primitives.getWord(registration.variable);
        if (registration.destructor != null) {
          registration.destructor.destroy(value);
        } else {
          primitives.callDestructor(registration.function, value);
        }
      } catch (Throwable t) {
        LOG.log(
            Level.WARNING,
            "weave " + name + ": a destructor threw at thread death; the others still run",
            t);
      }
    }
  }

  /** A slot's cell on one thread, as that thread's {@link Slot#cells} caches it. */
  private static final class Cell {
    final ThreadState state;
    final long address;

    Cell(ThreadState state, long address) {
      this.state = state;
      this.address = address;
    }
  }

  private final class Slot implements ThreadLocalSlot {
    final int index;
    final long id;
    volatile boolean closed;

    /** Per Thread (an attachment of an OS thread), this slot's cell there. */
    final ThreadLocal<Cell> cells = new ThreadLocal<>();

    Slot(int index, long id) {
      this.index = index;
      this.id = id;
    }

    EngineAt8330ea9 engine() {
      return EngineAt8330ea9.this;
    }

    void requireOpen() {
      if (closed) {
        throw new IllegalStateException("slot is closed");
      }
    }

    @Override
    public long get() {
      requireOpen();
      Cell cell = cachedCell();
      if (cell != null) {
        return primitives.getWord(cell.address);
      }
      ThreadState state = currentState();
      long address = state.existingCell(this);
      if (address == 0) {
        return 0;
      }
      cells.set(new Cell(state, address));
      return primitives.getWord(address);
    }

    @Override
    public void set(long value) {
      requireOpen();
      primitives.putWord(cell().address, value);
    }

    @Override
    public long cellAddress() {
      requireOpen();
      return cell().address;
    }

    private Cell cell() {
      Cell cell = cachedCell();
      if (cell == null) {
        ThreadState state = currentState();
        cell = new Cell(state, state.cell(this));
        cells.set(cell);
      }
      return cell;
    }

    /** The fast path: a new slot has a new ThreadLocal, so a cached cell needs no owner check. */
    private Cell cachedCell() {
      Cell cell = cells.get();
      return cell != null && !cell.state.freed ? cell : null;
    }

    @Override
    public DestructorRegistry registry() {
      return EngineAt8330ea9.this;
    }

    @Override
    public void close() {
      requirePlatformThread();
      List<ThreadState> withRegistrations;
      synchronized (EngineAt8330ea9.this) {
        if (closed) {
          return;
        }
        closed = true;
        withRegistrations = new ArrayList<>(armed.values());
      }
      for (ThreadState state : withRegistrations) {
        state.drop(this);
      }
      synchronized (EngineAt8330ea9.this) {
        freeIndices.addFirst(index);
      }
    }

    @Override
    public String toString() {
      return "ThreadLocalSlot[" + name + " #" + index + (closed ? ", closed" : "") + "]";
    }
  }
}
