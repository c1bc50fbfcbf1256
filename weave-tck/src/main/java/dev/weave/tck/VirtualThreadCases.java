package dev.weave.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.weave.Destructor;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.function.Executable;

/**
 * Rule 9, virtual threads: every registry and slot operation refuses a virtual thread (rule 13's
 * {@code r13-virtual-thread} does the same for {@code runDestructors()}).
 */
final class VirtualThreadCases {
  private VirtualThreadCases() {}

  static List<TckCase> all() {
    return List.of(
        TckCase.of(
            "r09-virtual-threads",
            Rule.R9,
            "every registry and slot operation refuses a virtual thread with IllegalStateException",
            VirtualThreadCases::virtualThreadsRefused));
  }

  static void virtualThreadsRefused(DestructorRegistry registry) throws Exception {
    try (ThreadLocalSlot slot = registry.newSlot()) {
      List<String> failures = Collections.synchronizedList(new ArrayList<>());
      Destructor destructor = value -> {};
      Runnable checks =
          () -> {
            Object[][] operations = {
              {"newSlot", (Executable) registry::newSlot},
              {"register", (Executable) () -> registry.register(slot, destructor)},
              {
                "registerNative(slot)",
                (Executable) () -> registry.registerNative(slot, NativeFixtures.SEM_POST)
              },
              {
                "registerNative(variable)",
                (Executable) () -> registry.registerNative(0x1000, NativeFixtures.SEM_POST)
              },
              {"unregister(slot)", (Executable) () -> registry.unregister(slot)},
              {"unregister(variable)", (Executable) () -> registry.unregister(0x1000)},
              {"get", (Executable) slot::get},
              {"set", (Executable) () -> slot.set(1)},
              {"cellAddress", (Executable) slot::cellAddress},
              {"close", (Executable) slot::close},
            };
            for (Object[] operation : operations) {
              try {
                ((Executable) operation[1]).execute();
                failures.add(operation[0] + " did not throw");
              } catch (IllegalStateException expected) {
                if (!String.valueOf(expected.getMessage()).contains("virtual")) {
                  failures.add(
                      operation[0] + " threw without saying why: " + expected.getMessage());
                }
              } catch (Throwable t) {
                failures.add(operation[0] + " threw " + t);
              }
            }
          };
      Thread virtual = Deaths.startVirtualThread(checks);
      Deaths.join(virtual);
      assertEquals(List.of(), failures);
      slot.set(5);
      assertEquals(5, slot.get(), "the slot still works on a platform thread");
    }
  }
}
