package dev.weave.spi;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weave.ThreadLocalSlot;
import dev.weave.WeaveThread;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Rule 13 in the engine, over simulated primitives: the walk on a live thread and what it leaves.
 */
class RunDestructorsTest {
  private final SimulatedPrimitives simulation = new SimulatedPrimitives();
  private final CheckedPrimitives checked = new CheckedPrimitives(simulation);
  private final Engine engine = new Engine("simulated", checked);
  private final List<String> calls = Collections.synchronizedList(new ArrayList<>());

  @AfterEach
  void noViolations() {
    assertThat(checked.violations()).isEmpty();
  }

  private Thread run(Thread thread) throws InterruptedException {
    AtomicReference<Throwable> failure = new AtomicReference<>();
    thread.setUncaughtExceptionHandler((t, e) -> failure.set(e));
    thread.start();
    thread.join();
    if (failure.get() != null) {
      throw new AssertionError(failure.get());
    }
    return thread;
  }

  @Test
  void runsEverythingOnTheLiveThreadThenEveryCellReadsZeroAtTheSameAddress() throws Exception {
    ThreadLocalSlot a = engine.newSlot();
    ThreadLocalSlot b = engine.newSlot();
    ThreadLocal<String> local = ThreadLocal.withInitial(() -> "mine");
    Thread thread =
        run(
            new Thread(
                () -> {
                  a.set(1);
                  b.set(2);
                  long cell = a.cellAddress();
                  Thread self = Thread.currentThread();
                  engine.register(
                      a,
                      value ->
                          calls.add(
                              "a="
                                  + value
                                  + " same thread="
                                  + (Thread.currentThread() == self)
                                  + " local="
                                  + local.get()));
                  engine.register(
                      b,
                      value -> {
                        calls.add("b=" + value);
                        engine.register(a, later -> calls.add("round 2 a=" + later));
                      });
                  engine.registerNative(a, 0xabc);
                  engine.runDestructors();
                  assertThat(a.get()).isZero();
                  assertThat(b.get()).isZero();
                  assertThat(a.cellAddress()).isEqualTo(cell);
                  assertThat(engine.unregister(a)).isFalse();
                  assertThat(engine.threadsWithRegistrations()).isZero();
                },
                "live"));
    assertThat(calls).containsExactly("a=1 same thread=true local=mine", "b=2", "round 2 a=1");
    assertThat(simulation.nativeCalls()).containsExactly("abc(1)");
    assertThat(checked.liveBlocks()).as("the cells stay until the OS thread dies").isEqualTo(1);
    simulation.die(thread);
    assertThat(calls).hasSize(3);
    assertThat(checked.liveBlocks()).isZero();
  }

  @Test
  void aSecondRunZeroesWhatWasSetAfterTheFirst() throws Exception {
    ThreadLocalSlot slot = engine.newSlot();
    run(
        new Thread(
            () -> {
              slot.set(1);
              engine.runDestructors();
              slot.set(2); // the cached cell: no new cell is made
              engine.runDestructors();
              assertThat(slot.get()).isZero();
            }));
  }

  @Test
  void whatIsRegisteredAfterwardsRunsAtDeath() throws Exception {
    ThreadLocalSlot slot = engine.newSlot();
    Thread thread =
        run(
            new Thread(
                () -> {
                  engine.register(slot, value -> calls.add("first"));
                  engine.runDestructors();
                  slot.set(5);
                  engine.register(slot, value -> calls.add("second " + value));
                }));
    assertThat(calls).containsExactly("first");
    simulation.die(thread);
    assertThat(calls).containsExactly("first", "second 5");
    assertThat(checked.liveBlocks()).isZero();
  }

  @Test
  void fromADestructorItThrowsAndTheOthersStillRun() throws Exception {
    ThreadLocalSlot slot = engine.newSlot();
    run(
        new Thread(
            () -> {
              engine.register(
                  slot,
                  value -> {
                    try {
                      engine.runDestructors();
                    } catch (IllegalStateException expected) {
                      calls.add(expected.getMessage());
                    }
                  });
              engine.register(slot, value -> calls.add("next"));
              engine.runDestructors();
            }));
    assertThat(calls).hasSize(2);
    assertThat(calls.get(0)).contains("called from a destructor of the simulated backend");
    assertThat(calls.get(1)).isEqualTo("next");
  }

  @Test
  void aThreadThatNeverUsedTheEngineGetsNoNativeMemory() throws Exception {
    run(new Thread(engine::runDestructors));
    run(new WeaveThread(engine::runDestructors));
    assertThat(checked.liveBlocks()).isZero();
    assertThat(simulation.violations()).isEmpty();
  }

  @Test
  void aWeaveThreadKeepsItsCellsInAFieldAndWalksAtTheEndOfItsTask() throws Exception {
    ThreadLocalSlot slot = engine.newSlot();
    Thread thread =
        run(
            new WeaveThread(
                () -> {
                  slot.set(3);
                  assertThat(slot.get()).isEqualTo(3);
                  engine.register(
                      slot,
                      value ->
                          calls.add("ran " + value + " on " + Thread.currentThread().getName()));
                  engine.runDestructors();
                  assertThat(slot.get()).isZero();
                },
                "weave-1"));
    assertThat(calls).containsExactly("ran 3 on weave-1");
    simulation.die(thread);
    assertThat(checked.liveBlocks()).isZero();
  }
}
