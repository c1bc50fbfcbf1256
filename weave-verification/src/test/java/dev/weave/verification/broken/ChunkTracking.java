package dev.weave.verification.broken;

import dev.weave.spi.ForwardingPrimitives;
import dev.weave.spi.NativePrimitives;
import dev.weave.tck.NativeFixtures;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Primitives that remember the blocks the engine allocated (its chunks of cells), and on which OS
 * thread: the engine allocates a thread's chunks on that thread.
 */
final class ChunkTracking extends ForwardingPrimitives {
  /** address to {address, bytes, OS thread id}. */
  private final Map<Long, long[]> chunks = new ConcurrentHashMap<>();

  ChunkTracking(NativePrimitives delegate) {
    super(delegate);
  }

  @Override
  public long allocateZeroed(long bytes) {
    long address = delegate.allocateZeroed(bytes);
    chunks.put(address, new long[] {address, bytes, NativeFixtures.osThreadId()});
    return address;
  }

  @Override
  public void free(long address) {
    chunks.remove(address);
    delegate.free(address);
  }

  /**
   * @return {address, bytes} of each chunk the calling OS thread allocated and has not freed
   */
  List<long[]> chunksOfThisThread() {
    long thread = NativeFixtures.osThreadId();
    return chunks.values().stream().filter(c -> c[2] == thread).toList();
  }

  /**
   * @return the address of the owner word of the cell at {@code address}, or 0 if {@code address}
   *     is not a cell: a chunk holds its cells, then as many owner words
   */
  long ownerWordOf(long address) {
    for (long[] chunk : chunks.values()) {
      long cellBytes = chunk[1] / 2;
      if (address >= chunk[0] && address < chunk[0] + cellBytes) {
        return address + cellBytes;
      }
    }
    return 0;
  }

  /**
   * @return whether {@code address} is in a chunk of cells
   */
  boolean isCell(long address) {
    return chunks.values().stream().anyMatch(c -> address >= c[0] && address < c[0] + c[1]);
  }
}
