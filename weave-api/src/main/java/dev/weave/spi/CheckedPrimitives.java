package dev.weave.spi;

import dev.weave.spi.BlockTable.Block;
import dev.weave.spi.BlockTable.Site;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
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
 * Engine#CHECKED_PROPERTY} is {@code true} at its construction, or when it is given one. Every
 * checker in the JVM shares one table of blocks, each with the checker that allocated it: an access
 * through one engine's checker to a block another engine's checker has freed is a violation too
 * (reported by the accessing one), and each checker counts its own live blocks. Words outside every
 * block a checker allocated (the variables of {@code registerNative(long, long)}) are the user's,
 * and pass unchecked.
 *
 * <p>What it costs: freed blocks are kept in quarantine (the last {@value #QUARANTINE_BLOCKS}, up
 * to {@value #QUARANTINE_BYTES} bytes) before they go back to the C heap, so that a late access is
 * seen as one to a freed block and never lands in someone else's memory; every allocation records a
 * stack; memory keys free their chunks through a callback into the JVM at thread death instead of
 * libc's {@code free}, so that the free is seen, and so a thread that only used slots dies at the
 * cost of a re-attach. Those callback keys are deleted at JVM shutdown, as the engine does with its
 * walker key (so from then on glibc frees no chunk of a dying thread, and a thread that attaches
 * again finds no chunk on them). No direct buffers are handed out, so that every cell access is
 * checked. Reports are logged once its lock is released.
 */
public final class CheckedPrimitives implements NativePrimitives {
  /** How many freed blocks are held back from the C heap, at most, across every checker. */
  public static final int QUARANTINE_BLOCKS = 256;

  /** How many freed bytes are held back from the C heap, at most, across every checker. */
  public static final long QUARANTINE_BYTES = 4L << 20;

  private static final System.Logger LOG = System.getLogger("dev.weave");

  private static final Object LOCK = BlockTable.LOCK;

  private final NativePrimitives delegate;

  /** Guarded by {@link #LOCK}: how many live blocks of the {@link BlockTable} it allocated. */
  private long liveBlocks;

  /** Guarded by {@link #LOCK}: every key created through this layer, deleted or not. */
  private final Map<Long, Key> keys = new HashMap<>();

  /** Guarded by {@link #LOCK}. */
  private final List<String> violations = new ArrayList<>();

  /** Guarded by {@link #LOCK}. Once set, no new key frees through a callback into the JVM. */
  private boolean shuttingDown;

  /**
   * Run, holding no lock, before each count: an engine whose native walker leaves the blocks of
   * threads it walked at death for the engine to free frees them here, so that a count sees them.
   */
  private final List<Runnable> beforeCounting = new CopyOnWriteArrayList<>();

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

  /** The primitives that do the work, unchecked. */
  NativePrimitives delegate() {
    return delegate;
  }

  /**
   * @return how many violations were found so far
   */
  public long violationCount() {
    synchronized (LOCK) {
      return violations.size();
    }
  }

  /**
   * @return the reports of the violations found so far, oldest first
   */
  public List<String> violations() {
    synchronized (LOCK) {
      return List.copyOf(violations);
    }
  }

  /**
   * @return how many blocks the engine has allocated and not freed
   */
  public long liveBlocks() {
    reclaim();
    synchronized (LOCK) {
      return liveBlocks;
    }
  }

  /**
   * @return how many pthread keys the engine has created and not deleted
   */
  public long liveKeys() {
    synchronized (LOCK) {
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
    while (true) {
      reclaim();
      synchronized (LOCK) {
        if (liveBlocks == expected) {
          return true;
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        // A native walk at death frees nothing itself here: look again soon, reclaiming first.
        TimeUnit.NANOSECONDS.timedWait(
            LOCK, beforeCounting.isEmpty() ? left : Math.min(left, RECLAIM_POLL_NANOS));
      }
    }
  }

  private static final long RECLAIM_POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(5);

  /** An engine's native walker leaves it blocks to free: {@code reclaim} frees them. */
  void beforeCounting(Runnable reclaim) {
    beforeCounting.add(reclaim);
  }

  private void reclaim() {
    for (Runnable reclaim : beforeCounting) {
      reclaim.run();
    }
  }

  /**
   * @return each live block with the stack that allocated it, for a leak report
   */
  public List<String> describeLiveBlocks() {
    reclaim();
    synchronized (LOCK) {
      List<String> blocks = new ArrayList<>();
      for (Block block : BlockTable.liveOf(this)) {
        blocks.add(block + "\n  allocated by " + block.allocated);
      }
      return blocks;
    }
  }

  @Override
  public long allocateZeroed(long bytes) {
    long address = delegate.allocateZeroed(bytes);
    synchronized (LOCK) {
      BlockTable.add(new Block(this, address, bytes, new Site()));
      liveBlocks++;
      LOCK.notifyAll();
    }
    return address;
  }

  @Override
  public void free(long address) {
    Block released = null;
    String report = null;
    synchronized (LOCK) {
      Block block = BlockTable.liveAt(address);
      if (block != null && block.owner == this) {
        liveBlocks--;
        block.freed = new Site();
        released = BlockTable.quarantine(block);
        LOCK.notifyAll();
      } else if (block != null) {
        report = violation("free of a block another engine allocated", address, block);
      } else if (BlockTable.freedAt(address) != null) {
        report = violation("double free", address, BlockTable.freedAt(address));
      } else {
        Block inside = BlockTable.liveContaining(address);
        report =
            violation(
                inside != null
                    ? "free of an address inside a block"
                    : "free of an address it never allocated",
                address,
                inside);
      }
    }
    log(report);
    if (released != null) {
      released.owner.delegate.free(released.address);
    }
  }

  @Override
  public long getWord(long address) {
    if (freedAt(address, "read")) {
      return 0;
    }
    return delegate.getWord(address);
  }

  @Override
  public void putWord(long address, long value) {
    if (!freedAt(address, "write")) {
      delegate.putWord(address, value);
    }
  }

  /** Reports an access to a freed block. @return whether it was one: the access must not be done */
  private boolean freedAt(long address, String operation) {
    String report;
    synchronized (LOCK) {
      Block freed = BlockTable.freedContaining(address);
      if (freed == null) {
        return false;
      }
      report = violation(operation + " of freed memory", address, freed);
    }
    log(report);
    return true;
  }

  @Override
  public long freeFunction() {
    return delegate.freeFunction();
  }

  @Override
  public long createKey(long destructorFunction) {
    if (destructorFunction != 0 && destructorFunction == delegate.freeFunction()) {
      synchronized (LOCK) { // so that the shutdown hook deletes every such key
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
    synchronized (LOCK) {
      keys.put(key, new Key(key, false, new Site()));
    }
  }

  // Key calls go through under the lock, so that the shutdown hook cannot delete a key between the
  // check and the call.

  @Override
  public long getKey(long key) {
    String report;
    synchronized (LOCK) {
      report = unusable(key, "pthread_getspecific");
      if (report == null) {
        return delegate.getKey(key);
      }
    }
    log(report);
    return 0;
  }

  @Override
  public void setKey(long key, long value) {
    String report;
    synchronized (LOCK) {
      report = unusable(key, "pthread_setspecific");
      if (report == null) {
        Block freed = BlockTable.freedContaining(value);
        if (freed == null) {
          delegate.setKey(key, value);
          return;
        }
        report = violation("pthread_setspecific(" + key + ") to freed memory", value, freed);
      }
    }
    log(report);
  }

  @Override
  public void deleteKey(long key) {
    String report;
    synchronized (LOCK) {
      report = unusable(key, "pthread_key_delete");
      if (report == null) {
        keys.get(key).deleted = new Site();
        delegate.deleteKey(key);
        return;
      }
    }
    log(report);
  }

  /**
   * Guarded by {@link #LOCK}.
   *
   * @return null if {@code key} may be used; else the violation's report (empty for a key deleted
   *     at shutdown, which is not one)
   */
  private String unusable(long key, String operation) {
    Key known = keys.get(key);
    if (known == null) {
      return violation(operation + " on key " + key + ", which this engine never created", 0, null);
    }
    if (known.deleted == null) {
      return null;
    }
    if (known.deletedAtShutdown) {
      return "";
    }
    return record(
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

  /**
   * Whether {@code block}, a chunk that was the value of {@code key}, is still this checker's
   * although the key reads NULL: the key was deleted at shutdown (glibc calls no destructor of a
   * deleted key, and reads NULL for it), not visited at the thread's exit.
   */
  boolean keptByKeyDeletedAtShutdown(long key, long block) {
    synchronized (LOCK) {
      Key known = keys.get(key);
      Block live = BlockTable.liveAt(block);
      return known != null && known.deletedAtShutdown && live != null && live.owner == this;
    }
  }

  @Override
  public void callDestructor(long function, long argument) {
    delegate.callDestructor(function, argument);
  }

  @Override
  public long callbackFunction(ThreadDeathHandler handler) {
    return delegate.callbackFunction(handler);
  }

  /** The backend's: the native walker's records and chunks are blocks allocated through here. */
  @Override
  public Optional<SharedLibrary.Loader> libraryLoader() {
    return delegate.libraryLoader();
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
  void deleteCallbackKeys() {
    synchronized (LOCK) {
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

  /** Guarded by {@link #LOCK}. @return the report, counted, for {@link #log} once unlocked */
  private String violation(String operation, long address, Block block) {
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
    return record(report.toString());
  }

  /** Guarded by {@link #LOCK}. */
  private String record(String report) {
    violations.add(report);
    return report;
  }

  /** Holding no lock: a logging handler is user code. */
  private static void log(String report) {
    if (report == null || report.isEmpty()) {
      return;
    }
    try {
      LOG.log(Level.ERROR, "weave checked mode: " + report);
    } catch (Throwable ignored) {
      // the violation is counted; a failing logger must not change what the engine does
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
}
