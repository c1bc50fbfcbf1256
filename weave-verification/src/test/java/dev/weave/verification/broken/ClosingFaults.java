package dev.weave.verification.broken;

import static dev.weave.verification.broken.Broken.broken;

import dev.weave.Destructor;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.spi.Engine;
import dev.weave.spi.ForwardingPrimitives;
import dev.weave.spi.NativePrimitives;
import dev.weave.tck.Rule;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Rule 11, closing and reusing slots: its broken backends, and the cases each must fail. */
public final class ClosingFaults {
  private ClosingFaults() {}

  static List<Broken> expected() {
    return List.of(
        broken("broken-runs-closed-slots", Rule.R11)
            .fails(
                "r11-close-drops",
                "but was: <[3 Java destructor call(s) on the closed slot, 3 native destructor call(s)"),
        broken("broken-new-slot-reads-old", Rule.R11)
            .fails(
                "r11-new-slot-reads-zero",
                "reads 0xbeef, then 0xbeef once its cell is made, whose memory holds 0x0"),
        broken("broken-reused-cell-not-zeroed", Rule.R11)
            .fails("r11-new-slot-reads-zero", "then 0xbeef once its cell is made"),
        broken("broken-close-drops-own-only", Rule.R11)
            .fails(
                "r11-close-drops",
                "weave-tck-closing-2: unregister(its cell) after close() found a registration"));
  }

  /** Rule 11: a closed slot's registrations still run at death, with the value its cell holds. */
  public static final class RunsClosedSlots extends TestBackend {
    public RunsClosedSlots() {
      super("broken-runs-closed-slots", -18);
    }

    @Override
    DestructorRegistry build(String name) {
      NativePrimitives primitives = BrokenBackends.jna();
      Engine engine = new Engine(name, primitives);
      ThreadLocalSlot hidden = engine.newSlot(); // its registrations run what close() dropped
      return new WrappingRegistry(engine, primitives) {
        @Override
        Destructor wrap(ThreadLocalSlot slot, Destructor destructor) {
          long cell = slot.cellAddress();
          delegate.register(
              hidden,
              value -> {
                if (isClosed(slot)) {
                  destructor.destroy(primitives.getWord(cell));
                }
              });
          return destructor;
        }
      };
    }
  }

  /**
   * Rule 11: a new slot on a closed slot's storage reads the value last set there until it is set
   * on the calling thread (slots of its own around the engine's remember the last value set in each
   * cell).
   */
  public static final class NewSlotReadsOld extends TestBackend {
    public NewSlotReadsOld() {
      super("broken-new-slot-reads-old", -19);
    }

    @Override
    DestructorRegistry build(String name) {
      Map<Long, Long> lastValues = new ConcurrentHashMap<>();
      return new SlotWrappingRegistry(new Engine(name, BrokenBackends.jna())) {
        @Override
        WrappedSlot wrap(ThreadLocalSlot inner) {
          ThreadLocal<Boolean> setHere = new ThreadLocal<>();
          return new WrappedSlot(inner) {
            @Override
            public long get() {
              long value = inner.get();
              if (value == 0 && setHere.get() == null) {
                return lastValues.getOrDefault(inner.cellAddress(), 0L);
              }
              return value;
            }

            @Override
            public void set(long value) {
              inner.set(value);
              setHere.set(true);
              lastValues.put(inner.cellAddress(), value);
            }
          };
        }
      };
    }
  }

  /**
   * Rule 11: the engine does not zero a cell it hands to a new slot, so a new slot on a closed
   * slot's storage finds the old value there once its cell is made on a thread. The engine zeroes
   * such a cell with {@code putWord(cell, 0)} just before it writes the new slot's id into the
   * cell's owner word; these primitives drop that zero.
   */
  public static final class ReusedCellNotZeroed extends TestBackend {
    public ReusedCellNotZeroed() {
      super("broken-reused-cell-not-zeroed", -29);
    }

    @Override
    DestructorRegistry build(String name) {
      ThreadLocal<long[]> pendingZero = ThreadLocal.withInitial(() -> new long[1]);
      ChunkTracking chunks = new ChunkTracking(BrokenBackends.jna());
      return new Engine(
          name,
          new ForwardingPrimitives(chunks) {
            @Override
            public void putWord(long address, long value) {
              long[] pending = pendingZero.get();
              if (value == 0 && chunks.ownerWordOf(address) != 0) {
                flush(pending);
                pending[0] = address; // held back until the next write says what it was for
                return;
              }
              if (pending[0] != 0 && chunks.ownerWordOf(pending[0]) == address) {
                pending[0] = 0; // the fault: the zero of the cell whose owner this is, dropped
              }
              flush(pending);
              delegate.putWord(address, value);
            }

            @Override
            public long getWord(long address) {
              flush(pendingZero.get());
              return delegate.getWord(address);
            }

            private void flush(long[] pending) {
              if (pending[0] != 0) {
                delegate.putWord(pending[0], 0);
                pending[0] = 0;
              }
            }
          });
    }
  }

  /**
   * Rule 11: {@code close()} drops the closing thread's registrations on the slot, and no other
   * thread's. Its walk skips a registration made through a slot that is closed, as weave's engine
   * does, so what close() left behind runs only where it was made on the cell's address; but each
   * such thread still holds it, which {@code unregister(cell)} shows. Slots of its own around the
   * engine's: close() unregisters the calling thread's and marks the slot closed, and the engine's
   * slot stays open.
   */
  public static final class CloseDropsOwnOnly extends TestBackend {
    public CloseDropsOwnOnly() {
      super("broken-close-drops-own-only", -30);
    }

    @Override
    DestructorRegistry build(String name) {
      NativePrimitives primitives = BrokenBackends.jna();
      return new SlotWrappingRegistry(new Engine(name, primitives)) {
        @Override
        WrappedSlot wrap(ThreadLocalSlot inner) {
          return new ClosableSlot(inner);
        }

        @Override
        ThreadLocalSlot unwrap(ThreadLocalSlot slot) {
          if (own(slot) instanceof ClosableSlot closable && closable.closed) {
            throw new IllegalStateException("slot is closed");
          }
          return super.unwrap(slot);
        }

        @Override
        public void register(ThreadLocalSlot slot, Destructor destructor) {
          ThreadLocalSlot inner = unwrap(slot);
          ClosableSlot closable = (ClosableSlot) own(slot);
          delegate.register(
              inner,
              destructor == null
                  ? null
                  : value -> {
                    if (!closable.closed) {
                      destructor.destroy(value);
                    }
                  });
        }

        @Override
        public void registerNative(ThreadLocalSlot slot, long function) {
          if (slot == null || function == 0) {
            delegate.registerNative(unwrap(slot), function); // throws what the contract says
            return;
          }
          register(slot, value -> primitives.callDestructor(function, value));
        }

        final class ClosableSlot extends WrappedSlot {
          volatile boolean closed;

          ClosableSlot(ThreadLocalSlot inner) {
            super(inner);
          }

          private ThreadLocalSlot open() {
            if (closed) {
              throw new IllegalStateException("slot is closed");
            }
            return inner;
          }

          @Override
          public long get() {
            return open().get();
          }

          @Override
          public void set(long value) {
            open().set(value);
          }

          @Override
          public long cellAddress() {
            return open().cellAddress();
          }

          @Override
          public void close() {
            if (!closed) {
              delegate.unregister(inner); // the fault: this thread's registrations, and no more
              closed = true;
            }
          }
        }
      };
    }
  }
}
