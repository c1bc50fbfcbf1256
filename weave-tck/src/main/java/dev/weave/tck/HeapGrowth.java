package dev.weave.tck;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;

/**
 * How much the C heap ({@link NativeFixtures#heapInUse()}, glibc {@code mallinfo2}) grows over a
 * piece of work, decided so that load cannot flip the answer. The JVM's own use of {@code malloc}
 * moves the heap by megabytes at a time (the JIT's arenas, the GC's data), at moments that depend
 * on how busy the machine is, and lands in whatever is being measured then; the JIT gives its
 * arenas back only seconds later. A leak grows the heap in every piece of work. So the work is
 * measured in many small pieces and a piece of a given rank is compared, not a sum: a spike moves
 * it by one rank, not by megabytes.
 *
 * <p>Measured here with the machine's load average at 13 on 2 cores: the median excess of a weave
 * thread's death over the bare death just before it, per kind of death over 60 pairs, was between
 * -416 and +464 bytes on every backend, while the sums over the same 60 pairs swung between -5.8
 * and +3.9 MB. Rounds of 60,000 slots made and closed grew the heap by 0.2 to 14 KiB when no
 * compilation or collection fell in them, and by 1 MB and more in up to half of them in a TCK run
 * on a loaded machine, where the JIT compiles late: work with no control beside it is judged by its
 * lower quartile.
 */
final class HeapGrowth {
  private HeapGrowth() {}

  /**
   * Runs {@code body} on a new thread, lets it die and waits until its OS thread has exited.
   *
   * @return how much the C heap grew meanwhile
   */
  static long overOneDeath(Deaths.Body body) {
    long before = NativeFixtures.heapInUse();
    Deaths.runAndJoin(body);
    return NativeFixtures.heapInUse() - before;
  }

  /**
   * Fails unless the median of {@code excess} is below {@code limit} bytes: for pieces of work each
   * measured against a piece of control work just before it, which the JVM's spikes hit as often.
   *
   * @param excess by how much more the heap grew over each piece of work than over its control
   * @param what what the pieces of work are, for the failure
   */
  static void assertMedianBelow(long limit, long[] excess, String what) {
    assertRankBelow(limit, excess, excess.length / 2, "median", what);
  }

  /**
   * Fails unless the lower quartile of {@code growth} is below {@code limit} bytes: for pieces of
   * work with no control beside them, which the JVM's spikes only ever push up. A leak still grows
   * three pieces in four.
   *
   * @param growth how much the heap grew over each piece of work
   * @param what what the pieces of work are, for the failure
   */
  static void assertLowerQuartileBelow(long limit, long[] growth, String what) {
    assertRankBelow(limit, growth, growth.length / 4, "lower quartile", what);
  }

  private static void assertRankBelow(
      long limit, long[] values, int rank, String statistic, String what) {
    long[] sorted = values.clone();
    Arrays.sort(sorted);
    if (sorted[rank] >= limit) {
      fail(
          what
              + ": the C heap grew by "
              + sorted[rank]
              + " bytes or more in "
              + (values.length - rank)
              + " of "
              + values.length
              + " (the "
              + statistic
              + "), over the limit of "
              + limit
              + ": a leak; quartiles "
              + sorted[sorted.length / 4]
              + ", "
              + sorted[sorted.length / 2]
              + " and "
              + sorted[sorted.length * 3 / 4]
              + (values.length <= 32 ? "; each: " + Arrays.toString(values) : ""));
    }
  }
}
