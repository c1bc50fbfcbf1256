package dev.weave.tck;

import static org.junit.jupiter.api.Assertions.fail;

import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * Many registrations on one thread, more than a walk that stops early or skips a chunk would get
 * through: {@value #SLOTS} slots (cells in the first chunk and beyond index 64), registration
 * {@code k} on slot {@code k % SLOTS}, a Java destructor on most slots and a native {@code
 * sem_post} on every fourth, and every tenth registration native on a plain variable. Each Java
 * destructor records its registration's number, the value it got and how many native destructors
 * had run by then (the semaphore's count), so the record shows order and value for both kinds. Rule
 * 2 runs them at death, rule 13 with {@code runDestructors()}.
 */
final class ManyRegistrations {
  /** How many registrations each run makes: past 64, past 128, and many chunks' worth. */
  static final int[] COUNTS = {70, 130, 1000};

  /** Slots registered on: 64 in the first chunk of weave's engine, the rest in the second. */
  static final int SLOTS = 130;

  private ManyRegistrations() {}

  private static boolean nativeOnPlain(int k) {
    return k % 10 == 9;
  }

  private static boolean nativeOnSlot(int slot) {
    return slot % 4 == 3;
  }

  private static long javaValue(int slot) {
    return 1000 + slot;
  }

  /**
   * Makes {@code count} registrations on a new thread, runs them (with {@code runDestructors()} on
   * the thread if {@code early}, else at its death), and checks that each ran once, in order, with
   * its variable's value.
   */
  static void check(DestructorRegistry registry, int count, boolean early) throws Exception {
    List<String> seen = Collections.synchronizedList(new ArrayList<>());
    List<String> seenBeforeDeath = new ArrayList<>();
    CountDownLatch lastRan = new CountDownLatch(1);
    List<ThreadLocalSlot> slots = new ArrayList<>();
    try (NativeFixtures.Semaphore sem = new NativeFixtures.Semaphore();
        NativeFixtures.Word plain = new NativeFixtures.Word()) {
      for (int i = 0; i < SLOTS; i++) {
        slots.add(registry.newSlot());
      }
      boolean exited =
          Deaths.runAndJoin(
              () -> {
                plain.set(sem.address());
                for (int i = 0; i < SLOTS; i++) {
                  slots.get(i).set(nativeOnSlot(i) ? sem.address() : javaValue(i));
                }
                for (int k = 0; k < count; k++) {
                  int i = k % SLOTS;
                  int number = k;
                  if (nativeOnPlain(k)) {
                    registry.registerNative(plain.address(), NativeFixtures.SEM_POST);
                  } else if (nativeOnSlot(i)) {
                    registry.registerNative(slots.get(i), NativeFixtures.SEM_POST);
                  } else {
                    registry.register(
                        slots.get(i),
                        value -> {
                          seen.add(record(number, value, sem.value()));
                          if (number == lastJava(count)) {
                            lastRan.countDown();
                          }
                        });
                  }
                }
                if (early) {
                  registry.runDestructors();
                  seenBeforeDeath.addAll(seen);
                  seenBeforeDeath.add("posted " + sem.value());
                }
              });
      if (!exited) {
        Deaths.await(lastRan, "the last Java destructor of " + count);
      }
      List<String> expected = expected(count);
      String what =
          count
              + " registrations on one thread over "
              + SLOTS
              + " slots ("
              + (expected.size() - 1)
              + " Java, "
              + natives(count)
              + " native), "
              + (early ? "run by runDestructors()" : "run at its death");
      if (early) {
        compare(what + ", when runDestructors() returned", expected, seenBeforeDeath);
      }
      List<String> actual = new ArrayList<>(seen);
      actual.add("posted " + sem.value());
      compare(what + (early ? ", then nothing more at its death" : ""), expected, actual);
    } finally {
      slots.forEach(ThreadLocalSlot::close);
    }
  }

  private static String record(int number, long value, int posted) {
    return "#" + number + " got " + value + " after " + posted + " native";
  }

  /** What the Java destructors must record, in order, and then the native destructors' count. */
  private static List<String> expected(int count) {
    List<String> expected = new ArrayList<>();
    int posted = 0;
    for (int k = 0; k < count; k++) {
      int i = k % SLOTS;
      if (nativeOnPlain(k) || nativeOnSlot(i)) {
        posted++;
      } else {
        expected.add(record(k, javaValue(i), posted));
      }
    }
    expected.add("posted " + posted);
    return expected;
  }

  private static int natives(int count) {
    int natives = 0;
    for (int k = 0; k < count; k++) {
      if (nativeOnPlain(k) || nativeOnSlot(k % SLOTS)) {
        natives++;
      }
    }
    return natives;
  }

  private static int lastJava(int count) {
    for (int k = count - 1; k >= 0; k--) {
      if (!nativeOnPlain(k) && !nativeOnSlot(k % SLOTS)) {
        return k;
      }
    }
    throw new IllegalArgumentException("no Java registration among " + count);
  }

  /** Fails naming the first difference, and how many Java destructors ran, not the whole lists. */
  private static void compare(String what, List<String> expected, List<String> actual) {
    if (expected.equals(actual)) {
      return;
    }
    int first = 0;
    while (first < expected.size()
        && first < actual.size()
        && expected.get(first).equals(actual.get(first))) {
      first++;
    }
    fail(
        what
            + ": "
            + (actual.size() - 1)
            + " Java destructor calls of "
            + (expected.size() - 1)
            + ", then "
            + actual.get(actual.size() - 1)
            + " (expected "
            + expected.get(expected.size() - 1)
            + "); first difference at record "
            + first
            + ": expected <"
            + (first < expected.size() ? expected.get(first) : "nothing")
            + "> but was <"
            + (first < actual.size() ? actual.get(first) : "nothing")
            + ">");
  }
}
