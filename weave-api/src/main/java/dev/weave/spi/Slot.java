package dev.weave.spi;

import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A slot of an {@link Engine}: an index into every thread's chunks ({@link Chunks}) and an id that
 * the owner word of its cell on each thread holds, so that a new slot on a closed slot's index
 * reads 0 until set. {@link #get()} and {@link #set(long)} find the calling thread's cell in its
 * state's cache without a lock; the first use on a thread takes the slow path.
 */
final class Slot implements ThreadLocalSlot {
  private final Engine engine;
  private final Ledger ledger;
  private final Bindings bindings;
  final int index;
  final long id;

  /** Set under the engine's lock, by {@link Ledger#close(Slot)}. */
  volatile boolean closed;

  /** Held for the whole of close(), so a second closer returns only once the first is done. */
  private final ReentrantLock closing = new ReentrantLock();

  Slot(Engine engine, Ledger ledger, int index, long id) {
    this.engine = engine;
    this.ledger = ledger;
    this.bindings = engine.bindings;
    this.index = index;
    this.id = id;
  }

  Engine engine() {
    return engine;
  }

  void requireOpen() {
    if (closed) {
      throw new IllegalStateException("slot is closed");
    }
  }

  @Override
  public long get() {
    requireOpen();
    ThreadState state = bindings.bound();
    if (state != null) {
      long[] owners = state.cellOwners;
      if (index < owners.length && owners[index] == id) {
        return state.read(index);
      }
    }
    state = engine.currentState();
    return state.cellIfPresent(this) == 0 ? 0 : state.read(index);
  }

  @Override
  public void set(long value) {
    requireOpen();
    ThreadState state = bindings.bound();
    if (state == null || index >= state.cellOwners.length || state.cellOwners[index] != id) {
      state = engine.currentState();
      state.cellOrCreate(this);
    }
    state.write(index, value);
  }

  @Override
  public long cellAddress() {
    requireOpen();
    ThreadState state = bindings.bound();
    if (state != null) {
      long[] owners = state.cellOwners;
      if (index < owners.length && owners[index] == id) {
        return state.cellAddresses[index];
      }
    }
    return engine.currentState().cellOrCreate(this);
  }

  @Override
  public DestructorRegistry registry() {
    return engine;
  }

  @Override
  public void close() {
    PlatformThreads.require();
    if (ThreadState.RUNNING_DESTRUCTORS.get() != null) {
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
      List<ThreadState> withRegistrations = ledger.close(this);
      for (ThreadState state : withRegistrations) {
        state.drop(this);
      }
      ledger.freeSlotIndex(index);
    } finally {
      closing.unlock();
    }
  }

  @Override
  public String toString() {
    return "ThreadLocalSlot["
        + engine.backendName()
        + " #"
        + index
        + (closed ? ", closed" : "")
        + "]";
  }
}
