package dev.weave.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.logging.Level;

/**
 * Rule 7, registering while dying: what a destructor registers runs after the current round, for at
 * most 4 rounds; the rest is dropped with a warning.
 */
final class RoundsCases {
  private RoundsCases() {}

  static List<TckCase> all() {
    return List.of(
        TckCase.of(
            "r07-rounds",
            Rule.R7,
            "registrations made while dying run after the current ones, for at most 4 rounds",
            RoundsCases::rounds));
  }

  static void rounds(DestructorRegistry registry) throws Exception {
    List<String> calls = Collections.synchronizedList(new ArrayList<>());
    try (ThreadLocalSlot slot = registry.newSlot();
        LogCapture log = new LogCapture()) {
      CountDownLatch lastRound = new CountDownLatch(1);
      Deaths.runAndJoin(
          () -> {
            registry.register(
                slot,
                value -> {
                  calls.add("round 1 a");
                  registry.register(
                      slot,
                      v2 -> {
                        calls.add("round 2");
                        registry.register(
                            slot,
                            v3 -> {
                              calls.add("round 3");
                              registry.register(
                                  slot,
                                  v4 -> {
                                    calls.add("round 4");
                                    lastRound.countDown();
                                    registry.register(slot, v5 -> calls.add("round 5"));
                                  });
                            });
                      });
                });
            registry.register(slot, value -> calls.add("round 1 b"));
          });
      Deaths.await(lastRound, "the fourth round");
      assertEquals(List.of("round 1 a", "round 1 b", "round 2", "round 3", "round 4"), calls);
      log.await(
          "warning about the dropped fifth-round registration",
          r -> r.getLevel() == Level.WARNING && String.valueOf(r.getMessage()).contains("dropped"),
          Deaths.TIMEOUT);
    }
  }
}
