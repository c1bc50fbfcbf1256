package dev.weave.spi;

import java.util.HashSet;
import java.util.Set;

/**
 * Deliberately broken {@link NativePrimitives}, put between an engine and its checker so that the
 * interleaving harness and the checker's own tests must find what they do wrong.
 */
class BrokenPrimitives extends ForwardingPrimitives {
  /** Forwards everything; a subclass breaks what it overrides. */
  BrokenPrimitives(NativePrimitives delegate) {
    super(delegate);
  }

  /** Frees every block twice. */
  static NativePrimitives freeingTwice(NativePrimitives delegate) {
    return new BrokenPrimitives(delegate) {
      @Override
      public void free(long address) {
        super.free(address);
        super.free(address);
      }
    };
  }

  /**
   * Frees every block it handed out as soon as a native destructor has been called, before the
   * destructors after it read their cells; the engine's own frees of those blocks later do nothing.
   */
  static NativePrimitives freeingCellsAtTheFirstNativeDestructor(NativePrimitives delegate) {
    return new BrokenPrimitives(delegate) {
      private final Set<Long> handedOut = new HashSet<>();
      private final Set<Long> freedEarly = new HashSet<>();

      @Override
      public synchronized long allocateZeroed(long bytes) {
        long address = super.allocateZeroed(bytes);
        handedOut.add(address);
        return address;
      }

      @Override
      public synchronized void free(long address) {
        handedOut.remove(address);
        if (!freedEarly.remove(address)) {
          super.free(address);
        }
      }

      @Override
      public synchronized void callDestructor(long function, long argument) {
        super.callDestructor(function, argument);
        for (long address : handedOut) {
          super.free(address);
        }
        freedEarly.addAll(handedOut);
        handedOut.clear();
      }
    };
  }
}
