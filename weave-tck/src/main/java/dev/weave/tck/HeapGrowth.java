package dev.weave.tck;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;

/**
 * How much the C heap ({@link NativeFixtures#heapInUse()}, glibc {@code mallinfo2}) grows over
 * repeated rounds of the same work. A leak grows it in every round. The JVM's own use of {@code
 * malloc} moves it too: the JIT's arenas and GC data come and go by up to several MiB in a round,
 * and even bare thread deaths, with no weave in them, grow it by a few hundred bytes each (measured
 * on JDK 25: about 55 KiB per 240 bare deaths, for rounds on end). So a round of work is compared
 * with a control round just before it. A leak shows in every round; the JVM's spikes, in some
 * (seen: 4 of 8 rounds over 120 KiB, one of them 735 KiB, for a correct backend in a busy JVM), so
 * the check asks that at least two rounds stay under the limit.
 */
final class HeapGrowth {
  private HeapGrowth() {}

  /**
   * Runs {@code rounds} pairs of rounds: {@code control}, then {@code work}.
   *
   * @return per pair, how much more the heap grew over {@code work} than over {@code control}
   */
  static long[] excessOverControl(int rounds, Deaths.Body control, Deaths.Body work)
      throws Exception {
    long[] excess = new long[rounds];
    for (int i = 0; i < rounds; i++) {
      long start = NativeFixtures.heapInUse();
      control.run();
      long middle = NativeFixtures.heapInUse();
      work.run();
      long end = NativeFixtures.heapInUse();
      excess[i] = (end - middle) - (middle - start);
    }
    return excess;
  }

  /**
   * Fails unless at least two rounds of {@code excess} are below {@code limit} bytes.
   *
   * @param deaths how many thread deaths a round of work has
   */
  static void assertTwoRoundsBelow(long limit, long[] excess, int deaths, String work) {
    long[] sorted = excess.clone();
    Arrays.sort(sorted);
    long secondSmallest = sorted[Math.min(1, sorted.length - 1)];
    if (secondSmallest >= limit) {
      fail(
          "C heap grew, in all rounds but at most one, by "
              + secondSmallest
              + " bytes or more over a round of "
              + deaths
              + " "
              + work
              + " than over "
              + deaths
              + " bare thread deaths (limit "
              + limit
              + "), about "
              + secondSmallest / deaths
              + " bytes per death; excess per round: "
              + Arrays.toString(excess));
    }
  }
}
