package dev.weave.spi;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * {@link NativePrimitives} simulated in Java, to test the engine's bookkeeping without an FFI:
 * memory is a map of words, pthread keys are per-thread maps, and a test ends a thread's life with
 * {@link #die(Thread)}, which runs key destructors the way glibc does (values cleared before each
 * call, keys in index order, a value set during a pass visited in that pass if its key comes later,
 * up to 4 passes). Live allocations are counted exactly.
 *
 * <p>Threads stand for OS threads and for attachments to the JVM at once. The threads this class
 * starts to run destructors or to attach again, and those of {@link #runAttachedFromNative}, stand
 * for attachments the JVM did not start ({@link #startedByJava} is false for them): give {@code
 * Seam.NONE.startedByJava(simulation::startedByJava)} to an engine that must tell them apart.
 */
final class SimulatedPrimitives implements NativePrimitives {
  static final long FREE = 0xf1ee;

  private final ConcurrentSkipListMap<Long, Long> blocks =
      new ConcurrentSkipListMap<>(); // base -> bytes
  private final List<String> violations = Collections.synchronizedList(new ArrayList<>());
  private final Map<Long, Long> words = new ConcurrentHashMap<>();
  private final Map<Long, Object> keys = new ConcurrentHashMap<>(); // key -> destructor
  private final Set<Long> keysMadeHere = ConcurrentHashMap.newKeySet();
  private final Map<Thread, TreeMap<Long, Long>> values = new ConcurrentHashMap<>();
  private final List<String> nativeCalls = new ArrayList<>();
  private final Set<Thread> attachedFromNative = ConcurrentHashMap.newKeySet();

  /** Shared by every simulation, as a process has one heap: the checkers share one block table. */
  private static long nextAddress = 0x10000;

  /**
   * Shared by every simulation, as a process has one set of pthread keys: an engine reads other
   * engines' keys through its own primitives (BadInput), and must not take the key of an engine of
   * another test's simulation for one of its own simulation's.
   */
  private static long nextKey = 1;

  /**
   * Called before every primitive operation, on the calling thread, outside any lock of this class.
   */
  interface Hook {
    void before(String operation, long argument);
  }

  /** What tests use to pause, count or fail an operation. */
  volatile Hook hook = (operation, argument) -> {};

  /** Told of each native destructor called, with its argument, after it is recorded. */
  volatile java.util.function.BiConsumer<Long, Long> nativeCallObserver = (function, value) -> {};

  /** weave's native walker, played in Java, if {@link #withNativeWalker()} asked for it. */
  private volatile SimulatedWalker nativeWalker;

  /** Offers a native walker ({@link SimulatedWalker}) to the engines made over this from now on. */
  SimulatedPrimitives withNativeWalker() {
    nativeWalker = new SimulatedWalker(this);
    return this;
  }

  @Override
  public Optional<SharedLibrary.Loader> libraryLoader() {
    SimulatedWalker walker = nativeWalker;
    return walker == null ? Optional.empty() : Optional.of(walker.loader());
  }

  @Override
  public long callbackFunction(ThreadDeathHandler handler) {
    SimulatedWalker walker = nativeWalker;
    return walker == null
        ? NativePrimitives.super.callbackFunction(handler)
        : walker.callback(handler);
  }

  /** A word read with no scheduling point: one step of an atomic operation. */
  long getWordAtOnce(long address) {
    checkAllocated(address, "read");
    return words.getOrDefault(address, 0L);
  }

  /** A word written with no scheduling point: one step of an atomic operation. */
  void putWordAtOnce(long address, long value) {
    checkAllocated(address, "write");
    words.put(address, value);
  }

  @Override
  public long allocateZeroed(long bytes) {
    hook.before("allocateZeroed", bytes);
    long base;
    synchronized (SimulatedPrimitives.class) {
      base = nextAddress;
      nextAddress += bytes + 64;
    }
    blocks.put(base, bytes);
    return base;
  }

  @Override
  public void free(long address) {
    hook.before("free", address);
    if (blocks.remove(address) == null) {
      violations.add("free of " + Long.toHexString(address) + ", which is not allocated");
    }
  }

  @Override
  public long getWord(long address) {
    hook.before("getWord", address);
    checkAllocated(address, "read");
    return words.getOrDefault(address, 0L);
  }

  @Override
  public void putWord(long address, long value) {
    hook.before("putWord", address);
    checkAllocated(address, "write");
    words.put(address, value);
  }

  private void checkAllocated(long address, String access) {
    Map.Entry<Long, Long> block = blocks.floorEntry(address);
    if (block == null || address + Long.BYTES > block.getKey() + block.getValue()) {
      violations.add(access + " of " + Long.toHexString(address) + ", outside any allocated block");
    }
  }

  /**
   * @return frees of unallocated memory and reads or writes outside allocated blocks, so far
   */
  List<String> violations() {
    return new ArrayList<>(violations);
  }

  @Override
  public long freeFunction() {
    return FREE;
  }

  @Override
  public long createKey(long destructorFunction) {
    hook.before("createKey", destructorFunction);
    synchronized (SimulatedPrimitives.class) {
      keys.put(nextKey, destructorFunction);
      keysMadeHere.add(nextKey);
      return nextKey++;
    }
  }

  @Override
  public long createKey(ThreadDeathHandler handler) {
    hook.before("createKey", 0);
    synchronized (SimulatedPrimitives.class) {
      keys.put(nextKey, handler);
      keysMadeHere.add(nextKey);
      return nextKey++;
    }
  }

  @Override
  public long getKey(long key) {
    if (!keysMadeHere.contains(key)) {
      return 0; // another simulation's key (another test's engine), never set in this one
    }
    hook.before("getKey", key);
    if (!keys.containsKey(key)) {
      return 0; // glibc: a deleted key reads NULL
    }
    return values.getOrDefault(Thread.currentThread(), new TreeMap<>()).getOrDefault(key, 0L);
  }

  @Override
  public void setKey(long key, long value) {
    hook.before("setKey", key);
    if (!keys.containsKey(key)) {
      throw new IllegalStateException("pthread_setspecific on a deleted key " + key);
    }
    values.computeIfAbsent(Thread.currentThread(), t -> new TreeMap<>()).put(key, value);
  }

  @Override
  public void deleteKey(long key) {
    hook.before("deleteKey", key);
    keys.remove(key);
  }

  @Override
  public void callDestructor(long function, long argument) {
    hook.before("callDestructor", function);
    SimulatedWalker walker = nativeWalker;
    if (walker != null && walker.call(function, argument)) {
      return;
    }
    synchronized (this) {
      nativeCalls.add(Long.toHexString(function) + "(" + argument + ")");
    }
    nativeCallObserver.accept(function, argument);
  }

  synchronized List<String> nativeCalls() {
    return new ArrayList<>(nativeCalls);
  }

  int liveBlocks() {
    return blocks.size();
  }

  /**
   * @return whether {@code thread} stands for a thread started by {@link Thread#start()}, rather
   *     than an attachment of a thread the JVM did not start
   */
  boolean startedByJava(Thread thread) {
    return !attachedFromNative.contains(thread);
  }

  /** {@code thread}, the calling one, stands for a thread created in C and attached through JNI. */
  void markAttachedFromNative(Thread thread) {
    attachedFromNative.add(thread);
  }

  /**
   * Runs {@code body} on a new {@link Thread} that stands for a thread created in C and attached to
   * the JVM through JNI, and joins it.
   *
   * @return the thread, finished
   */
  Thread runAttachedFromNative(Runnable body) throws InterruptedException {
    Thread thread = new Thread(body, "attached from native");
    attachedFromNative.add(thread);
    thread.start();
    thread.join();
    return thread;
  }

  /**
   * Runs {@code thread}'s key destructors as glibc does at thread exit, after {@code thread} has
   * finished: on another {@link Thread}, as a JVM re-attaching the dying OS thread would.
   */
  void die(Thread thread) throws InterruptedException {
    die(thread, () -> {});
  }

  /**
   * As {@link #die(Thread)}, then runs {@code afterward} on the same re-attached thread, as another
   * library's key destructor calling into Java would.
   */
  void die(Thread thread, Runnable afterward) throws InterruptedException {
    thread.join();
    TreeMap<Long, Long> own = values.remove(thread);
    if (own == null) {
      return;
    }
    Runnable destructorPass =
        () -> {
          runKeyDestructors(own);
          afterward.run();
        };
    Thread reattached = new Thread(destructorPass, "re-attached " + thread.getName());
    attachedFromNative.add(reattached);
    reattached.start();
    reattached.join();
  }

  /**
   * As {@link #die(Thread)}, but on the calling thread, which stands for the re-attached OS thread
   * of {@code finished}: for a test that must run every step on a thread it schedules itself.
   * {@code finished} must make no more calls.
   */
  void dieOnCallingThread(Thread finished) {
    attachedFromNative.add(Thread.currentThread());
    TreeMap<Long, Long> own = values.remove(finished);
    if (own != null) {
      runKeyDestructors(own);
    }
  }

  /**
   * Runs the calling thread's key destructors on the calling thread itself, as glibc does when a
   * native thread exits while still attached to the JVM (a {@code weave.h} thread, whose detach key
   * comes after the walker key).
   */
  void exitWhileAttached() {
    TreeMap<Long, Long> own = values.remove(Thread.currentThread());
    if (own != null) {
      runKeyDestructors(own);
    }
  }

  /**
   * Runs {@code body} on a new {@link Thread} standing for the OS thread of {@code previous}, as
   * when a native thread detaches from the JVM and attaches again.
   *
   * @return the new thread, finished
   */
  Thread reattach(Thread previous, Runnable body) throws InterruptedException {
    previous.join();
    TreeMap<Long, Long> own = values.remove(previous);
    Thread next =
        new Thread(
            () -> {
              if (own != null) {
                values.put(Thread.currentThread(), own);
              }
              body.run();
            });
    attachedFromNative.add(next);
    next.start();
    next.join();
    return next;
  }

  private void runKeyDestructors(TreeMap<Long, Long> own) {
    values.put(Thread.currentThread(), own);
    for (int pass = 0; pass < 4 && own.values().stream().anyMatch(v -> v != 0); pass++) {
      for (Long key = own.firstKey(); key != null; key = own.higherKey(key)) {
        long value = own.getOrDefault(key, 0L);
        Object destructor = keys.get(key);
        if (value == 0 || destructor == null) {
          continue;
        }
        own.put(key, 0L);
        if (destructor instanceof ThreadDeathHandler) {
          ((ThreadDeathHandler) destructor).threadDied(value);
        } else if ((Long) destructor == FREE) {
          free(value);
        } else if ((Long) destructor != 0) { // a key with no destructor: cleared, nothing called

          callDestructor((Long) destructor, value);
        }
      }
    }
    values.remove(Thread.currentThread());
  }

  Map<Long, Long> keyValues(Thread thread) {
    return new HashMap<>(values.getOrDefault(thread, new TreeMap<>()));
  }
}
