package dev.weave.verification.broken;

import dev.weave.Destructor;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * Keeps, per thread, the registrations made through it in order, so that it can take them all off
 * the real registry and put them back in another order or without one of them.
 */
abstract class ShadowRegistry extends ForwardingRegistry {
  /**
   * One registration: its variable, its slot (null for a plain variable) and how to make it again.
   */
  record Entry(long variable, ThreadLocalSlot slot, Runnable register) {
    boolean slotClosed() {
      return slot != null && isClosed(slot);
    }
  }

  private final ThreadLocal<List<Entry>> entries = ThreadLocal.withInitial(ArrayList::new);

  ShadowRegistry(DestructorRegistry delegate) {
    super(delegate);
  }

  /** Called after each registration. */
  void registered() {}

  /**
   * Called by {@code unregister} on a variable of this thread's; returns its result, or false to
   * let the real registry answer.
   */
  boolean unregistering(long variable) {
    return false;
  }

  /** This thread's registrations, but those on slots closed since: close() dropped them. */
  List<Entry> entries() {
    List<Entry> own = entries.get();
    own.removeIf(Entry::slotClosed);
    return own;
  }

  Set<Long> variables() {
    Set<Long> variables = new LinkedHashSet<>();
    for (Entry entry : entries()) {
      variables.add(entry.variable());
    }
    return variables;
  }

  void rebuild(boolean reversed) {
    rebuild(reversed, variables());
  }

  /** Takes this thread's registrations on {@code variables} off, then makes them again. */
  void rebuild(boolean reversed, Set<Long> variables) {
    for (long variable : variables) {
      delegate.unregister(variable);
    }
    List<Entry> order = new ArrayList<>(entries());
    if (reversed) {
      Collections.reverse(order);
    }
    for (Entry entry : order) {
      try {
        entry.register().run();
      } catch (IllegalStateException closedSlot) {
        entries().remove(entry);
      }
    }
  }

  private void add(Runnable register, ThreadLocalSlot slot, LongSupplier variable) {
    register.run(); // the real checks, and the registration
    long address = variable.getAsLong();
    entries().add(new Entry(address, slot == null ? slotOfCell(address) : slot, register));
    registered();
  }

  /**
   * The slot whose cell on this thread {@code address} is, where a registration through it tells;
   * else null. A registration on a cell's address belongs to its slot: close() drops it too.
   */
  private ThreadLocalSlot slotOfCell(long address) {
    for (Entry entry : entries()) {
      if (entry.slot() != null && entry.variable() == address) {
        return entry.slot();
      }
    }
    return null;
  }

  @Override
  public void register(ThreadLocalSlot slot, Destructor destructor) {
    add(() -> delegate.register(slot, destructor), slot, () -> slot.cellAddress());
  }

  @Override
  public void registerNative(ThreadLocalSlot slot, long function) {
    add(() -> delegate.registerNative(slot, function), slot, () -> slot.cellAddress());
  }

  @Override
  public void registerNative(long variable, long function) {
    add(() -> delegate.registerNative(variable, function), null, () -> variable);
  }

  @Override
  public boolean unregister(ThreadLocalSlot slot) {
    long variable;
    try {
      variable = slot.cellAddress();
    } catch (RuntimeException badSlot) {
      return delegate.unregister(slot); // throws what the contract says
    }
    if (variable != 0 && unregistering(variable)) {
      return true;
    }
    entries().removeIf(e -> e.variable() == variable);
    return delegate.unregister(slot);
  }

  @Override
  public boolean unregister(long variable) {
    if (variable != 0 && unregistering(variable)) {
      return true;
    }
    entries().removeIf(e -> e.variable() == variable);
    return delegate.unregister(variable);
  }

  @Override
  public void runDestructors() {
    entries().clear(); // they run now, and are gone
    delegate.runDestructors();
  }
}
