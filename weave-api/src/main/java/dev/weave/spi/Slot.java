package dev.weave.spi;

import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import java.util.List;

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

  /** Guards {@link #closer}; held only to take and give back the slot's close. */
  private final Object closeLock = new Object();

  /**
   * The thread whose close() is under way, if any: a second closer returns only once it is done.
   * Guarded by {@link #closeLock}.
   */
  private Thread closer;

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
    long cell = state.cellIfPresent(this);
    return cell == 0 ? 0 : state.readUncached(cell);
  }

  @Override
  public void set(long value) {
    requireOpen();
    ThreadState state = bindings.bound();
    if (state != null) {
      long[] owners = state.cellOwners;
      if (index < owners.length && owners[index] == id) {
        state.write(index, value);
        return;
      }
    }
    state = engine.currentState();
    state.writeUncached(state.cellOrCreate(this), value);
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
    engine.reclaimWalked();
    if (!startClosing()) {
      return;
    }
    try {
      if (closed) {
        return;
      }
      List<ThreadState> armed = ledger.close(this);
      for (ThreadState state : armed) {
        state.drop(this);
      }
      ledger.freeSlotIndex(index);
    } finally {
      finishClosing();
    }
  }

  /**
   * Takes this slot's close, waiting for a closer that holds it, unless that closer waits for the
   * calling thread ({@link CloseWaits}: it is then running a destructor, whose close of this slot
   * would otherwise never return).
   *
   * @return false if it did not: the slot is closed, and the first closer finishes dropping once
   *     the calling thread's destructor returns
   */
  private boolean startClosing() {
    boolean interrupted = false;
    try {
      synchronized (closeLock) {
        while (closer != null) {
          if (engine.seam().has(Seam.Fault.SECOND_CLOSE_RETURNS_AT_ONCE)
              || !CloseWaits.start(closer)) {
            return false;
          }
          try {
            closeLock.wait();
          } catch (InterruptedException e) {
            interrupted = true;
          } finally {
            CloseWaits.stop();
          }
        }
        closer = Thread.currentThread();
        return true;
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private void finishClosing() {
    synchronized (closeLock) {
      closer = null;
      closeLock.notifyAll();
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
