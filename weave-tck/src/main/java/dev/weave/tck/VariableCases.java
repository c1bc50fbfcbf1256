package dev.weave.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weave.DestructorRegistry;
import java.util.List;
import org.junit.jupiter.api.function.Executable;

/** Rule 12 for the seed form's variable: a {@code void*} address the walk can read. */
final class VariableCases {
  private VariableCases() {}

  static List<TckCase> all() {
    return List.of(
        TckCase.of(
            "r12-unaligned-variable",
            Rule.R12,
            "a variable address not aligned to 8 bytes is refused by registerNative and unregister, with the problem named, and changes nothing",
            VariableCases::unalignedVariable));
  }

  static void unalignedVariable(DestructorRegistry registry) throws Exception {
    try (NativeFixtures.Semaphore sem = new NativeFixtures.Semaphore();
        NativeFixtures.Word word = new NativeFixtures.Word()) {
      long unaligned = word.address() + 4;
      Deaths.dieNative(
          registry,
          () -> {
            refused(() -> registry.registerNative(unaligned, NativeFixtures.SEM_POST));
            refused(() -> registry.unregister(unaligned));
            assertFalse(registry.unregister(word.address()), "nothing was registered");
            word.set(sem.address());
            registry.registerNative(word.address(), NativeFixtures.SEM_POST);
          });
      assertEquals(1, sem.value(), "the aligned registration ran, once");
    }
  }

  private static void refused(Executable call) {
    IllegalArgumentException thrown = assertThrows(IllegalArgumentException.class, call);
    assertTrue(
        String.valueOf(thrown.getMessage()).contains("aligned"),
        "the message names the problem (not aligned to 8 bytes): " + thrown.getMessage());
  }
}
