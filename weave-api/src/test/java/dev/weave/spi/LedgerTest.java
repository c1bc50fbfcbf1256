package dev.weave.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What the engine's lock guards, on its own: slot indices, the armed table and the keys, over
 * simulated primitives in checked mode (which counts the keys exactly).
 */
class LedgerTest {
  private final SimulatedPrimitives simulation = new SimulatedPrimitives();
  private final CheckedPrimitives checked = new CheckedPrimitives(simulation);
  private final List<Thread> hooks = new ArrayList<>();
  private final Engine engine = engine(Seam.NONE.addShutdownHook(hooks::add));

  private Engine engine(Seam seam) {
    return new Engine("ledger", checked, seam);
  }

  private Ledger ledger() {
    return engine.ledger();
  }

  private ThreadState state() {
    return engine.currentState();
  }

  @Test
  void slotIndicesAreHandedOutInOrderAndAClosedOnesIsReusedOnceItsCloseIsDone() {
    Slot first = (Slot) engine.newSlot();
    Slot second = (Slot) engine.newSlot();
    assertThat(first.index).isZero();
    assertThat(second.index).isEqualTo(1);
    assertThat(ledger().openSlotAt(1, second.id)).isSameAs(second);
    second.close();
    assertThat(ledger().openSlotAt(1, second.id)).as("closed").isNull();
    Slot reused = (Slot) engine.newSlot();
    assertThat(reused.index).isEqualTo(1);
    assertThat(ledger().openSlotAt(1, second.id)).as("the closed slot's id").isNull();
    assertThat(ledger().openSlotAt(1, reused.id)).isSameAs(reused);
    assertThat(((Slot) engine.newSlot()).index).isEqualTo(2);
  }

  @Test
  void armingPutsTheStateWhereItsWalkerKeyValueNamesItUntilItIsDisarmed() {
    Ledger ledger = ledger();
    ThreadState first = state();
    Record record = Record.allocate(checked, 0, false);
    int index;
    synchronized (first) {
      index = ledger.arm(first, null, record);
    }
    assertThat(ledger.armedAt(record.address)).isSameAs(first);
    assertThat(ledger.armedOnCallingThread()).isSameAs(first);
    assertThat(ledger.armedCount()).isEqualTo(1);
    ledger.disarm(index);
    assertThat(ledger.armedAt(record.address)).isNull();
    assertThat(ledger.armedOnCallingThread()).isNull();
    assertThat(ledger.armedCount()).isZero();
    record.free();
  }

  @Test
  void anArmedStateIsFoundByItsThreadsIdentityKeyOnceShutdownDeletedTheWalkerKey() {
    ThreadState state = state();
    synchronized (state) {
      ledger().arm(state, null, Record.allocate(checked, 0, false));
    }
    hooks.get(0).run();
    assertThat(ledger().armedOnCallingThread()).isSameAs(state);
  }

  @Test
  void theWalkerKeyComesWithAShutdownHookThatDeletesIt() {
    ThreadState state = state();
    synchronized (state) {
      ledger().arm(state, null, Record.allocate(checked, 0, false));
    }
    assertThat(hooks).hasSize(1);
    assertThat(checked.liveKeys()).as("the walker key and the identity key").isEqualTo(2);
    hooks.get(0).run();
    assertThat(checked.liveKeys()).as("the identity key: it has no destructor").isEqualTo(1);
    assertThat(ledger().shuttingDown()).isTrue();
  }

  @Test
  void defect8AWalkerKeyWhoseShutdownHookCannotBeAddedIsDeletedAndNothingIsArmed() {
    Engine refused =
        engine(
            Seam.NONE.addShutdownHook(
                hook -> {
                  throw new SecurityException("no shutdown hooks here (simulated)");
                }));
    ThreadState state = refused.currentState();
    synchronized (state) {
      assertThatThrownBy(
              () -> refused.ledger().arm(state, null, Record.allocate(checked, 0, false)))
          .isInstanceOf(SecurityException.class);
    }
    assertThat(checked.liveKeys())
        .as("the walker key, deleted again; the identity key, which has no destructor, kept")
        .isEqualTo(1);
    assertThat(refused.ledger().armedCount()).isZero();
    assertThat(checked.violations()).isEmpty();
  }

  @Test
  void anArmOnAClosedSlotIsRefusedUnderTheLockAndChangesNothing() {
    Slot slot = (Slot) engine.newSlot();
    slot.close();
    ThreadState state = state();
    synchronized (state) {
      assertThatThrownBy(() -> ledger().arm(state, slot, Record.allocate(checked, 0, false)))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("closed");
    }
    assertThat(ledger().armedCount()).isZero();
  }
}
