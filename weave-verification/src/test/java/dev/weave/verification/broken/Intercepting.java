package dev.weave.verification.broken;

import dev.weave.Destructor;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.spi.Engine;
import dev.weave.spi.ForwardingPrimitives;
import dev.weave.spi.NativePrimitives;
import dev.weave.spi.ThreadDeathHandler;

/**
 * The engine over JNA's primitives with every destructor call of a walk, Java or native, in every
 * form, passed to {@link Walk#call}, which decides whether and how it runs; each walk, at a
 * thread's death or in {@code runDestructors()}, starts with {@link Walk#starts()} on the walking
 * thread. A fault in how a walk goes through a thread's registrations lives in a {@link Walk}.
 */
final class Intercepting {
  private Intercepting() {}

  /** What a walk does with each destructor call. */
  interface Walk {
    /** A walk starts on the calling thread. */
    void starts();

    /** The walk would call a destructor now: {@code destructor} calls it. */
    void call(Runnable destructor);
  }

  static DestructorRegistry registry(String name, Walk walk) {
    NativePrimitives primitives =
        new ForwardingPrimitives(BrokenBackends.jna()) {
          @Override
          public long createKey(ThreadDeathHandler handler) {
            return delegate.createKey(
                value -> {
                  walk.starts();
                  handler.threadDied(value);
                });
          }

          @Override
          public void callDestructor(long function, long argument) {
            walk.call(() -> delegate.callDestructor(function, argument));
          }
        };
    return new ForwardingRegistry(new Engine(name, primitives)) {
      @Override
      public void register(ThreadLocalSlot slot, Destructor destructor) {
        delegate.register(
            slot, destructor == null ? null : value -> walk.call(() -> destructor.destroy(value)));
      }

      @Override
      public void runDestructors() {
        walk.starts();
        delegate.runDestructors();
      }
    };
  }
}
