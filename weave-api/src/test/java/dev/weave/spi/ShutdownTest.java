package dev.weave.spi;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weave.ThreadLocalSlot;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Contract rule 10 in the engine: what shutdown changes. The engine's shutdown hook deletes its
 * walker key (the launcher's main thread dies after the JVM is destroyed, and glibc calls nothing
 * through a deleted key); here the test runs the hook itself.
 */
class ShutdownTest {
  private final SimulatedPrimitives simulation = new SimulatedPrimitives();
  private final CheckedPrimitives checked = new CheckedPrimitives(simulation);
  private final List<Thread> hooks = new ArrayList<>();
  private final Engine engine =
      new Engine("simulated", checked, Seam.NONE.addShutdownHook(hooks::add));
  private final List<String> ran = Collections.synchronizedList(new ArrayList<>());

  @AfterEach
  void noViolations() {
    assertThat(checked.violations()).isEmpty();
    assertThat(simulation.violations()).isEmpty();
  }

  private void shutDown() {
    assertThat(hooks).hasSize(1);
    hooks.get(0).run();
    assertThat(engine.ledger().shuttingDown()).isTrue();
  }

  private static Thread run(Runnable body) throws InterruptedException {
    Thread thread = new Thread(body);
    thread.start();
    thread.join();
    return thread;
  }

  @Test
  void defect7AThreadThatAttachesAgainAfterShutdownBeganFindsItsCellsAndRegistrations()
      throws Exception {
    ThreadLocalSlot slot = engine.newSlot();
    Thread first =
        run(
            () -> {
              slot.set(7);
              engine.register(slot, value -> ran.add("ran " + value));
            });
    shutDown();
    List<String> seen = new ArrayList<>();
    Thread second =
        simulation.reattach(
            first,
            () -> {
              seen.add("reads " + slot.get());
              seen.add("unregister " + engine.unregister(slot));
              engine.register(slot, value -> ran.add("again " + value));
            });
    assertThat(seen).containsExactly("reads 7", "unregister true");
    simulation.die(second);
    assertThat(ran).as("a thread dying once shutdown began runs no destructor").isEmpty();
    assertThat(checked.liveBlocks())
        .as(
            "its cells and its record stay: only its walk could free them, and the walker key is gone")
        .isEqualTo(2);
  }

  @Test
  void aThreadWithoutRegistrationsDyingAfterShutdownBeganStillFreesItsCells() throws Exception {
    ThreadLocalSlot slot = engine.newSlot();
    engine.register(slot, value -> {}); // the walker key, and its hook
    engine.unregister(slot);
    shutDown();
    Thread thread = run(() -> slot.set(7));
    assertThat(checked.liveBlocks()).isEqualTo(2); // this thread's chunk, and the test thread's
    simulation.die(thread);
    assertThat(checked.liveBlocks()).isEqualTo(1);
  }
}
