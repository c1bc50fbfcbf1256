package dev.weave.spi;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.IntFunction;

/**
 * What an engine's private lock guards: its pthread keys (the walker key, and per chunk the memory
 * key whose destructor is libc {@code free}), the table of armed states, the free slot indices, and
 * shutdown. Every method that reads or writes them takes the lock itself, and calls no user code
 * while it holds it; so a caller holding a {@link ThreadState}'s monitor may call in (the lock
 * order: state monitor, then this lock), and nothing here ever takes a state's monitor.
 *
 * <p>The armed table holds each armed or walking state; its thread's walker key holds the address
 * of the state's {@link Record}, which holds the state's index in the table: the walk at death and
 * adoption find a state through the key's value.
 */
final class Ledger {
  private final String name;
  private final NativePrimitives primitives;
  private final ThreadDeathHandler walker;

  /** The native walker, or null where the engine runs its Java walker ({@link #walker}). */
  final NativeWalker nativeWalker;

  final Seam seam;
  private final Object lock = new Object();

  /** Guarded by {@link #lock}. */
  private ThreadState[] armed = new ThreadState[8];

  /** The address of each armed state's record, at the same index. Guarded by {@link #lock}. */
  private long[] armedRecords = new long[8];

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

  /** Per slot index, the open slot that has it, or null. Guarded by {@link #lock}. */
  private Slot[] openSlots = new Slot[Chunks.FIRST_CHUNK_CELLS];

  /** Written under {@link #lock}. */
  private volatile long walkerKey;

  /**
   * A key with no destructor, made with the walker key and never deleted (glibc calls nothing
   * through it), whose value on an OS thread is a token of that thread: after shutdown began and
   * the walker key is gone, adoption finds an armed state by it. Guarded by {@link #lock}.
   */
  private long identityKey;

  /** Guarded by {@link #lock}. */
  private long lastToken;

  /** Written under {@link #lock}. */
  private volatile boolean shuttingDown;

  /**
   * @param name the backend's name, for the shutdown hook's thread
   * @param walker the walker key's destructor in Java
   * @param nativeWalker the native walker, whose walk is then the walker key's destructor, or null
   */
  Ledger(
      String name,
      NativePrimitives primitives,
      ThreadDeathHandler walker,
      NativeWalker nativeWalker,
      Seam seam) {
    this.name = name;
    this.primitives = primitives;
    this.walker = walker;
    this.nativeWalker = nativeWalker;
    this.seam = seam;
  }

  /**
   * @return the native walker's configuration, for a new record to name, or 0
   */
  long nativeWalkerConfig() {
    return nativeWalker == null ? 0 : nativeWalker.config;
  }

  /**
   * Opens a slot at a free index, a closed slot's first.
   *
   * @param make makes the slot for the index
   * @throws IllegalStateException if {@link Chunks#CAPACITY} slots are open
   */
  Slot openSlot(IntFunction<Slot> make) {
    synchronized (lock) {
      Integer reused = freeIndices.pollFirst();
      if (reused == null && nextIndex == Chunks.CAPACITY) {
        throw new IllegalStateException(
            Chunks.CAPACITY + " slots are open, the most an engine holds: close some");
      }
      int index = reused != null ? reused : nextIndex++;
      Slot slot = make.apply(index);
      if (index >= openSlots.length) {
        openSlots = Arrays.copyOf(openSlots, Math.max(index + 1, openSlots.length * 2));
      }
      openSlots[index] = slot;
      return slot;
    }
  }

  /**
   * @return the open slot at {@code index} whose id is {@code id}, or null if it was closed
   */
  Slot openSlotAt(int index, long id) {
    synchronized (lock) {
      Slot slot = index < openSlots.length ? openSlots[index] : null;
      return slot != null && slot.id == id ? slot : null;
    }
  }

  /** A closed slot's index, once its close has dropped every registration on it. */
  void freeSlotIndex(int index) {
    synchronized (lock) {
      freeIndices.addFirst(index);
    }
  }

  /**
   * Marks {@code slot} closed, under this lock, so that {@link #arm} either sees it closed or
   * joined the table before the copy.
   *
   * @return every armed and walking state
   */
  List<ThreadState> close(Slot slot) {
    synchronized (lock) {
      slot.closed = true;
      openSlots[slot.index] = null;
      return armedStatesLocked();
    }
  }

  /**
   * @return every armed and walking state
   */
  List<ThreadState> armedStates() {
    synchronized (lock) {
      return armedStatesLocked();
    }
  }

  /** Guarded by {@link #lock}. */
  private List<ThreadState> armedStatesLocked() {
    assert Thread.holdsLock(lock);
    List<ThreadState> states = new ArrayList<>(armedCount);
    for (int i = 0; i < armedHighWater; i++) {
      if (armed[i] != null) {
        states.add(armed[i]);
      }
    }
    return states;
  }

  /**
   * @return the memory key of {@code chunk}, made on first use
   */
  long memoryKey(int chunk) {
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

  /**
   * @return the memory key of {@code chunk}, or 0 if no thread has made that chunk yet
   */
  long memoryKeyIfPresent(int chunk) {
    return memoryKeys.get(chunk);
  }

  /**
   * Whether {@code chunk} is still owned although its memory {@code key} reads NULL: in checked
   * mode the checker deletes the memory keys at shutdown (they free through a callback into the
   * JVM), and glibc then frees nothing through them.
   */
  boolean keptByDeletedKey(long key, long chunk) {
    return primitives instanceof CheckedPrimitives
        && ((CheckedPrimitives) primitives).keptByKeyDeletedAtShutdown(key, chunk);
  }

  /**
   * Made on first use, with the hook that deletes it at shutdown. A key whose hook cannot be added
   * is deleted again: nothing would delete it before the launcher's main thread dies after the JVM.
   *
   * @throws RuntimeException what adding the hook threw (a {@link SecurityException}, say), except
   *     that the JVM is shutting down: the key is then deleted and weave registers no more walks
   */
  private long walkerKey() {
    long key = walkerKey;
    if (key != 0) {
      return key;
    }
    synchronized (lock) {
      if (walkerKey == 0) {
        if (identityKey == 0) {
          identityKey = primitives.createKey(0);
        }
        key =
            nativeWalker != null
                ? primitives.createKey(nativeWalker.walkFunction)
                : primitives.createKey(walker);
        try {
          seam.addShutdownHook.accept(new Thread(this::shutDown, "weave-" + name + "-shutdown"));
        } catch (IllegalStateException alreadyShuttingDown) {
          shuttingDown = true;
          primitives.deleteKey(key);
        } catch (RuntimeException | Error e) {
          try {
            primitives.deleteKey(key);
          } catch (RuntimeException | Error notDeleted) {
            e.addSuppressed(notDeleted);
          }
          throw e;
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
      if (nativeWalker != null) {
        nativeWalker.shutDown(); // a walk under way calls no more into Java
      }
      primitives.deleteKey(walkerKey);
    }
  }

  /**
   * Checks {@code slot} open (if any) under this lock and puts {@code state} in the armed table,
   * with the calling thread's walker key naming it. A closing slot sweeps the states in the table;
   * checking the slot under the same lock as joining means a registration on it is either swept or
   * refused.
   *
   * @param record the state's registrations, whose address the walker key then holds
   * @return the state's index in the table, which {@code record} now holds too
   * @throws IllegalStateException if {@code slot} is closed; nothing changed then
   */
  int arm(ThreadState state, Slot slot, Record record) {
    long key = walkerKey();
    synchronized (lock) {
      if (slot != null) {
        slot.requireOpen();
      }
      if (state.token == 0) {
        state.token = tokenOfCallingThread();
      }
      int index = addArmed(state, record.address);
      record.armedAt(index);
      if (!shuttingDown) { // the key is deleted then, and glibc may give its index to another
        try {
          primitives.setKey(key, record.address);
        } catch (RuntimeException | Error e) {
          removeArmed(index);
          throw e;
        }
      }
      return index;
    }
  }

  /** Takes the state at {@code index} out of the table, and clears the walker key. */
  void disarm(int index) {
    synchronized (lock) {
      if (!shuttingDown) {
        primitives.setKey(walkerKey, 0);
      }
      removeArmed(index);
    }
  }

  /** Takes the state at {@code index} out of the table: its walk at death has ended. */
  void leave(int index) {
    synchronized (lock) {
      removeArmed(index);
    }
  }

  /**
   * @return the armed state whose record is at {@code record} (a walker key's value), or null
   */
  ThreadState armedAt(long record) {
    synchronized (lock) {
      return armedAtLocked(record);
    }
  }

  /** Guarded by {@link #lock}. */
  private ThreadState armedAtLocked(long record) {
    assert Thread.holdsLock(lock);
    if (record == 0) {
      return null;
    }
    long index = primitives.getWord(record + Record.ARMED_INDEX);
    return index >= 0 && index < armedHighWater && armedRecords[(int) index] == record
        ? armed[(int) index]
        : null;
  }

  /**
   * @return the armed state the calling OS thread's walker key names (or, once shutdown has deleted
   *     that key, its identity key), or null
   */
  ThreadState armedOnCallingThread() {
    return armedOnCallingThread(primitives);
  }

  /**
   * As {@link #armedOnCallingThread()}, reading the keys through {@code keys}: another engine's
   * primitives, when it asks (pthread keys are the process's).
   */
  ThreadState armedOnCallingThread(NativePrimitives keys) {
    synchronized (lock) {
      if (walkerKey == 0) {
        return null;
      }
      if (!shuttingDown) {
        return armedAtLocked(keys.getKey(walkerKey));
      }
      long token = keys.getKey(identityKey); // a deleted key's index may be another's now
      for (int i = 0; token != 0 && i < armedHighWater; i++) {
        if (armed[i] != null && armed[i].token == token) {
          return armed[i];
        }
      }
      return null;
    }
  }

  /** Guarded by {@link #lock}: the calling OS thread's token, made and set on first use. */
  private long tokenOfCallingThread() {
    assert Thread.holdsLock(lock);
    long token = primitives.getKey(identityKey);
    if (token == 0) {
      token = ++lastToken;
      primitives.setKey(identityKey, token);
    }
    return token;
  }

  /**
   * @return how many states are armed or walking
   */
  int armedCount() {
    synchronized (lock) {
      return armedCount;
    }
  }

  boolean shuttingDown() {
    return shuttingDown;
  }

  /** Guarded by {@link #lock}. @return the state's index in the table */
  private int addArmed(ThreadState state, long record) {
    assert Thread.holdsLock(lock);
    int index;
    if (freeArmedCount > 0) {
      index = freeArmed[--freeArmedCount];
    } else {
      if (armedHighWater == armed.length) {
        armed = Arrays.copyOf(armed, armed.length * 2);
        armedRecords = Arrays.copyOf(armedRecords, armed.length);
        freeArmed = Arrays.copyOf(freeArmed, armed.length);
      }
      index = armedHighWater++;
    }
    armed[index] = state;
    armedRecords[index] = record;
    armedCount++;
    return index;
  }

  /** Guarded by {@link #lock}. */
  private void removeArmed(int index) {
    assert Thread.holdsLock(lock);
    armed[index] = null;
    armedRecords[index] = 0;
    freeArmed[freeArmedCount++] = index;
    armedCount--;
  }
}
