package dev.weave.tck;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.spi.CheckedPrimitives;
import dev.weave.spi.Engine;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Rule 14, checked mode, where the backend is weave's engine. Beyond this case, {@link CheckedMode}
 * makes every case stricter: no violation may be reported during it.
 */
final class CheckedModeCases {
  private CheckedModeCases() {}

  static List<TckCase> all() {
    return List.of(
        TckCase.of(
            "r14-checked-mode",
            Rule.R14,
            "checked mode counts a thread's blocks while it lives and none after its death; off unless asked for",
            CheckedModeCases::checkedMode));
  }

  /**
   * Rule 14, where it applies: weave's engine in checked mode counts the blocks of a thread's cells
   * while the thread lives and owns exactly as many as before once it has died; unchecked unless
   * {@code -Dweave.checked=true}. A backend that is not weave's engine is skipped.
   */
  static void checkedMode(DestructorRegistry registry) throws Exception {
    assumeTrue(
        registry instanceof Engine,
        "checked mode is a feature of weave's engine (dev.weave.spi.Engine), and this backend's registry is a "
            + registry.getClass().getName());
    Optional<CheckedPrimitives> checker = CheckedMode.of(registry);
    if (checker.isEmpty()) {
      assertFalse(
          Boolean.getBoolean(Engine.CHECKED_PROPERTY),
          "-D" + Engine.CHECKED_PROPERTY + "=true is set, yet the engine runs unchecked");
      return;
    }
    CheckedPrimitives checked = checker.get();
    assertTrue(
        checked.liveKeys() > 0,
        "an engine that has made cells owns pthread keys: " + checked.liveKeys());
    List<ThreadLocalSlot> slots = new ArrayList<>();
    try {
      for (int i = 0;
          i < 70;
          i++) { // more than one chunk's worth, wherever closed slots left free indices
        slots.add(registry.newSlot());
      }
      long before = checked.liveBlocks();
      long[] whileAlive = new long[1];
      Deaths.runAndJoin(
          () -> {
            slots.forEach(slot -> slot.set(1));
            whileAlive[0] = checked.liveBlocks();
          });
      assertTrue(
          whileAlive[0] > before,
          "live blocks while a thread had 70 cells: " + whileAlive[0] + ", before it: " + before);
      assertTrue(
          checked.awaitLiveBlocks(before, Deaths.TIMEOUT),
          "live blocks after the thread's death: "
              + checked.liveBlocks()
              + ", before it: "
              + before);
    } finally {
      slots.forEach(ThreadLocalSlot::close);
    }
  }
}
