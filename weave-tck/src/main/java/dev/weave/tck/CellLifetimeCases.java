package dev.weave.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Rule 5, cells outlive destructors: a cell keeps its value until the thread's last destructor. */
final class CellLifetimeCases {
  private CellLifetimeCases() {}

  static List<TckCase> all() {
    return List.of(
        TckCase.of(
            "r05-cells-outlive-destructors",
            Rule.R5,
            "cells, in the first chunk and beyond index 64, keep their values until every destructor has run",
            CellLifetimeCases::cellsOutliveDestructors));
  }

  /**
   * Destructors read cells after earlier destructors ran: in the first chunk of cells and beyond
   * index 64 (a later chunk), through {@code get()} and through the cell's memory. The TCK's JVM
   * has glibc fill freed memory ({@link NativeFixtures#perturbFreedMemory()}), so a cell freed too
   * early does not keep its old value. Only Java destructors read them: a native one handed a freed
   * cell's contents would crash the JVM rather than fail the case.
   */
  static void cellsOutliveDestructors(DestructorRegistry registry) throws Exception {
    int slotCount = 70; // index 64 and up is the second chunk in weave's engine
    List<String> seen = Collections.synchronizedList(new ArrayList<>());
    List<ThreadLocalSlot> slots = new ArrayList<>();
    try {
      for (int i = 0; i < slotCount; i++) {
        slots.add(registry.newSlot());
      }
      ThreadLocalSlot first = slots.get(0);
      ThreadLocalSlot high = slots.get(slotCount - 1);
      Deaths.die(
          registry,
          () -> {
            for (int i = 0; i < slotCount; i++) {
              slots.get(i).set(1000 + i);
            }
            long firstCell = first.cellAddress();
            long highCell = high.cellAddress();
            registry.register(first, value -> seen.add("first=" + value + " high=" + high.get()));
            registry.register(
                slots.get(1), value -> slots.get(1).set(0)); // a destructor's change is no free
            registry.register(
                high,
                value -> {
                  StringBuilder wrong = new StringBuilder();
                  for (int i = 0; i < slotCount; i++) {
                    long expected = i == 1 ? 0 : 1000 + i;
                    long actual = slots.get(i).get();
                    if (actual != expected) {
                      wrong
                          .append(" slot ")
                          .append(i)
                          .append("=0x")
                          .append(Long.toHexString(actual));
                    }
                  }
                  seen.add(
                      "high="
                          + value
                          + " first cell="
                          + NativeFixtures.readWord(firstCell)
                          + " high cell="
                          + NativeFixtures.readWord(highCell)
                          + " wrong:"
                          + wrong);
                });
          });
      long lastValue = 1000 + slotCount - 1;
      assertEquals(
          List.of(
              "first=1000 high=" + lastValue,
              "high=" + lastValue + " first cell=1000 high cell=" + lastValue + " wrong:"),
          seen,
          "values read by destructors after earlier ones had run");
    } finally {
      slots.forEach(ThreadLocalSlot::close);
    }
  }
}
