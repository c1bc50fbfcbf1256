package dev.weave.spi;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weave.ThreadLocalSlot;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
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
}
