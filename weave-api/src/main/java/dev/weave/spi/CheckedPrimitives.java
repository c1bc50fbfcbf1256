package dev.weave.spi;

import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * Checked mode (contract rule 14): {@link NativePrimitives} that watch an engine's own use of
 * native memory and pthread keys, as a sanitizer would. Every block the engine allocates and every
 * key it creates is tracked with the stack that made it. A read, write or free of a block the
 * engine has freed, a double free, a free of an address it never allocated, a key used after it was
 * deleted and a key value set to a freed block are each a <em>violation</em>: reported through
 * {@link System.Logger} (logger {@code dev.weave}, level ERROR) with the operation, the block, and
 * where it was allocated and freed, counted, and not performed (a read returns 0).
 *
 * <p>{@link Engine} wraps its primitives in one when the system property {@value
 * Engine#CHECKED_PROPERTY} is {@code true} at its construction, or when it is given one. Words
 * outside every block the engine allocated (the variables of {@code registerNative(long, long)})
 * are the user's, and pass unchecked.
 *
 * <p>What it costs: freed blocks are kept in quarantine (the last {@value #QUARANTINE_BLOCKS}, up
 * to {@value #QUARANTINE_BYTES} bytes) before they go back to the C heap, so that a late access is
 * seen as one to a freed block and never lands in someone else's memory; every allocation records a
 * stack; memory keys free their chunks through a callback into the JVM at thread death instead of
 * libc's {@code free}, so that the free is seen, and so a thread that only used slots dies at the
 * cost of a re-attach. Those callback keys are deleted at JVM shutdown, as the engine does with its
 * walker key. No direct buffers are handed out, so that every cell access is checked.
 */
public final class CheckedPrimitives implements NativePrimitives {
  /** How many freed blocks are held back from the C heap, at most. */
  public static final int QUARANTINE_BLOCKS = 256;

  /** How many freed bytes are held back from the C heap, at most. */
  public static final long QUARANTINE_BYTES = 4L << 20;

  private static final System.Logger LOG = System.getLogger("dev.weave");
  private static final int STACK_DEPTH = 12;

  private final NativePrimitives delegate;
  private final Object lock = new Object();

  /** Guarded by {@link #lock}: blocks by start address. */
  private final TreeMap<Long, Block> live = new TreeMap<>();

  /** Guarded by {@link #lock}: freed blocks not yet returned to the C heap, by start address. */
  private final TreeMap<Long, Block> quarantined = new TreeMap<>();

  /** Guarded by {@link #lock}: the quarantine in the order blocks entered it. */
  private final ArrayDeque<Block> quarantineOrder = new ArrayDeque<>();

  /** Guarded by {@link #lock}. */
  private long quarantinedBytes;

  /** Guarded by {@link #lock}: every key created through this layer, deleted or not. */
  private final Map<Long, Key> keys = new HashMap<>();

  /** Guarded by {@link #lock}. */
  private final List<String> violations = new ArrayList<>();

  /** Guarded by {@link #lock}. Once set, no new key frees through a callback into the JVM. */
  private boolean shuttingDown;

  /**
   * @param delegate the backend's primitives, which do the work
   */
  public CheckedPrimitives(NativePrimitives delegate) {
    if (delegate == null) {
      throw new NullPointerException("delegate is null");
    }
    this.delegate = delegate;
    try {
      Runtime.getRuntime()
          .addShutdownHook(new Thread(this::deleteCallbackKeys, "weave-checked-shutdown"));
    } catch (IllegalStateException alreadyShuttingDown) {
      shuttingDown = true;
    }
  }

  /**
   * @return how many violations were found so far
   */
  public long violationCount() {
    synchronized (lock) {
      return violations.size();
    }
  }

  /**
   * @return the reports of the violations found so far, oldest first
   */
  public List<String> violations() {
    synchronized (lock) {
      return List.copyOf(violations);
    }
  }

  /**
   * @return how many blocks the engine has allocated and not freed
   */
  public long liveBlocks() {
    synchronized (lock) {
      return live.size();
    }
  }

  /**
   * @return how many pthread keys the engine has created and not deleted
   */
  public long liveKeys() {
    synchronized (lock) {
      return keys.values().stream().filter(k -> k.deleted == null).count();
    }
  }

  /**
   * Waits until {@link #liveBlocks()} is {@code expected}: blocks of dying threads are freed on
   * those threads, after {@link Thread#join()} may have returned.
   *
   * @return whether it got there before {@code timeout}
   */
  public boolean awaitLiveBlocks(long expected, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (lock) {
      while (live.size() != expected) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        TimeUnit.NANOSECONDS.timedWait(lock, left);
      }
      return true;
    }
  }

  /**
   * @return each live block with the stack that allocated it, for a leak report
   */
  public List<String> describeLiveBlocks() {
    synchronized (lock) {
      List<String> blocks = new ArrayList<>();
      for (Block block : live.values()) {
        blocks.add(block + "\n  allocated by " + block.allocated);
      }
      return blocks;
    }
  }

  @Override
  public long allocateZeroed(long bytes) {
    long address = delegate.allocateZeroed(bytes);
    synchronized (lock) {
      live.put(address, new Block(address, bytes, new Site()));
      lock.notifyAll();
    }
    return address;
  }

  @Override
  public void free(long address) {
    Block released;
    synchronized (lock) {
      Block block = live.get(address);
      if (block == null) {
        Block freed = quarantined.get(address);
        if (freed != null) {
          violation("double free", address, freed);
        } else {
          Block inside = containing(live, address);
          violation(
              inside != null
                  ? "free of an address inside a block"
                  : "free of an address it never allocated",
              address,
              inside);
        }
        return;
      }
      live.remove(address);
      block.freed = new Site();
      quarantined.put(address, block);
      quarantineOrder.addLast(block);
      quarantinedBytes += block.bytes;
      released = null;
      if (quarantineOrder.size() > QUARANTINE_BLOCKS || quarantinedBytes > QUARANTINE_BYTES) {
        released = quarantineOrder.pollFirst();
        quarantined.remove(released.address);
        quarantinedBytes -= released.bytes;
      }
      lock.notifyAll();
    }
    if (released != null) {
      delegate.free(released.address);
    }
  }

  @Override
  public long getWord(long address) {
    if (freedAt(address, "read") != null) {
      return 0;
    }
    return delegate.getWord(address);
  }

  @Override
  public void putWord(long address, long value) {
    if (freedAt(address, "write") == null) {
      delegate.putWord(address, value);
    }
  }

  /** Reports an access to a freed block. @return the block, or null if the access may go ahead */
  private Block freedAt(long address, String operation) {
    synchronized (lock) {
      Block freed = containing(quarantined, address);
      if (freed != null) {
        violation(operation + " of freed memory", address, freed);
      }
      return freed;
    }
  }

  @Override
  public long freeFunction() {
    return delegate.freeFunction();
  }

  @Override
  public long createKey(long destructorFunction) {
    if (destructorFunction != 0 && destructorFunction == delegate.freeFunction()) {
      synchronized (lock) { // so that the shutdown hook deletes every such key
        if (!shuttingDown) {
          // libc's free would be unseen here: free through this layer instead.
          long key = delegate.createKey(this::freeAtThreadDeath);
          keys.put(key, new Key(key, true, new Site()));
          return key;
        }
      }
    }
    long key = delegate.createKey(destructorFunction);
    track(key);
    return key;
  }

  @Override
  public long createKey(ThreadDeathHandler handler) {
    long key = delegate.createKey(handler);
    track(key);
    return key;
  }

  private void freeAtThreadDeath(long block) {
    try {
      free(block);
    } catch (Throwable t) {
      // nothing may escape into native code
    }
  }

  private void track(long key) {
    synchronized (lock) {
      keys.put(key, new Key(key, false, new Site()));
    }
  }

  // Key calls go through under the lock, so that the shutdown hook cannot delete a key between the
  // check and the call.

  @Override
  public long getKey(long key) {
    synchronized (lock) {
      return usable(key, "pthread_getspecific") ? delegate.getKey(key) : 0;
    }
  }

  @Override
  public void setKey(long key, long value) {
    synchronized (lock) {
      if (!usable(key, "pthread_setspecific")) {
        return;
      }
      Block freed = containing(quarantined, value);
      if (freed != null) {
        violation("pthread_setspecific(" + key + ") to freed memory", value, freed);
        return;
      }
      delegate.setKey(key, value);
    }
  }

  @Override
  public void deleteKey(long key) {
    synchronized (lock) {
      if (!usable(key, "pthread_key_delete")) {
        return;
      }
      keys.get(key).deleted = new Site();
      delegate.deleteKey(key);
    }
  }

  /** Guarded by {@link #lock}. @return whether {@code key} may be used; reports it if not */
  private boolean usable(long key, String operation) {
    Key known = keys.get(key);
    if (known == null) {
      violation(operation + " on key " + key + ", which this engine never created", 0, null);
      return false;
    }
    if (known.deleted != null) {
      if (!known.deletedAtShutdown) {
        report(
            operation
                + " on key "
                + key
                + " after it was deleted\n  created by "
                + known.created
                + "\n  deleted by "
                + known.deleted
                + "\n  used by "
                + new Site());
      }
      return false;
    }
    return true;
  }

  @Override
  public void callDestructor(long function, long argument) {
    delegate.callDestructor(function, argument);
  }

  /** None: every cell access must come through {@link #getWord} and {@link #putWord}. */
  @Override
  public ByteBuffer directBuffer(long address, int bytes) {
    return null;
  }

  /**
   * The launcher's main thread dies after the JVM is destroyed: a key whose destructor calls into
   * the JVM must be gone by then.
   */
  private void deleteCallbackKeys() {
    synchronized (lock) {
      shuttingDown = true;
      for (Key key : keys.values()) {
        if (key.freesThroughCallback && key.deleted == null) {
          key.deleted = new Site();
          key.deletedAtShutdown = true;
          try {
            delegate.deleteKey(key.key);
          } catch (RuntimeException e) {
            // the JVM is exiting; nothing to do but go on with the others
          }
        }
      }
    }
  }

  /** Guarded by {@link #lock}. */
  private void violation(String operation, long address, Block block) {
    StringBuilder report = new StringBuilder(operation);
    if (address != 0) {
      report.append(" at 0x").append(Long.toHexString(address));
    }
    if (block != null) {
      report.append(": ").append(address - block.address).append(" bytes into ").append(block);
      report.append("\n  allocated by ").append(block.allocated);
      if (block.freed != null) {
        report.append("\n  freed by ").append(block.freed);
      }
    }
    report.append("\n  this access by ").append(new Site());
    report(report.toString());
  }

  /** Guarded by {@link #lock}. */
  private void report(String report) {
    violations.add(report);
    try {
      LOG.log(Level.ERROR, "weave checked mode: " + report);
    } catch (Throwable ignored) {
      // the violation is counted; a failing logger must not change what the engine does
    }
  }

  private static Block containing(TreeMap<Long, Block> blocks, long address) {
    Map.Entry<Long, Block> candidate = blocks.floorEntry(address);
    if (candidate == null) {
      return null;
    }
    Block block = candidate.getValue();
    return address < block.address + block.bytes ? block : null;
  }

  private static final class Block {
    final long address;
    final long bytes;
    final Site allocated;
    Site freed;

    Block(long address, long bytes, Site allocated) {
      this.address = address;
      this.bytes = bytes;
      this.allocated = allocated;
    }

    @Override
    public String toString() {
      return "the block of " + bytes + " bytes at 0x" + Long.toHexString(address);
    }
  }

  private static final class Key {
    final long key;
    final boolean freesThroughCallback;
    final Site created;
    Site deleted;
    boolean deletedAtShutdown;

    Key(long key, boolean freesThroughCallback, Site created) {
      this.key = key;
      this.freesThroughCallback = freesThroughCallback;
      this.created = created;
    }
  }

  /** A thread and the stack where it did something, without the frames of this class. */
  private static final class Site {
    final String thread = Thread.currentThread().getName();
    final StackTraceElement[] stack = new Throwable().getStackTrace();

    @Override
    public String toString() {
      StringBuilder text = new StringBuilder("thread \"").append(thread).append("\":");
      int shown = 0;
      for (StackTraceElement frame : stack) {
        String frameClass = frame.getClassName();
        if (frameClass.equals(CheckedPrimitives.class.getName())
            || frameClass.startsWith(CheckedPrimitives.class.getName() + "$")) {
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
