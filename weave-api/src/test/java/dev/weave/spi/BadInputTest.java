package dev.weave.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
}
