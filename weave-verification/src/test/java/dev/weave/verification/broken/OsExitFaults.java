package dev.weave.verification.broken;

import static dev.weave.verification.broken.Broken.broken;

import com.sun.jna.Pointer;
import dev.weave.Destructor;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.spi.Engine;
import dev.weave.tck.Rule;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Rule 15, calls during a thread's OS exit: its broken backends, and the cases each must fail. */
public final class OsExitFaults {
  private OsExitFaults() {}

  static List<Broken> expected() {
    return List.of(
        broken("broken-stale-cell-cache", Rule.R15)
            // the cell read after glibc freed it: the perturbed heap, or the allocator's own words
            .cases("^r15-")
            .fails("r15-os-exit-slots-only", "seen: before reads 1, after reads ")
            .fails(
                "r15-os-exit-registrations",
                "seen: before reads 1, first gets 2, second gets 2, after reads "));
  }

  /**
   * Rule 15: weave's engine behind slots that remember, per {@link Thread}, the cell each read
   * found, and read it there from then on without asking whether the thread still owns it. On a
   * thread started by Java that is harmless; in an attachment that stays attached while glibc frees
   * the thread's cells at its OS exit (another library's key destructor, before and after weave's
   * keys), the later read is of freed memory. Issue 17's defect 1, reproduced from outside.
   */
  public static final class StaleCellCache extends TestBackend {
    public StaleCellCache() {
      super("broken-stale-cell-cache", -30);
    }

    @Override
    DestructorRegistry build(String name) {
      return new Registry(new Engine(name, BrokenBackends.jna()));
    }

    private static final class Registry extends ForwardingRegistry {
      Registry(DestructorRegistry delegate) {
        super(delegate);
      }

      @Override
      public ThreadLocalSlot newSlot() {
        return new CachingSlot(this, delegate.newSlot());
      }

      private ThreadLocalSlot unwrap(ThreadLocalSlot slot) {
        return slot instanceof CachingSlot caching ? caching.inner : slot;
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
    }

    private static final class CachingSlot implements ThreadLocalSlot {
      private final DestructorRegistry registry;
      final ThreadLocalSlot inner;
      private final ThreadLocal<Map<ThreadLocalSlot, Long>> cells =
          ThreadLocal.withInitial(HashMap::new);

      CachingSlot(DestructorRegistry registry, ThreadLocalSlot inner) {
        this.registry = registry;
        this.inner = inner;
      }

      @Override
      public long get() {
        long value = inner.get(); // its checks (closed, virtual thread), and the first value
        Long cell = cells.get().get(this);
        if (cell == null) {
          cells.get().put(this, inner.cellAddress());
          return value;
        }
        return new Pointer(cell).getLong(0);
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
        return registry;
      }

      @Override
      public void close() {
        inner.close();
      }
    }
  }
}
