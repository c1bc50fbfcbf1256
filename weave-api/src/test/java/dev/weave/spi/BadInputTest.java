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

  /**
   * Asking another engine whether a variable is one of its cells reads that engine's keys through
   * the asking engine's own primitives: a call through the other's FFI library could change the
   * calling thread, which never chose that backend (a JNA call makes JNA's own key detach the
   * thread at its exit, so a thread attached by its own code and registering through weave.h on ffm
   * was detached before its own detach once a jna engine existed).
   */
  @Test
  void askingAnotherEngineAboutACellCallsNothingThroughItsPrimitives() throws Exception {
    AtomicLong callsWhileAsked = new AtomicLong();
    ThreadLocal<Boolean> asking = ThreadLocal.withInitial(() -> false);
    Engine other =
        new Engine(
            "other",
            new ForwardingPrimitives(simulation) {
              @Override
              public long getKey(long key) {
                if (asking.get()) {
                  callsWhileAsked.incrementAndGet();
                }
                return delegate.getKey(key);
              }
            });
    ThreadLocalSlot slot = other.newSlot();
    AtomicReference<Throwable> refused = new AtomicReference<>();
    long unrelated = simulation.allocateZeroed(8);
    run(
        () -> {
          slot.set(1);
          other.register(slot, value -> {});
          asking.set(true);
          try {
            engine.registerNative(slot.cellAddress(), 0xabc);
          } catch (Throwable t) {
            refused.set(t);
          }
          engine.registerNative(unrelated, 0xabc);
          engine.unregister(unrelated);
          asking.set(false);
        });
    assertThat(refused.get())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("cell of a slot of the other backend");
    assertThat(callsWhileAsked.get()).as("calls through the other engine's primitives").isZero();
    simulation.free(unrelated);
  }

  private static Thread run(Runnable body) throws InterruptedException {
    Thread thread = new Thread(body);
    thread.start();
    thread.join();
    return thread;
  }
}
