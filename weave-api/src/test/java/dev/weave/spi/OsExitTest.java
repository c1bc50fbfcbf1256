package dev.weave.spi;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weave.ThreadLocalSlot;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Contract rule 15 in the engine, over simulated primitives in checked mode: weave calls made on a
 * thread during its OS exit, by other libraries' key destructors, before and after weave's own keys
 * were visited. A thread attached from native code that exits while still attached runs its key
 * destructors in the same attachment, so the state it had bound is still bound there.
 */
class OsExitTest {
  private final SimulatedPrimitives simulation = new SimulatedPrimitives();
  private final CheckedPrimitives checked = new CheckedPrimitives(simulation);
  private final Engine engine =
      new Engine("simulated", checked, Seam.NONE.startedByJava(simulation::startedByJava));
  private final List<String> seen = Collections.synchronizedList(new ArrayList<>());

  @AfterEach
  void noViolations() {
    assertThat(checked.violations()).isEmpty();
    assertThat(simulation.violations()).isEmpty();
  }

  /** Another library's key, whose destructor runs {@code body} in the dying thread's attachment. */
  private long libraryKey(Runnable body) {
    return simulation.createKey((ThreadDeathHandler) value -> body.run());
  }

  @Test
  void defect1ALaterKeyDestructorDoesNotUseCellsGlibcFreedAfterAnEarlierOneBoundThem()
      throws Exception {
    ThreadLocalSlot slot = engine.newSlot();
    long[] keys = new long[2];
    simulation.runAttachedFromNative(
        () -> {
          keys[0] = // made before weave's keys: glibc visits it first
              libraryKey(
                  () -> {
                    seen.add("below reads " + slot.get());
                    slot.set(2);
                  });
          slot.set(1); // no registration: the chunk is on its memory key, whose destructor is free
          keys[1] =
              libraryKey(
                  () -> {
                    seen.add("above reads " + slot.get());
                    slot.set(3);
                    engine.register(slot, value -> seen.add("destructor gets " + value));
                  });
          simulation.setKey(keys[0], 1);
          simulation.setKey(keys[1], 1);
          simulation.exitWhileAttached();
        });
    assertThat(seen).containsExactly("below reads 1", "above reads 0", "destructor gets 3");
    assertThat(checked.liveBlocks()).isZero();
    assertThat(engine.threadsWithRegistrations()).isZero();
  }

  @Test
  void aThreadWithRegistrationsIsWalkedOnceAndALaterKeyDestructorGetsANewState() throws Exception {
    ThreadLocalSlot slot = engine.newSlot();
    long[] keys = new long[2];
    simulation.runAttachedFromNative(
        () -> {
          keys[0] =
              libraryKey(
                  () -> {
                    seen.add("below reads " + slot.get());
                    slot.set(2);
                    engine.register(slot, value -> seen.add("second gets " + value));
                  });
          slot.set(1);
          engine.register(slot, value -> seen.add("first gets " + value));
          keys[1] =
              libraryKey(
                  () -> {
                    seen.add("above reads " + slot.get());
                    slot.set(3);
                    engine.register(slot, value -> seen.add("third gets " + value));
                  });
          simulation.setKey(keys[0], 1);
          simulation.setKey(keys[1], 1);
          simulation.exitWhileAttached();
        });
    assertThat(seen)
        .containsExactly(
            "below reads 1",
            "first gets 2",
            "second gets 2",
            "above reads 0",
            "third gets 3"); // in glibc's next pass
    assertThat(checked.liveBlocks()).isZero();
    assertThat(engine.threadsWithRegistrations()).isZero();
  }

  @Test
  void aRegistrationAfterGlibcsLastPassIsDroppedWithAWarningAndLeavesNothingArmed()
      throws Exception {
    long variable = simulation.allocateZeroed(Long.BYTES); // a plain void*, not a slot's cell
    List<String> warnings = Collections.synchronizedList(new ArrayList<>());
    Handler capture = warningsInto(warnings);
    Logger.getLogger("dev.weave").addHandler(capture);
    try {
      simulation.runAttachedFromNative(
          () -> {
            engine.registerNative(variable, 0x100); // the walker key exists now
            int[] calls = {0};
            long[] key = new long[1];
            key[0] = // after the walker key: glibc visits it later in each pass
                libraryKey(
                    () -> {
                      engine.registerNative(variable, 0x101 + calls[0]++);
                      simulation.setKey(key[0], 1); // and again in the next pass
                    });
            simulation.setKey(key[0], 1);
            simulation.exitWhileAttached();
          });
    } finally {
      Logger.getLogger("dev.weave").removeHandler(capture);
    }
    assertThat(simulation.nativeCalls()).containsExactly("100(0)", "101(0)", "102(0)", "103(0)");
    assertThat(warnings)
        .singleElement()
        .asString()
        .contains("after glibc's last destructor pass (4 walks at death)");
    assertThat(engine.threadsWithRegistrations()).isZero();
    assertThat(checked.liveBlocks()).isZero();
  }

  private static Handler warningsInto(List<String> warnings) {
    return new Handler() {
      @Override
      public void publish(LogRecord record) {
        if (record.getLevel().intValue() >= Level.WARNING.intValue()) {
          warnings.add(record.getMessage());
        }
      }

      @Override
      public void flush() {}

      @Override
      public void close() {}
    };
  }

  /**
   * Checked mode deletes its memory keys at shutdown (they free through a callback into the JVM):
   * they then read NULL, but glibc frees nothing through them, so the cells are still the thread's.
   */
  @Test
  void inCheckedModeAMemoryKeyDeletedAtShutdownDoesNotMakeAStateStale() throws Exception {
    ThreadLocalSlot slot = engine.newSlot();
    simulation.runAttachedFromNative(
        () -> {
          slot.set(7);
          checked.deleteCallbackKeys();
          seen.add("reads " + slot.get());
        });
    assertThat(seen).containsExactly("reads 7");
  }

  /** After a few calls, for those that make more: see {@link ThreadCells#countSlowCall}. */
  @Test
  void aThreadStartedByJavaReadsItsCellsFromTheCacheAndAnAttachedOneChecksItsKeysOnEachCall()
      throws Exception {
    ThreadLocalSlot slot = engine.newSlot();
    AtomicInteger keyReads = new AtomicInteger();
    simulation.hook =
        (operation, argument) -> {
          if (operation.equals("getKey")) {
            keyReads.incrementAndGet();
          }
        };
    int[] reads = new int[2];
    Runnable tenCalls =
        () -> {
          for (int i = 0; i < ThreadCells.CALLS_BEFORE_CLASSIFYING; i++) {
            slot.set(slot.get() + 1);
          }
          int before = keyReads.get();
          for (int i = 0; i < 10; i++) {
            slot.set(slot.get() + 1);
          }
          reads[Thread.currentThread().getName().startsWith("attached") ? 1 : 0] =
              keyReads.get() - before;
        };
    Thread started = new Thread(tenCalls, "started");
    started.start();
    started.join();
    simulation.runAttachedFromNative(tenCalls);
    simulation.hook = (operation, argument) -> {};
    assertThat(reads[0]).as("key reads by a thread started by Java").isZero();
    assertThat(reads[1]).as("key reads by a thread attached from native code").isEqualTo(20);
  }
}
