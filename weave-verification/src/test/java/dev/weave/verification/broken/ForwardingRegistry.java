package dev.weave.verification.broken;

import dev.weave.Destructor;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;

/** Passes every call to the real registry. Slots are the real registry's own. */
abstract class ForwardingRegistry implements DestructorRegistry {
  final DestructorRegistry delegate;

  ForwardingRegistry(DestructorRegistry delegate) {
    this.delegate = delegate;
  }

  @Override
  public String backendName() {
    return delegate.backendName();
  }

  @Override
  public ThreadLocalSlot newSlot() {
    return delegate.newSlot();
  }

  @Override
  public void register(ThreadLocalSlot slot, Destructor destructor) {
    delegate.register(slot, destructor);
  }

  @Override
  public void registerNative(ThreadLocalSlot slot, long function) {
    delegate.registerNative(slot, function);
  }

  @Override
  public void registerNative(long variable, long function) {
    delegate.registerNative(variable, function);
  }

  @Override
  public boolean unregister(ThreadLocalSlot slot) {
    return delegate.unregister(slot);
  }

  @Override
  public boolean unregister(long variable) {
    return delegate.unregister(variable);
  }

  @Override
  public void runDestructors() {
    delegate.runDestructors();
  }

  @Override
  public String toString() {
    return getClass().getSimpleName() + "[" + backendName() + "]";
  }

  /** Whether {@code slot} is closed: its {@code get()} says so. */
  static boolean isClosed(ThreadLocalSlot slot) {
    try {
      slot.get();
      return false;
    } catch (IllegalStateException closed) {
      return String.valueOf(closed.getMessage()).contains("closed");
    }
  }
}
