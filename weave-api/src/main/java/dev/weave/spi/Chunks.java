package dev.weave.spi;

/**
 * Where a slot's cell lives in a thread's chunks. Chunk {@code c} holds {@code 64 << c} cells, then
 * as many owner words (the id of the slot that last used each cell there), so a few chunks that
 * never move cover any number of slots.
 */
final class Chunks {
  static final int FIRST_CHUNK_CELLS = 64;
  static final int MAX_CHUNKS = 24;

  /** Slot indices run from 0 to {@code CAPACITY - 1}. */
  static final int CAPACITY = FIRST_CHUNK_CELLS * ((1 << MAX_CHUNKS) - 1);

  private Chunks() {}

  /**
   * @return the chunk that holds slot index {@code index}
   */
  static int chunkOf(int index) {
    return 31 - Integer.numberOfLeadingZeros(index / FIRST_CHUNK_CELLS + 1);
  }

  /**
   * @return the first slot index held by {@code chunk}
   */
  static int firstIndex(int chunk) {
    return FIRST_CHUNK_CELLS * ((1 << chunk) - 1);
  }

  /**
   * @return how many cells {@code chunk} holds
   */
  static int cellsIn(int chunk) {
    return FIRST_CHUNK_CELLS << chunk;
  }

  /**
   * @return the size of {@code chunk}: its cells, then their owner words
   */
  static long bytesOf(int chunk) {
    return 2L * cellsIn(chunk) * Long.BYTES;
  }

  /**
   * @return the byte offset of index {@code index}'s cell in its chunk
   */
  static long cellOffset(int index) {
    return (long) (index - firstIndex(chunkOf(index))) * Long.BYTES;
  }

  /**
   * @return the byte offset of index {@code index}'s owner word in its chunk
   */
  static long ownerOffset(int index) {
    int chunk = chunkOf(index);
    return (long) (cellsIn(chunk) + index - firstIndex(chunk)) * Long.BYTES;
  }
}
