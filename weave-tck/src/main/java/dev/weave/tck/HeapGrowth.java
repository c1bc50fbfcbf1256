package dev.weave.tck;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;

/**
 * How much the C heap ({@link NativeFixtures#heapInUse()}, glibc {@code mallinfo2}) grows over
 * repeated rounds of the same work. A leak grows it in every round; the JVM's own use of {@code
 * malloc} (JIT compiler arenas, GC data, the class loader) comes and goes, and has been seen to add
 * several MiB to a single round. So the check is on the round that grew least.
 */
final class HeapGrowth {
  private HeapGrowth() {}

  /** @return the heap's growth in bytes over each of {@code rounds} runs of {@code round} */
  static long[] perRound(int rounds, Deaths.Body round) throws Exception {
    long[] growths = new long[rounds];
    for (int i = 0; i < rounds; i++) {
      long before = NativeFixtures.heapInUse();
      round.run();
      growths[i] = NativeFixtures.heapInUse() - before;
    }
    return growths;
  }

  /** Fails unless some round grew the heap by less than {@code limit} bytes. */
  static void assertSomeRoundBelow(long limit, long[] growths, String work) {
    long least = Arrays.stream(growths).min().orElseThrow();
    if (least >= limit) {
      fail("C heap grew by at least " + least + " bytes in every round of " + work + " (limit " + limit
          + "); growth per round: " + Arrays.toString(growths));
    }
  }
}
