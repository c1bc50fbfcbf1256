package dev.weave.spi;

import java.nio.ByteBuffer;
import java.util.HashSet;
import java.util.Set;

/**
 * Deliberately broken {@link NativePrimitives}, put between an engine and its checker so that the
 * interleaving harness and the checker's own tests must find what they do wrong.
 */
class BrokenPrimitives implements NativePrimitives {
  private final NativePrimitives delegate;

  /** Forwards everything; a subclass breaks what it overrides. */
  BrokenPrimitives(NativePrimitives delegate) {
    this.delegate = delegate;
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

  @Override
  public long allocateZeroed(long bytes) {
    return delegate.allocateZeroed(bytes);
  }

  @Override
  public void free(long address) {
    delegate.free(address);
  }

  @Override
  public long getWord(long address) {
    return delegate.getWord(address);
  }

  @Override
  public void putWord(long address, long value) {
    delegate.putWord(address, value);
  }

  @Override
  public long freeFunction() {
    return delegate.freeFunction();
  }

  @Override
  public long createKey(long destructorFunction) {
    return delegate.createKey(destructorFunction);
  }

  @Override
  public long createKey(ThreadDeathHandler handler) {
    return delegate.createKey(handler);
  }

  @Override
  public long getKey(long key) {
    return delegate.getKey(key);
  }

  @Override
  public void setKey(long key, long value) {
    delegate.setKey(key, value);
  }

  @Override
  public void deleteKey(long key) {
    delegate.deleteKey(key);
  }

  @Override
  public void callDestructor(long function, long argument) {
    delegate.callDestructor(function, argument);
  }

  @Override
  public ByteBuffer directBuffer(long address, int bytes) {
    return delegate.directBuffer(address, bytes);
  }
}
