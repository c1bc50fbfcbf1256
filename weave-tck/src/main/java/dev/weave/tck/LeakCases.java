package dev.weave.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.spi.CheckedPrimitives;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Rule 8, no leaks: after many thread deaths the live thread count is back where it was, and so is
 * weave's native memory.
 */
final class LeakCases {
  private LeakCases() {}

  static List<TckCase> all() {
    return List.of(
        TckCase.stochastic(
            "r08-no-leaks",
            Rule.R8,
            "1,440 deaths (Java, native-only, slot-only threads), each after a bare one: thread count, weave's memory and the C heap back where they were",
            LeakCases::noLeaks));
  }

  /**
   * How much more the C heap may grow over a weave thread's death than over the bare thread death
   * just before it, in the median pair of each kind: 1 KiB. Measured on JDK 25 with the machine's
   * load average at 13 on 2 cores: medians of -416 to +464 bytes on every backend, over 60 pairs
   * each; a backend that leaks 3 KiB at each such death shows 3 KiB more in every pair.
   */
  static final long NO_LEAKS_HEAP_LIMIT = 1L << 10;

  /** Rounds of {@link #noLeaks}, after two more that warm up. */
  static final int NO_LEAKS_ROUNDS = 8;

  /** Pairs of deaths of each kind per round of {@link #noLeaks}: a bare one, then a weave one. */
  static final int NO_LEAKS_PAIRS = 60;

  /**
   * Thread deaths of three kinds, in turn: with a Java destructor (the walker runs, the thread is
   * attached for it), with only native destructors (some backends need no JVM for those), and with
   * slots only (no registration), each after a bare thread's death. Afterwards the live thread
   * count must be back to its baseline; an engine in checked mode must own exactly the blocks it
   * owned before; and the C heap, which also shows what a backend's FFI library allocates, must not
   * grow more over a weave death than over the bare one before it, in the median pair of each kind
   * ({@link HeapGrowth}).
   */
  static void noLeaks(DestructorRegistry registry) throws Exception {
    int slotsPerThread = 960; // 15 KiB of cells and owner words per thread, if they leaked
    List<ThreadLocalSlot> slots = new ArrayList<>();
    for (int i = 0; i < slotsPerThread; i++) {
      slots.add(registry.newSlot());
    }
    ThreadLocalSlot last = slots.get(slotsPerThread - 1);
    AtomicInteger javaCalls = new AtomicInteger();
    Optional<CheckedPrimitives> checker = CheckedMode.of(registry);
    try (NativeFixtures.Semaphore nativeCalls = new NativeFixtures.Semaphore()) {
      Deaths.Body setSlots = () -> slots.forEach(slot -> slot.set(1));
      Deaths.Body withJava =
          () -> {
            setSlots.run();
            registry.register(last, value -> javaCalls.incrementAndGet());
          };
      Deaths.Body nativeOnly =
          () -> {
            setSlots.run();
            last.set(nativeCalls.address());
            registry.registerNative(last, NativeFixtures.SEM_POST);
          };
      List<Deaths.Body> kinds = List.of(withJava, nativeOnly, setSlots);
      List<String> names =
          List.of(
              "deaths with a Java destructor",
              "deaths with native destructors only",
              "deaths with slots only");
      // each death waits for its OS thread's exit: every destructor has run, no sentinel needed;
      // two rounds first start what the JVM and the backend start once, and warm up the JIT
      long[][] excess = pairs(kinds, 2);
      int baseline = Deaths.liveThreads();
      long blocks = checker.map(CheckedPrimitives::liveBlocks).orElse(0L);
      excess = pairs(kinds, NO_LEAKS_ROUNDS);
      Deaths.awaitLiveThreadsAtMost(baseline);
      int each = (2 + NO_LEAKS_ROUNDS) * NO_LEAKS_PAIRS;
      assertEquals(
          each, javaCalls.get(), "Java destructor calls, one per thread that registered one");
      assertEquals(
          each, nativeCalls.value(), "native destructor calls, one per thread that registered one");
      if (checker.isPresent()) {
        assertTrue(
            checker.get().awaitLiveBlocks(blocks, Deaths.TIMEOUT),
            "the engine owns "
                + checker.get().liveBlocks()
                + " blocks after "
                + 3 * NO_LEAKS_ROUNDS * NO_LEAKS_PAIRS
                + " deaths, not the "
                + blocks
                + " it owned before them (checked mode: an exact count)");
      }
      for (int kind = 0; kind < kinds.size(); kind++) {
        HeapGrowth.assertMedianBelow(
            NO_LEAKS_HEAP_LIMIT,
            excess[kind],
            names.get(kind) + ", each against the bare thread death just before it");
      }
    } finally {
      slots.forEach(ThreadLocalSlot::close);
    }
  }

  /**
   * @return per kind, by how much more the C heap grew over each death of that kind than over the
   *     bare thread death just before it, for {@code rounds} rounds of {@link #NO_LEAKS_PAIRS}
   */
  private static long[][] pairs(List<Deaths.Body> kinds, int rounds) {
    long[][] excess = new long[kinds.size()][rounds * NO_LEAKS_PAIRS];
    for (int pair = 0; pair < rounds * NO_LEAKS_PAIRS; pair++) {
      for (int kind = 0; kind < kinds.size(); kind++) {
        long bare = HeapGrowth.overOneDeath(() -> {});
        excess[kind][pair] = HeapGrowth.overOneDeath(kinds.get(kind)) - bare;
      }
    }
    return excess;
  }
}
