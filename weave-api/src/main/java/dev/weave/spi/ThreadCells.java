package dev.weave.spi;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.function.Predicate;

/**
 * The memory half of a {@link ThreadState}: one OS thread's chunks of cells ({@link Chunks}) and
 * the cache through which its slots find their cells. The two halves are one object, so that the
 * fast path of {@link Slot#get()} reads the cache with one load from the state it finds.
 *
 * <p>The cache ({@link #cellOwners}, {@link #cellAddresses}, {@link #views}, {@link #cellsInUse})
 * is confined to the state's own OS thread, written and read there without a lock. {@link #chunks}
 * is written by that thread under the state's monitor and read by it freely; another thread reads
 * it only under the monitor.
 */
abstract class ThreadCells {
  private static final long[] NO_CELLS = new long[0];

  final Ledger ledger;
  final NativePrimitives primitives;

  /** Whether {@link NativePrimitives#directBuffer} gives views of chunks. */
  final boolean cellViews;

  /** Per chunk, its address, or 0 if this thread has not made it. */
  final long[] chunks = new long[Chunks.MAX_CHUNKS];

  /** Per slot index: the id of the slot whose cell this thread has there, and its address. */
  long[] cellOwners = NO_CELLS;

  long[] cellAddresses = NO_CELLS;

  /** Per chunk, a direct buffer over its cells, or null. */
  final ByteBuffer[] views = new ByteBuffer[Chunks.MAX_CHUNKS];

  /** Every cell at an index from here on reads 0: cells below it were handed out on this thread. */
  int cellsInUse;

  /**
   * Whether the cache is on. It is off until the attachment this state is bound to is known to be a
   * thread started by Java ({@link Bindings}): one the JVM did not start may outlive the chunks'
   * keys, so with the cache off every slot call takes the slow path, which checks that the chunks
   * are still on their memory keys ({@link #chunksOnTheirKeys()}) before touching them. Owner
   * thread.
   */
  private boolean cached;

  /** Whether the attachment's kind is decided. Owner thread. */
  private boolean classified;

  /** Slow-path calls in this attachment so far, until it is classified. Owner thread. */
  private int slowCalls;

  /**
   * Slow-path calls an attachment makes before it is classified: the stack walk that tells (about
   * 10 µs on a new thread) is then paid only by threads that use weave more than a few times.
   */
  static final int CALLS_BEFORE_CLASSIFYING = 16;

  ThreadCells(Ledger ledger, NativePrimitives primitives, boolean cellViews) {
    this.ledger = ledger;
    this.primitives = primitives;
    this.cellViews = cellViews;
  }

  /** Whether a new chunk goes on its memory key: only while the thread has no registration. */
  abstract boolean chunksOnMemoryKeys();

  /** Under the state's monitor: a chunk was made, which a walk at death must free. */
  abstract void chunkAllocated(int chunk, long address);

  /** Owner thread, when the state is bound to an attachment: its kind is not known yet. */
  void boundHere() {
    cached = false;
    classified = false;
    slowCalls = 0;
    cellOwners = NO_CELLS;
    cellAddresses = NO_CELLS;
  }

  /**
   * Owner thread, on each slow-path call. A subclass of {@link Thread} was started by Java, which
   * is cheap to see; a plain {@code Thread} is asked {@code startedByJava} at its {@value
   * #CALLS_BEFORE_CLASSIFYING}th slow-path call. The cache goes on for a thread started by Java.
   */
  void countSlowCall(Predicate<Thread> startedByJava) {
    if (classified) {
      return;
    }
    Thread thread = Thread.currentThread();
    if (thread.getClass() != Thread.class || ++slowCalls >= CALLS_BEFORE_CLASSIFYING) {
      classified = true;
      cached = startedByJava.test(thread);
    }
  }

  /** Owner thread: whether the cell cache is off, so every call checks the chunks' keys first. */
  boolean uncached() {
    return !cached;
  }

  /**
   * Owner thread: whether each chunk is still the value of its memory key. glibc clears a key's
   * value before calling its destructor (libc {@code free}), so a chunk that is not was freed, or
   * is about to be, during the thread's OS exit (contract rule 15). One {@code pthread_getspecific}
   * a chunk.
   */
  boolean chunksOnTheirKeys() {
    for (int chunk = 0; chunk < Chunks.MAX_CHUNKS; chunk++) {
      long address = chunks[chunk];
      if (address != 0) {
        long key = ledger.memoryKeyIfPresent(chunk);
        if (key == 0
            || (primitives.getKey(key) != address && !ledger.keptByDeletedKey(key, address))) {
          return false;
        }
      }
    }
    return true;
  }

  /**
   * Owner thread, under the state's monitor.
   *
   * @return whether {@code address} is in one of this thread's chunks, cells or owner words
   */
  boolean holdsAddress(long address) {
    for (int chunk = 0; chunk < Chunks.MAX_CHUNKS; chunk++) {
      long base = chunks[chunk];
      if (base != 0 && address >= base && address < base + Chunks.bytesOf(chunk)) {
        return true;
      }
    }
    return false;
  }

  /**
   * Owner thread: the slot index of the cell at {@code address} in this thread's chunks.
   *
   * @return the index, or -1 if {@code address} is in none of them
   * @throws IllegalArgumentException if it is in a chunk's owner words, weave's own bookkeeping
   */
  int slotIndexAt(long address) {
    for (int chunk = 0; chunk < Chunks.MAX_CHUNKS; chunk++) {
      long base = chunks[chunk];
      if (base != 0 && address >= base && address < base + Chunks.bytesOf(chunk)) {
        long cell = (address - base) / Long.BYTES;
        if (cell >= Chunks.cellsIn(chunk)) {
          throw new IllegalArgumentException(
              "variable 0x"
                  + Long.toHexString(address)
                  + " is one of weave's owner words, not a cell; register a slot's cellAddress()");
        }
        return Chunks.firstIndex(chunk) + (int) cell;
      }
    }
    return -1;
  }

  /** Owner thread: the id of the slot that last used slot index {@code index}'s cell here. */
  long ownerAt(int index) {
    return primitives.getWord(chunks[Chunks.chunkOf(index)] + Chunks.ownerOffset(index));
  }

  /** Owner thread: the value of a cell this thread has, found on the slow path. */
  long readUncached(long cell) {
    return primitives.getWord(cell);
  }

  /** Owner thread: sets a cell this thread has, found on the slow path. */
  void writeUncached(long cell, long value) {
    primitives.putWord(cell, value);
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
   * The slot's cell from the owner words in native memory, or 0: on the owner thread, or under the
   * state's monitor while the state holds registrations.
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

  /** Owner thread, under the state's monitor. Leaves nothing behind if it throws. */
  private void allocateChunk(int chunk) {
    assert Thread.holdsLock(this);
    long key = chunksOnMemoryKeys() ? ledger.memoryKey(chunk) : 0;
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
    chunkAllocated(chunk, address);
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
    if (!cached) {
      return;
    }
    if (index >= cellOwners.length) {
      int length = Math.max(Chunks.FIRST_CHUNK_CELLS, Integer.highestOneBit(index) << 1);
      cellAddresses = Arrays.copyOf(cellAddresses, length);
      cellOwners = Arrays.copyOf(cellOwners, length);
    }
    cellAddresses[index] = cell;
    cellOwners[index] = slotId;
  }

  /**
   * Owner thread, under the state's monitor: each chunk onto its memory key ({@code on}), or every
   * memory key to NULL, so that glibc frees nothing at the thread's death.
   */
  void putChunksOnMemoryKeys(boolean on) {
    assert Thread.holdsLock(this);
    for (int chunk = 0; chunk < Chunks.MAX_CHUNKS; chunk++) {
      if (chunks[chunk] != 0) {
        long key = on ? ledger.memoryKey(chunk) : ledger.memoryKeyIfPresent(chunk);
        if (key != 0) {
          primitives.setKey(key, on ? chunks[chunk] : 0);
        }
      }
    }
  }

  /** Owner thread, under the state's monitor: every cell handed out reads 0 (rule 13). */
  void zeroCells() {
    assert Thread.holdsLock(this);
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

  /** Owner thread, under the state's monitor: frees every chunk and empties the cache. */
  void freeChunks() {
    assert Thread.holdsLock(this);
    for (int chunk = 0; chunk < Chunks.MAX_CHUNKS; chunk++) {
      if (chunks[chunk] != 0) {
        primitives.free(chunks[chunk]);
        if (!ledger.seam.has(Seam.Fault.DEAD_STATE_STAYS_IN_USE)) {
          chunks[chunk] = 0;
          views[chunk] = null;
        }
      }
    }
    if (!ledger.seam.has(Seam.Fault.DEAD_STATE_STAYS_IN_USE)) {
      cellOwners = NO_CELLS;
      cellAddresses = NO_CELLS;
      cellsInUse = 0;
    }
  }
}
