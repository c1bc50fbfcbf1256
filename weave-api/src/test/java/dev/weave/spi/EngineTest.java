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
    Thread thread = run(() -> {
      slot.set(7);
      cell[0] = slot.cellAddress();
    });
    assertThat(primitives.liveBlocks()).isEqualTo(1);
    assertThat(primitives.keyValues(thread).values()).containsExactly(cell[0]); // chunk 0 starts with slot 0
    primitives.die(thread);
    assertThat(primitives.liveBlocks()).isZero();
  }

  @Test
  void registrationsMoveTheCellsToTheWalkerWhichFreesThemAfterTheDestructors() throws Exception {
    ThreadLocalSlot slot = engine.newSlot();
    List<String> calls = Collections.synchronizedList(new ArrayList<>());
    Thread thread = run(() -> {
      slot.set(7);
      engine.register(slot, value -> calls.add("java " + value + " live=" + primitives.liveBlocks()));
      engine.registerNative(slot, 0xabc);
    });
    assertThat(engine.threadsWithRegistrations()).isEqualTo(1);
    primitives.die(thread);
    assertThat(calls).containsExactly("java 7 live=1");
    assertThat(primitives.nativeCalls()).containsExactly("abc(7)");
    assertThat(primitives.liveBlocks()).isZero();
    assertThat(engine.threadsWithRegistrations()).isZero();
  }

  @Test
  void unregisteringEverythingHandsTheCellsBackToLibcFree() throws Exception {
    ThreadLocalSlot slot = engine.newSlot();
    List<String> calls = Collections.synchronizedList(new ArrayList<>());
    Thread thread = run(() -> {
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
    Thread thread = run(() -> {
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
  void registrationsBeyondTheFourthRoundAreDropped() throws Exception {
    ThreadLocalSlot slot = engine.newSlot();
    List<Integer> rounds = Collections.synchronizedList(new ArrayList<>());
    Thread thread = run(() -> engine.register(slot, new dev.weave.Destructor() {
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
