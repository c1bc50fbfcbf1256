package dev.weave.spi;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weave.ThreadLocalSlot;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Contract rule 11 in the engine, over simulated primitives in checked mode: what {@code close()}
 * drops, what it waits for, and what a thread it dropped still holds.
 */
class CloseTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(20);

  private final SimulatedPrimitives simulation = new SimulatedPrimitives();
  private final CheckedPrimitives checked = new CheckedPrimitives(simulation);
  private final Engine engine = new Engine("simulated", checked);
  private final List<String> ran = Collections.synchronizedList(new ArrayList<>());

  @AfterEach
  void noViolations() {
    assertThat(checked.violations()).isEmpty();
    assertThat(simulation.violations()).isEmpty();
  }

  private static void await(CountDownLatch latch) {
    try {
      if (!latch.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
        throw new AssertionError("timed out after " + TIMEOUT);
      }
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  private static Thread run(Runnable body) throws InterruptedException {
    Thread thread = new Thread(body);
    thread.start();
    thread.join();
    return thread;
  }

  @Test
  void defect6ARegistrationThroughTheCellOfAClosedSlotIsRefused() throws Exception {
    ThreadLocalSlot slot = engine.newSlot();
    CountDownLatch gotCell = new CountDownLatch(1);
    CountDownLatch closed = new CountDownLatch(1);
    AtomicReference<Throwable> refused = new AtomicReference<>();
    Thread owner =
        new Thread(
            () -> {
              long cell = slot.cellAddress();
              gotCell.countDown();
              await(closed);
              try {
                engine.registerNative(cell, 0xabc);
              } catch (Throwable t) {
                refused.set(t);
              }
              ThreadLocalSlot reused = engine.newSlot(); // the closed slot's index
              reused.set(42);
              assertThat(reused.cellAddress()).isEqualTo(cell);
            });
    owner.start();
    await(gotCell);
    slot.close();
    closed.countDown();
    owner.join();
    simulation.die(owner);
    assertThat(refused.get())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("cell of a closed slot");
    assertThat(simulation.nativeCalls()).as("a destructor given another slot's value").isEmpty();
    assertThat(checked.liveBlocks()).isZero();
  }

  @Test
  void aRegistrationThroughACellBeforeCloseIsDropped() throws Exception {
    ThreadLocalSlot slot = engine.newSlot();
    Thread owner =
        run(
            () -> {
              slot.set(5);
              engine.registerNative(slot.cellAddress(), 0xabc);
              engine.register(slot, value -> ran.add("java " + value));
            });
    assertThat(engine.threadsWithRegistrations()).isEqualTo(1);
    slot.close();
    simulation.die(owner);
    assertThat(simulation.nativeCalls()).isEmpty();
    assertThat(ran).isEmpty();
    assertThat(checked.liveBlocks()).isZero();
  }

  @Test
  void defect5AThreadWhoseLastRegistrationCloseDroppedIsNotCountedAndDisarmsAtItsNextSlowCall()
      throws Exception {
    ThreadLocalSlot slot = engine.newSlot();
    ThreadLocalSlot other = engine.newSlot();
    CountDownLatch registered = new CountDownLatch(1);
    CountDownLatch dropped = new CountDownLatch(1);
    AtomicReference<Long> firstChunk = new AtomicReference<>();
    Thread owner =
        new Thread(
            () -> {
              slot.set(1);
              firstChunk.set(slot.cellAddress()); // slot 0: the chunk's first cell
              engine.register(slot, value -> ran.add("dropped one"));
              registered.countDown();
              await(dropped);
              other.set(2); // the first use of another slot here: the slow path
            });
    owner.start();
    await(registered);
    slot.close();
    assertThat(engine.threadsWithRegistrations()).as("after close dropped its only one").isZero();
    dropped.countDown();
    owner.join();
    assertThat(simulation.keyValues(owner).values())
        .as("its chunk back on its memory key: it dies at bare cost, without the walker")
        .contains(firstChunk.get());
    simulation.die(owner);
    assertThat(ran).isEmpty();
    assertThat(checked.liveBlocks()).isZero();
  }

  /**
   * Two threads whose destructors close each other's slots, both running when they close: each
   * close finds the other's destructor running on its slot. Waiting for it, as close() does, would
   * be a deadlock.
   */
  @Test
  void defect3TwoDestructorsThatCloseEachOthersSlotsDoNotDeadlock() throws Exception {
    ThreadLocalSlot first = engine.newSlot();
    ThreadLocalSlot second = engine.newSlot();
    CyclicBarrier bothRunning = new CyclicBarrier(2);
    Thread x = run(() -> engine.register(first, closing(second, "x", bothRunning)));
    Thread y = run(() -> engine.register(second, closing(first, "y", bothRunning)));
    Thread xDies = dieInTheBackground(x);
    Thread yDies = dieInTheBackground(y);
    xDies.join(TIMEOUT.toMillis());
    yDies.join(TIMEOUT.toMillis());
    assertThat(xDies.isAlive() || yDies.isAlive()).as("deadlock between the two closes").isFalse();
    assertThat(ran).containsExactlyInAnyOrder("x closed", "y closed");
    Thread later =
        new Thread(
            () -> {
              first.close();
              second.close();
            });
    later.start();
    later.join(TIMEOUT.toMillis());
    assertThat(later.isAlive()).as("a later close() blocked").isFalse();
    assertThat(checked.liveBlocks()).isZero();
    assertThat(engine.threadsWithRegistrations()).isZero();
  }

  @Test
  void twoLiveWalksThatCloseEachOthersSlotsDoNotDeadlock() throws Exception {
    ThreadLocalSlot first = engine.newSlot();
    ThreadLocalSlot second = engine.newSlot();
    CyclicBarrier bothRunning = new CyclicBarrier(2);
    Thread x =
        new Thread(
            () -> {
              engine.register(first, closing(second, "x", bothRunning));
              engine.runDestructors();
            });
    Thread y =
        new Thread(
            () -> {
              engine.register(second, closing(first, "y", bothRunning));
              engine.runDestructors();
            });
    x.setDaemon(true);
    y.setDaemon(true);
    x.start();
    y.start();
    x.join(TIMEOUT.toMillis());
    y.join(TIMEOUT.toMillis());
    assertThat(x.isAlive() || y.isAlive()).as("deadlock between the two closes").isFalse();
    assertThat(ran).containsExactlyInAnyOrder("x closed", "y closed");
    simulation.die(x);
    simulation.die(y);
    assertThat(checked.liveBlocks()).isZero();
  }

  private dev.weave.Destructor closing(
      ThreadLocalSlot other, String name, CyclicBarrier bothRunning) {
    return value -> {
      try {
        bothRunning.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
      } catch (Exception e) {
        throw new AssertionError(e);
      }
      other.close();
      ran.add(name + " closed");
    };
  }

  private Thread dieInTheBackground(Thread thread) {
    Thread death =
        new Thread(
            () -> {
              try {
                simulation.die(thread);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            });
    death.setDaemon(true); // a deadlocked one must not keep the test JVM alive
    death.start();
    return death;
  }
}
