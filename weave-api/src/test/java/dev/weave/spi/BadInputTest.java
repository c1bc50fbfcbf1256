package dev.weave.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weave.ThreadLocalSlot;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Contract rule 12 in the engine: what a variable address may be. Each refusal names the problem
 * and changes nothing.
 */
class BadInputTest {
  private final SimulatedPrimitives simulation = new SimulatedPrimitives();
  private final CheckedPrimitives checked = new CheckedPrimitives(simulation);
  private final Engine engine = new Engine("simulated", checked);

  @AfterEach
  void noViolations() {
    assertThat(checked.violations()).isEmpty();
    assertThat(simulation.violations()).isEmpty();
  }

  @Test
  void defect8AVariableNotAlignedTo8BytesIsRefused() {
    long variable = simulation.allocateZeroed(16) + 4;
    assertThatThrownBy(() -> engine.registerNative(variable, 0xabc))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("0x" + Long.toHexString(variable))
        .hasMessageContaining("not aligned to 8 bytes");
    assertThatThrownBy(() -> engine.unregister(variable))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not aligned to 8 bytes");
    assertThat(engine.threadsWithRegistrations()).isZero();
  }

  @Test
  void defect2AnotherEnginesCellIsRefusedAfterTheThreadAttachedAgain() throws Exception {
    Engine other = new Engine("other", new CheckedPrimitives(simulation));
    ThreadLocalSlot slotOnly = other.newSlot();
    ThreadLocalSlot withRegistration = other.newSlot();
    for (ThreadLocalSlot slot : List.of(slotOnly, withRegistration)) {
      AtomicLong cell = new AtomicLong();
      AtomicReference<Throwable> refused = new AtomicReference<>();
      Thread first =
          run(
              () -> {
                slot.set(1);
                cell.set(slot.cellAddress());
                if (slot == withRegistration) {
                  other.register(slot, value -> {});
                }
              });
      Thread second =
          simulation.reattach(
              first,
              () -> {
                try {
                  engine.registerNative(cell.get(), 0xabc);
                } catch (Throwable t) {
                  refused.set(t);
                }
              });
      assertThat(refused.get())
          .as(slot == slotOnly ? "a cell on its memory key" : "a cell of an armed thread")
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("cell of a slot of the other backend");
      simulation.die(second);
    }
    assertThat(simulation.nativeCalls()).isEmpty();
    assertThat(engine.threadsWithRegistrations()).isZero();
  }

  private static Thread run(Runnable body) throws InterruptedException {
    Thread thread = new Thread(body);
    thread.start();
    thread.join();
    return thread;
  }
}
