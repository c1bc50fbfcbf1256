package dev.weave.verification.broken;

import dev.weave.Destructor;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;

/**
 * Hands out slots of its own around the real registry's, so that a fault can live in a slot's
 * methods. Every registry call takes the real slot out again, and refuses another backend's slot as
 * the contract says.
 */
abstract class SlotWrappingRegistry extends ForwardingRegistry {
  SlotWrappingRegistry(DestructorRegistry delegate) {
    super(delegate);
  }

  /** Makes this registry's slot around the real one. */
  abstract WrappedSlot wrap(ThreadLocalSlot inner);

  @Override
  public ThreadLocalSlot newSlot() {
    return wrap(delegate.newSlot());
  }

  /** The real slot inside {@code slot}; null for null, which the real registry refuses. */
  ThreadLocalSlot unwrap(ThreadLocalSlot slot) {
    return own(slot) == null ? null : own(slot).inner;
  }

  /** This registry's {@code slot}; null for null. */
  WrappedSlot own(ThreadLocalSlot slot) {
    if (slot == null) {
      return null;
    }
    if (slot instanceof WrappedSlot own && own.registry() == this) {
      return own;
    }
    throw new IllegalArgumentException(
        "slot belongs to "
            + (slot.registry() == null
                ? slot.getClass().getName()
                : "the " + slot.registry().backendName() + " backend")
            + ", not to the "
            + backendName()
            + " backend");
  }

  @Override
  public void register(ThreadLocalSlot slot, Destructor destructor) {
    delegate.register(unwrap(slot), destructor);
  }

  @Override
  public void registerNative(ThreadLocalSlot slot, long function) {
    delegate.registerNative(unwrap(slot), function);
  }

  @Override
  public boolean unregister(ThreadLocalSlot slot) {
    return delegate.unregister(unwrap(slot));
  }

  /** A slot that passes every call to the real one; a subclass changes what it breaks. */
  class WrappedSlot implements ThreadLocalSlot {
    final ThreadLocalSlot inner;

    WrappedSlot(ThreadLocalSlot inner) {
      this.inner = inner;
    }

    @Override
    public long get() {
      return inner.get();
    }

    @Override
    public void set(long value) {
      inner.set(value);
    }

    @Override
    public long cellAddress() {
      return inner.cellAddress();
    }

    @Override
    public DestructorRegistry registry() {
      return SlotWrappingRegistry.this;
    }

    @Override
    public void close() {
      inner.close();
    }

    @Override
    public String toString() {
      return inner.toString();
    }
  }
}
