package dev.weave.verification.broken;

import static dev.weave.verification.broken.Broken.broken;

import dev.weave.Destructor;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.spi.Engine;
import dev.weave.spi.NativePrimitives;
import dev.weave.tck.Rule;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/** Rule 10, JVM exit: its broken backends, and the cases each must fail. */
public final class ExitFaults {
  private ExitFaults() {}

  static List<Broken> expected() {
    return List.of(
        // not r10-exit-race: whether a thread is still alive, with a registration, when the hook
        // runs is that race's chance, so it fails this fault in some runs only (a crash in
        // sem_post, or something printed)
        broken("broken-runs-at-exit", Rule.R10)
            .cases("^(seed1-java|r01-per-thread-native|r10-(main-returns|alive-at-exit))")
            // the destructor it runs at exit says so, or, when the hook runs after the probe's own
            // exit code has destroyed the semaphore the destructor posts (shutdown hooks run
            // concurrently, in no order), crashes the JVM there: the same fault either way
            .fails(
                "r10-main-returns",
                "main-returns: the child JVM printed something ==> expected: <> but was: <weave ran a Java destructor of a thread alive at exit",
                "main-returns: the child JVM crashed: SIGSEGV in sem_post")
            .fails(
                "r10-alive-at-exit",
                "alive-at-exit: the child JVM printed something ==> expected: <> but was: <weave ran a Java destructor of a thread alive at exit",
                "alive-at-exit: the child JVM crashed: SIGSEGV in sem_post"));
  }

  /**
   * Rule 10: at JVM exit a shutdown hook runs every registration that has not run, those of live
   * threads too.
   */
  public static final class RunsAtExit extends TestBackend {
    public RunsAtExit() {
      super("broken-runs-at-exit", -17);
    }

    @Override
    DestructorRegistry build(String name) {
      NativePrimitives primitives = BrokenBackends.jna();
      List<Runnable> pending = new ArrayList<>();
      AtomicBoolean hooked = new AtomicBoolean();
      return new WrappingRegistry(new Engine(name, primitives), primitives) {
        @Override
        Destructor wrap(ThreadLocalSlot slot, Destructor destructor) {
          long cell = slot.cellAddress();
          AtomicBoolean ran = new AtomicBoolean();
          synchronized (pending) {
            pending.add(
                () -> {
                  if (!ran.getAndSet(true)) {
                    destructor.destroy(primitives.getWord(cell));
                  }
                });
          }
          if (!hooked.getAndSet(true)) {
            Runtime.getRuntime()
                .addShutdownHook(
                    new Thread(
                        () -> {
                          synchronized (pending) {
                            for (Runnable registration : pending) {
                              try {
                                registration.run();
                              } catch (Throwable ignored) {
                                // the next one still runs
                              }
                            }
                          }
                        },
                        "broken-runs-at-exit"));
          }
          return value -> {
            if (!ran.getAndSet(true)) {
              destructor.destroy(value);
            }
          };
        }
      };
    }
  }
}
