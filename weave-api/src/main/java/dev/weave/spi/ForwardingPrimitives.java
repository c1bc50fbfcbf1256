package dev.weave.spi;

import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * {@link NativePrimitives} that pass every call to other primitives: a subclass overrides what it
 * changes. For a backend's author, a place to trace or count what the {@link Engine} asks of the
 * backend, or to plant a fault in a copy of it and see the TCK catch it; weave's own tests build
 * their deliberately broken engines on it.
 *
 * <p>Put it between an engine and a {@link CheckedPrimitives} to act below the checker (the checker
 * then sees the engine's calls as the engine made them), or give it to the engine with a checker
 * below it to change what the engine's calls do.
 */
public class ForwardingPrimitives implements NativePrimitives {
  /** The primitives every call goes to. */
  protected final NativePrimitives delegate;

  /**
   * @param delegate the primitives that do the work
   */
  public ForwardingPrimitives(NativePrimitives delegate) {
    this.delegate = Objects.requireNonNull(delegate, "delegate is null");
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
