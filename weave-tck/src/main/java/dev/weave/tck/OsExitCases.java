package dev.weave.tck;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.jna.Callback;
import com.sun.jna.CallbackThreadInitializer;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.spi.CheckedPrimitives;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Rule 15: weave calls made by other libraries' pthread key destructors on a thread during its OS
 * exit, in an attachment that stays attached (as an FFM upcall's does, and a JNI-attached thread
 * that exits without detaching), one key visited before weave's keys and one after.
 *
 * <p>The key before is made when the TCK's cases are listed: in the child JVM that runs a backend's
 * cases, before the backend has made any key, so glibc (which gives a new key the lowest free index
 * and visits keys in index order) visits it before the backend's. The key after is made once the
 * backend has made its keys. Each key's destructor is a JNA callback whose thread is left attached
 * after the call, until its exit.
 */
final class OsExitCases {
  private static final LibraryKey BEFORE_WEAVE = new LibraryKey();

  private OsExitCases() {}

  static List<TckCase> all() {
    return List.of(
        TckCase.of(
            "r15-os-exit-slots-only",
            Rule.R15,
            "a thread that only set a slot: key destructors before and after weave's get, set and register, and see its live cell or 0, never freed memory",
            OsExitCases::slotsOnly),
        TckCase.of(
            "r15-os-exit-registrations",
            Rule.R15,
            "a thread with a registration: key destructors before and after weave's get, set and register; each destructor runs once, in order",
            OsExitCases::withRegistrations));
  }

  static void slotsOnly(DestructorRegistry registry) throws Exception {
    exit(registry, false);
  }

  static void withRegistrations(DestructorRegistry registry) throws Exception {
    exit(registry, true);
  }

  /**
   * A thread sets a slot to 1 (and registers on it, if {@code registers}) and dies. The key before
   * weave's reads the slot and sets it to 2 (and registers, if {@code registers}: a thread with no
   * registration keeps its cells on keys that free them, which is what a later read must not use);
   * the key after reads it, sets it to 3 and registers. What the contract allows: each read sees
   * the thread's live cell or a fresh state's 0, never freed memory; each registration runs once,
   * in the order made, with its cell's value then.
   */
  private static void exit(DestructorRegistry registry, boolean registers) throws Exception {
    List<String> seen = Collections.synchronizedList(new ArrayList<>());
    try (ThreadLocalSlot slot = registry.newSlot()) {
      // The backend's keys exist before the key after weave's is made: a cell, and a walker.
      slot.set(0);
      registry.register(slot, value -> {});
      registry.unregister(slot);
      LibraryKey afterWeave = new LibraryKey();
      Optional<CheckedPrimitives> checker = CheckedMode.of(registry);
      long blocksBefore = checker.map(CheckedPrimitives::liveBlocks).orElse(0L);
      Deaths.runAndJoin(
          () -> {
            slot.set(1);
            if (registers) {
              registry.register(slot, value -> seen.add("first gets " + value));
            }
            BEFORE_WEAVE.setOnThisThread(
                () -> {
                  seen.add("before reads " + slot.get());
                  slot.set(2);
                  if (registers) {
                    registry.register(slot, value -> seen.add("second gets " + value));
                  }
                });
            afterWeave.setOnThisThread(
                () -> {
                  seen.add("after reads " + slot.get());
                  slot.set(3);
                  registry.register(slot, value -> seen.add("third gets " + value));
                });
          });
      BEFORE_WEAVE.rethrowFailures();
      afterWeave.rethrowFailures();
      String outcome = String.join(", ", seen);
      String allowed =
          registers
              ? "before reads 1, first gets 2, second gets 2, after reads [02], third gets 3"
                  + "|before reads 0, first gets 1, second gets 2, after reads [02], third gets 3"
              : "before reads [01], after reads [02], third gets 3";
      assertTrue(
          outcome.matches(allowed),
          "each read sees the thread's live cell or a fresh state's 0, never freed memory, and each"
              + " registration runs once, in order; allowed: "
              + allowed
              + "; seen: "
              + outcome);
      if (checker.isPresent()) {
        assertTrue(
            checker.get().awaitLiveBlocks(blocksBefore, Deaths.TIMEOUT),
            "live blocks after the thread's exit: "
                + checker.get().liveBlocks()
                + ", before it: "
                + blocksBefore
                + "\n"
                + String.join("\n", checker.get().describeLiveBlocks()));
      }
    }
  }

  /**
   * Another library's pthread key, whose destructor (a JNA callback, its thread left attached after
   * the call) runs what the dying thread set it to run.
   */
  static final class LibraryKey {
    private static final NativeLibrary LIBC = NativeLibrary.getInstance("c");
    private static final AtomicLong IDS = new AtomicLong(1);
    private static final Map<Long, Runnable> ACTIONS = new ConcurrentHashMap<>();

    private final int key;
    private final List<Throwable> failures = Collections.synchronizedList(new ArrayList<>());

    /** Kept as long as the key may call it: JNA frees a callback's stub once it is collected. */
    private final Destructor destructor = this::destroy;

    /** {@code void (*)(void *)}. */
    interface Destructor extends Callback {
      void invoke(Pointer value);
    }

    LibraryKey() {
      Native.setCallbackThreadInitializer(
          destructor, new CallbackThreadInitializer(true, false, "weave-tck-os-exit"));
      Memory created = new Memory(4);
      int error =
          LIBC.getFunction("pthread_key_create").invokeInt(new Object[] {created, destructor});
      if (error != 0) {
        throw new IllegalStateException("pthread_key_create failed: " + error);
      }
      key = created.getInt(0);
    }

    /** Sets the key on the calling thread: its destructor will run {@code action} there. */
    void setOnThisThread(Runnable action) {
      long id = IDS.getAndIncrement();
      ACTIONS.put(id, action);
      int error =
          LIBC.getFunction("pthread_setspecific").invokeInt(new Object[] {key, new Pointer(id)});
      if (error != 0) {
        ACTIONS.remove(id);
        throw new IllegalStateException("pthread_setspecific failed: " + error);
      }
    }

    private void destroy(Pointer value) {
      try {
        Runnable action = ACTIONS.remove(Pointer.nativeValue(value));
        if (action != null) {
          action.run();
        }
      } catch (Throwable t) {
        failures.add(t); // nothing may escape into native code
      }
    }

    void rethrowFailures() {
      synchronized (failures) {
        if (!failures.isEmpty()) {
          Throwable first = failures.remove(0);
          failures.clear();
          throw new AssertionError("a key destructor's weave call failed: " + first, first);
        }
      }
    }
  }
}
