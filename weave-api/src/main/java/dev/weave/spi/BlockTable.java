package dev.weave.spi;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Checked mode's table of native blocks: one for every {@link CheckedPrimitives} in the JVM, so
 * that an access through one engine's checker to a block another engine's checker freed is seen.
 * Each block keeps the checker that allocated it and the stacks that allocated and freed it. Freed
 * blocks wait in a quarantine before they go back to the C heap, so that a late access finds them
 * here rather than landing in someone else's memory. Every method is called under {@link #LOCK}.
 */
final class BlockTable {
  /** Guards the table, and each checker's counts, keys and violations. */
  static final Object LOCK = new Object();

  /** Live blocks, by start address. */
  private static final TreeMap<Long, Block> LIVE = new TreeMap<>();

  /** Freed blocks not yet returned to the C heap, by start address. */
  private static final TreeMap<Long, Block> QUARANTINED = new TreeMap<>();

  /** The quarantine in the order blocks entered it. */
  private static final ArrayDeque<Block> QUARANTINE_ORDER = new ArrayDeque<>();

  private static long quarantinedBytes;

  private static final int STACK_DEPTH = 12;

  private BlockTable() {}

  static void add(Block block) {
    assert Thread.holdsLock(LOCK);
    LIVE.put(block.address, block);
  }

  /**
   * @return the live block that starts at {@code address}, or null
   */
  static Block liveAt(long address) {
    assert Thread.holdsLock(LOCK);
    return LIVE.get(address);
  }

  /**
   * @return the live block {@code address} is in, or null
   */
  static Block liveContaining(long address) {
    assert Thread.holdsLock(LOCK);
    return containing(LIVE, address);
  }

  /**
   * @return the quarantined block that starts at {@code address}, or null
   */
  static Block freedAt(long address) {
    assert Thread.holdsLock(LOCK);
    return QUARANTINED.get(address);
  }

  /**
   * @return the quarantined block {@code address} is in, or null
   */
  static Block freedContaining(long address) {
    assert Thread.holdsLock(LOCK);
    return containing(QUARANTINED, address);
  }

  /**
   * Moves a live block into the quarantine.
   *
   * @return the oldest quarantined block, once the quarantine is over its bounds: the caller gives
   *     it back to the C heap (through its checker's delegate), holding no lock; or null
   */
  static Block quarantine(Block block) {
    assert Thread.holdsLock(LOCK);
    LIVE.remove(block.address);
    QUARANTINED.put(block.address, block);
    QUARANTINE_ORDER.addLast(block);
    quarantinedBytes += block.bytes;
    if (QUARANTINE_ORDER.size() <= CheckedPrimitives.QUARANTINE_BLOCKS
        && quarantinedBytes <= CheckedPrimitives.QUARANTINE_BYTES) {
      return null;
    }
    Block released = QUARANTINE_ORDER.pollFirst();
    QUARANTINED.remove(released.address);
    quarantinedBytes -= released.bytes;
    return released;
  }

  /**
   * @return the live blocks {@code owner} allocated
   */
  static List<Block> liveOf(CheckedPrimitives owner) {
    assert Thread.holdsLock(LOCK);
    List<Block> blocks = new ArrayList<>();
    for (Block block : LIVE.values()) {
      if (block.owner == owner) {
        blocks.add(block);
      }
    }
    return blocks;
  }

  private static Block containing(TreeMap<Long, Block> blocks, long address) {
    Map.Entry<Long, Block> candidate = blocks.floorEntry(address);
    if (candidate == null) {
      return null;
    }
    Block block = candidate.getValue();
    return address < block.address + block.bytes ? block : null;
  }

  /** A block a checker allocated. */
  static final class Block {
    final CheckedPrimitives owner;
    final long address;
    final long bytes;
    final Site allocated;
    Site freed;

    Block(CheckedPrimitives owner, long address, long bytes, Site allocated) {
      this.owner = owner;
      this.address = address;
      this.bytes = bytes;
      this.allocated = allocated;
    }

    @Override
    public String toString() {
      return "the block of " + bytes + " bytes at 0x" + Long.toHexString(address);
    }
  }

  private static boolean isCheckedMode(String frameClass) {
    for (Class<?> own : new Class<?>[] {CheckedPrimitives.class, BlockTable.class}) {
      if (frameClass.equals(own.getName()) || frameClass.startsWith(own.getName() + "$")) {
        return true;
      }
    }
    return false;
  }

  /** A thread and the stack where it did something, without checked mode's own frames. */
  static final class Site {
    final String thread = Thread.currentThread().getName();
    final StackTraceElement[] stack = new Throwable().getStackTrace();

    @Override
    public String toString() {
      StringBuilder text = new StringBuilder("thread \"").append(thread).append("\":");
      int shown = 0;
      for (StackTraceElement frame : stack) {
        String frameClass = frame.getClassName();
        if (isCheckedMode(frameClass)) {
          continue;
        }
        if (shown++ == STACK_DEPTH) {
          text.append("\n      ...");
          break;
        }
        text.append("\n      at ").append(frame);
      }
      return text.toString();
    }
  }
}
