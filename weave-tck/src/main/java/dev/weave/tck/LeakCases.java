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
            "8 rounds of 180 deaths (Java, native-only, slot-only threads) against bare ones: thread count, weave's memory and the C heap back where they were",
            LeakCases::noLeaks));
  }

  /**
   * How much more the C heap may grow over {@value #NO_LEAKS_DEATHS} weave deaths than over as many
   * bare ones, in at least two rounds: 1 KiB per death with a registration. Measured on JDK 25 with
   * every backend: rounds of 1 KiB to 735 KiB, the lowest two always under 60 KiB; a backend that
   * leaks 3 KiB per such death: 350 KiB and more in every round.
   */
  static final long NO_LEAKS_HEAP_LIMIT = 120L << 10;

  /**
   * Deaths per round of {@link #noLeaks}: a third each with a Java destructor, native ones only, no
   * registration.
   */
  static final int NO_LEAKS_DEATHS = 180;

  /**
   * Thread deaths of three kinds, in turn: with a Java destructor (the walker runs, the thread is
   * attached for it), with only native destructors (some backends need no JVM for those), and with
   * slots only (no registration). Afterwards the live thread count must be back to its baseline; an
   * engine in checked mode must own exactly the blocks it owned before; and the C heap, which also
   * shows what a backend's FFI library allocates, must not have grown more than over as many bare
   * thread deaths ({@link HeapGrowth}).
   */
  static void noLeaks(DestructorRegistry registry) throws Exception {
    int warmUpRounds = 2;
    int rounds = 8;
    int slotsPerThread =
        960; // 15 KiB of cells and owner words per thread: 2.6 MiB a round if they leaked
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
      int[] eachKind = new int[1];
      // each death waits for its OS thread's exit: every destructor has run, no sentinel needed
      Deaths.Body weaveRound =
          () -> {
            for (int i = 0; i < NO_LEAKS_DEATHS / 3; i++) {
              Deaths.runAndJoin(withJava);
              Deaths.runAndJoin(nativeOnly);
              Deaths.runAndJoin(setSlots);
              eachKind[0]++;
            }
          };
      Deaths.Body bareRound =
          () -> {
            for (int i = 0; i < NO_LEAKS_DEATHS; i++) {
              Deaths.runAndJoin(() -> {});
            }
          };
      // starts whatever helper threads the JVM and the backend start once, and warms up the JIT
      HeapGrowth.excessOverControl(warmUpRounds, bareRound, weaveRound);
      int baseline = Deaths.liveThreads();
      long blocks = checker.map(CheckedPrimitives::liveBlocks).orElse(0L);
      long[] excess = HeapGrowth.excessOverControl(rounds, bareRound, weaveRound);
      Deaths.awaitLiveThreadsAtMost(baseline);
      assertEquals(
          eachKind[0],
          javaCalls.get(),
          "Java destructor calls, one per thread that registered one");
      assertEquals(
          eachKind[0],
          nativeCalls.value(),
          "native destructor calls, one per thread that registered one");
      if (checker.isPresent()) {
        assertTrue(
            checker.get().awaitLiveBlocks(blocks, Deaths.TIMEOUT),
            "the engine owns "
                + checker.get().liveBlocks()
                + " blocks after "
                + rounds * NO_LEAKS_DEATHS
                + " deaths, not the "
                + blocks
                + " it owned before them (checked mode: an exact count)");
      }
      HeapGrowth.assertTwoRoundsBelow(
          NO_LEAKS_HEAP_LIMIT, excess, NO_LEAKS_DEATHS, "weave thread deaths");
    } finally {
      slots.forEach(ThreadLocalSlot::close);
    }
  }
}
