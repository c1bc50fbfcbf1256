package dev.weave.spi;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weave.ThreadLocalSlot;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The engine's own bookkeeping, over simulated primitives: who owns which memory, and when. */
class EngineTest {
  private final SimulatedPrimitives primitives = new SimulatedPrimitives();
  private final Engine engine = new Engine("simulated", primitives);

  private Thread run(Runnable body) throws InterruptedException {
    Thread thread = new Thread(body);
    thread.start();
    thread.join();
    return thread;
  }

  @Test
  void aThreadThatOnlySetsSlotsLeavesItsCellsToLibcFree() throws Exception {
    ThreadLocalSlot slot = engine.newSlot();
    long[] cell = new long[1];
    Thread thread =
        run(
            () -> {
              slot.set(7);
              cell[0] = slot.cellAddress();
            });
    assertThat(primitives.liveBlocks()).isEqualTo(1);
    assertThat(primitives.keyValues(thread).values())
        .containsExactly(cell[0]); // chunk 0 starts with slot 0
    primitives.die(thread);
    assertThat(primitives.liveBlocks()).isZero();
  }

  @Test
  void registrationsMoveTheCellsToTheWalkerWhichFreesThemAfterTheDestructors() throws Exception {
    ThreadLocalSlot slot = engine.newSlot();
    List<String> calls = Collections.synchronizedList(new ArrayList<>());
    Thread thread =
        run(
            () -> {
              slot.set(7);
              engine.register(
                  slot, value -> calls.add("java " + value + " live=" + primitives.liveBlocks()));
              engine.registerNative(slot, 0xabc);
            });
    assertThat(engine.threadsWithRegistrations()).isEqualTo(1);
    primitives.die(thread);
    assertThat(calls).containsExactly("java 7 live=2"); // its chunk, and its registrations' record
    assertThat(primitives.nativeCalls()).containsExactly("abc(7)");
    assertThat(primitives.liveBlocks()).isZero();
    assertThat(engine.threadsWithRegistrations()).isZero();
  }

  @Test
  void unregisteringEverythingHandsTheCellsBackToLibcFree() throws Exception {
    ThreadLocalSlot slot = engine.newSlot();
    List<String> calls = Collections.synchronizedList(new ArrayList<>());
    Thread thread =
        run(
            () -> {
              engine.register(slot, value -> calls.add("ran"));
              engine.unregister(slot);
            });
    assertThat(engine.threadsWithRegistrations()).isZero();
    primitives.die(thread);
    assertThat(calls).isEmpty();
    assertThat(primitives.liveBlocks()).isZero();
  }

  @Test
  void cellsComeInChunksThatDoubleAndAreAllFreed() throws Exception {
    List<ThreadLocalSlot> slots = new ArrayList<>();
    for (int i = 0; i < 1_000; i++) {
      slots.add(engine.newSlot());
    }
    Set<Long> cells = new HashSet<>();
    Thread thread = run(() -> slots.forEach(slot -> cells.add(slot.cellAddress())));
    assertThat(cells).hasSize(1_000);
    assertThat(primitives.liveBlocks()).isEqualTo(5); // 64 + 128 + 256 + 512 cells, then 1024
    primitives.die(thread);
    assertThat(primitives.liveBlocks()).isZero();
  }

  @Test
  void closedSlotsAreReusedSoChurnDoesNotGrowMemory() throws Exception {
    Set<Long> cells = new HashSet<>();
    Thread thread =
        run(
            () -> {
              for (int i = 0; i < 10_000; i++) {
                ThreadLocalSlot slot = engine.newSlot();
                assertThat(slot.get()).isZero();
                slot.set(i + 1);
                cells.add(slot.cellAddress());
                slot.close();
              }
            });
    assertThat(cells).hasSize(1);
    assertThat(primitives.liveBlocks()).isEqualTo(1);
    primitives.die(thread);
    assertThat(primitives.liveBlocks()).isZero();
  }

  @Test
  void aThreadThatDetachesAndAttachesAgainKeepsItsCells() throws Exception {
    ThreadLocalSlot slot = engine.newSlot();
    long[] cells = new long[2];
    long[] seen = new long[1];
    Thread first =
        run(
            () -> {
              slot.set(7);
              cells[0] = slot.cellAddress();
            });
    Thread second =
        primitives.reattach(
            first,
            () -> {
              seen[0] = slot.get();
              cells[1] = slot.cellAddress();
            });
    assertThat(seen[0]).isEqualTo(7);
    assertThat(cells[1]).isEqualTo(cells[0]);
    assertThat(primitives.liveBlocks()).isEqualTo(1);
    primitives.die(second);
    assertThat(primitives.liveBlocks()).isZero();
    assertThat(primitives.violations()).isEmpty();
  }

  @Test
  void aThreadThatDetachesAndAttachesAgainKeepsItsRegistrations() throws Exception {
    ThreadLocalSlot slot = engine.newSlot();
    ThreadLocalSlot other = engine.newSlot();
    List<String> calls = Collections.synchronizedList(new ArrayList<>());
    boolean[] found = new boolean[1];
    Thread first =
        run(
            () -> {
              slot.set(1);
              engine.register(slot, value -> calls.add("first " + value));
              engine.register(other, value -> calls.add("gone"));
            });
    Thread second =
        primitives.reattach(
            first,
            () -> {
              found[0] = engine.unregister(other);
              slot.set(2);
              engine.register(slot, value -> calls.add("second " + value));
            });
    assertThat(found[0]).as("unregister after re-attaching sees the earlier registration").isTrue();
    primitives.die(second);
    assertThat(calls).containsExactly("first 2", "second 2");
    assertThat(primitives.liveBlocks()).isZero();
    assertThat(primitives.violations()).isEmpty();
  }

  @Test
  void cellsInALaterChunkOutliveDestructorsWithoutAnEarlierChunk() throws Exception {
    List<ThreadLocalSlot> slots = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      slots.add(engine.newSlot());
    }
    ThreadLocalSlot late = slots.get(99); // in chunk 1; this thread never touches chunk 0
    List<Long> seen = Collections.synchronizedList(new ArrayList<>());
    Thread thread =
        run(
            () -> {
              late.set(5); // chunk 1's memory key is made before the walker key, so glibc visits it
              // first
              engine.register(late, seen::add);
            });
    primitives.die(thread);
    assertThat(seen).containsExactly(5L);
    assertThat(primitives.liveBlocks()).isZero();
    assertThat(primitives.violations()).isEmpty();
  }

  @Test
  void cellsCachedDuringTheWalkAreNotUsedAfterItFreedThem() throws Exception {
    ThreadLocalSlot slot = engine.newSlot();
    List<Long> seen = Collections.synchronizedList(new ArrayList<>());
    Thread thread =
        run(
            () -> {
              slot.set(3);
              engine.register(slot, value -> seen.add(slot.get()));
            });
    primitives.die(thread, () -> seen.add(slot.get()));
    assertThat(seen).containsExactly(3L, 0L);
    assertThat(primitives.violations()).isEmpty();
  }

  @Test
  void registrationsBeyondTheFourthRoundAreDropped() throws Exception {
    ThreadLocalSlot slot = engine.newSlot();
    List<Integer> rounds = Collections.synchronizedList(new ArrayList<>());
    Thread thread =
        run(
            () ->
                engine.register(
                    slot,
                    new dev.weave.Destructor() {
                      int round = 1;

                      @Override
                      public void destroy(long value) {
                        rounds.add(round++);
                        engine.register(slot, this);
                      }
                    }));
    primitives.die(thread);
    assertThat(rounds).containsExactly(1, 2, 3, 4);
    assertThat(primitives.liveBlocks()).isZero();
  }
}
