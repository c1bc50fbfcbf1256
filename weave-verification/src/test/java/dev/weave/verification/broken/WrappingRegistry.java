package dev.weave.verification.broken;

import dev.weave.Destructor;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.spi.NativePrimitives;

/**
 * Turns every registration on a slot into a Java destructor made by {@link #wrap} (a native one is
 * then called from Java, through the same primitives). Registrations on a bare variable pass
 * through unchanged.
 */
abstract class WrappingRegistry extends ForwardingRegistry {
  final NativePrimitives primitives;

  WrappingRegistry(DestructorRegistry delegate, NativePrimitives primitives) {
    super(delegate);
    this.primitives = primitives;
  }

  abstract Destructor wrap(ThreadLocalSlot slot, Destructor destructor);

  @Override
  public void register(ThreadLocalSlot slot, Destructor destructor) {
    if (slot == null || destructor == null) {
      delegate.register(slot, destructor); // throws what the contract says
      return;
    }
    delegate.register(slot, wrap(slot, destructor));
  }

  @Override
  public void registerNative(ThreadLocalSlot slot, long function) {
    if (slot == null || function == 0) {
      delegate.registerNative(slot, function); // throws what the contract says
      return;
    }
    delegate.register(slot, wrap(slot, value -> primitives.callDestructor(function, value)));
  }
}
