package dev.weave.spi;

import dev.weave.ThreadLocalSlot;
import java.util.Objects;

/**
 * Contract rule 12 in the engine: what it refuses before anything changes, with an exception whose
 * message names the problem.
 */
final class BadInput {
  private BadInput() {}

  static Slot ownSlot(Engine engine, ThreadLocalSlot slot) {
    Objects.requireNonNull(slot, "slot is null");
    if (!(slot instanceof Slot) || ((Slot) slot).engine() != engine) {
      String owner =
          slot instanceof Slot
              ? "the " + ((Slot) slot).engine().backendName() + " backend"
              : foreignOwner(slot);
      throw new IllegalArgumentException(
          "slot belongs to "
              + owner
              + ", not to the "
              + engine.backendName()
              + " backend; use a slot made by this registry's newSlot()");
    }
    return (Slot) slot;
  }

  private static String foreignOwner(ThreadLocalSlot slot) {
    try {
      return "the "
          + slot.registry().backendName()
          + " backend ("
          + slot.getClass().getName()
          + ")";
    } catch (RuntimeException e) {
      return slot.getClass().getName();
    }
  }

  static void requireAddress(long address, String what) {
    if (address == 0) {
      throw new IllegalArgumentException(what + " address is 0 (NULL)");
    }
  }

  /** A {@code void*} variable: not NULL, and aligned as the walk reads it (rule 12). */
  static void requireVariable(long variable) {
    requireAddress(variable, "variable");
    if (variable % Long.BYTES != 0) {
      throw new IllegalArgumentException(
          "variable address 0x"
              + Long.toHexString(variable)
              + " is not aligned to 8 bytes; a void* variable is");
    }
  }

  /**
   * Another engine frees its cells on its own schedule (its keys' destructors), possibly before
   * this engine's walk reads them: a registration here must not point into them.
   */
  static void refuseOtherEnginesCell(Engine engine, long variable) {
    for (Engine other : Engine.ENGINES) {
      if (other != engine && other.isCellOfCallingThread(variable, engine.uncheckedPrimitives())) {
        throw new IllegalArgumentException(
            "variable 0x"
                + Long.toHexString(variable)
                + " is a cell of a slot of the "
                + other.backendName()
                + " backend; register it with that backend's registry (Weave.registry(\""
                + other.backendName()
                + "\")), which keeps its cells until its destructors have run");
      }
    }
  }
}
