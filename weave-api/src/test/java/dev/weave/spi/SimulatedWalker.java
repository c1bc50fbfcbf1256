package dev.weave.spi;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongUnaryOperator;

/**
 * weave's native walker ({@code walker/weave_walker.c}) played in Java over {@link
 * SimulatedPrimitives}, step for step, so that the interleaving harness can schedule the engine's
 * threads between the steps of a walk at death the way the OS would schedule them between the C
 * walk's instructions: every read and write of the record goes through the simulation (each a
 * scheduling point), and the harness runs one thread at a time, so each access is sequentially
 * consistent, as the C walk's and the closer's are. Threads are attachments here: the walk calls
 * into Java on the thread it runs on, and attaching is not played.
 */
final class SimulatedWalker {
  /** The walk's address, as the walker key's destructor. */
  static final long WALK = 0x3a1c;

  private static final long MAX_ROUNDS = Engine.MAX_ROUNDS;

  private final SimulatedPrimitives memory;

  /** The callbacks into Java the engine made, by address. */
  private final Map<Long, ThreadDeathHandler> callbacks = new ConcurrentHashMap<>();

  private long nextCallback = 0xca11b0;

  /** Walks at death per thread (a thread stands for an OS thread here). */
  private final Map<Thread, Long> walksAtDeath = new ConcurrentHashMap<>();

  SimulatedWalker(SimulatedPrimitives memory) {
    this.memory = memory;
  }

  synchronized long callback(ThreadDeathHandler handler) {
    long address = nextCallback++;
    callbacks.put(address, handler);
    return address;
  }

  /**
   * Calls {@code function} if it is the walk or a callback.
   *
   * @return whether it was
   */
  boolean call(long function, long argument) {
    if (function == WALK) {
      walk(argument);
      return true;
    }
    ThreadDeathHandler callback = callbacks.get(function);
    if (callback != null) {
      callback.threadDied(argument);
      return true;
    }
    return false;
  }

  /** The loader that "loads" this walker, whatever file it is given. */
  SharedLibrary.Loader loader() {
    return new SharedLibrary.Loader() {
      @Override
      public SharedLibrary load(Path file) {
        return library();
      }

      @Override
      public long libcFunction(String name) {
        return 0x1bc;
      }
    };
  }

  private SharedLibrary library() {
    return new SharedLibrary() {
      @Override
      public long address(String symbol) {
        if (symbol.equals("weave_walker_walk")) {
          return WALK;
        }
        throw new UnsatisfiedLinkError(symbol);
      }

      @Override
      public LongUnaryOperator function(String symbol) {
        switch (symbol) {
          case "weave_walker_abi_version":
            return unused -> WalkerLibrary.ABI_VERSION;
          case "weave_walker_layout":
            return i -> i < WalkerLibrary.LAYOUT.length ? WalkerLibrary.LAYOUT[(int) i] : -1;
          case "weave_walker_java_vm":
            return getCreatedJavaVms -> 0x7a7a;
          case "weave_walker_take_walked":
            return SimulatedWalker.this::takeWalked;
          case "weave_walker_walks_at_death":
            return unused -> walksAtDeath.getOrDefault(Thread.currentThread(), 0L);
          default:
            throw new UnsatisfiedLinkError(symbol);
        }
      }
    };
  }

  /** weave_walker_walk, as the C does it. */
  private void walk(long record) {
    long config = word(record + Record.CONFIG);
    walksAtDeath.merge(Thread.currentThread(), 1L, Long::sum);
    if (word(config + NativeWalker.SHUTTING_DOWN) != 0) {
      return;
    }
    put(record + Record.STATUS, Record.WALKING);
    for (long i = word(record + Record.NEXT);
        i < word(record + Record.COUNT);
        i = word(record + Record.NEXT)) {
      long entry = word(record + Record.ENTRIES) + i * Record.ENTRY_BYTES;
      long meta = word(entry + Record.META);
      put(record + Record.NEXT, i + 1);
      if ((meta & (Record.REMOVED | Record.DROPPED)) != 0) {
        continue;
      }
      long round = (meta >>> Record.ROUND_SHIFT) & 0xff;
      if (round >= MAX_ROUNDS) {
        put(
            record + Record.DROPPED_PAST_LAST_ROUND,
            word(record + Record.DROPPED_PAST_LAST_ROUND) + 1);
        continue;
      }
      put(record + Record.ROUND, round);
      run(record, config, i);
    }
    if (word(record + Record.DROPPED_PAST_LAST_ROUND) > 0 && !shuttingDown(config)) {
      put(record + Record.CALL, Record.CALL_REPORT);
      call(word(config + NativeWalker.UPCALL), record);
    }
    long freeChunk = word(config + NativeWalker.FREE_CHUNK);
    if (freeChunk != 0) {
      for (int chunk = 0; chunk < Chunks.MAX_CHUNKS; chunk++) {
        long at = record + Record.CHUNKS + chunk * (long) Long.BYTES;
        if (word(at) != 0) {
          if (freeChunk == SimulatedPrimitives.FREE) {
            memory.free(word(at));
          } else {
            memory.callDestructor(freeChunk, word(at));
          }
          put(at, 0);
        }
      }
    }
    put(record + Record.STATUS, Record.WALKED);
    synchronized (this) { // a compare-and-swap in C: one step, with no scheduling point in it
      memory.putWordAtOnce(
          record + Record.NEXT_WALKED, memory.getWordAtOnce(config + NativeWalker.WALKED));
      memory.putWordAtOnce(config + NativeWalker.WALKED, record);
    }
  }

  private void run(long record, long config, long i) {
    put(record + Record.RUNNING, i + 1);
    long entry = word(record + Record.ENTRIES) + i * Record.ENTRY_BYTES;
    if ((word(entry + Record.META) & Record.DROPPED) == 0) {
      long function = word(entry + Record.FUNCTION);
      if (function != 0) {
        memory.callDestructor(function, word(word(entry + Record.VARIABLE)));
      } else if (!shuttingDown(config)) {
        put(record + Record.CALL, Record.CALL_RUN);
        call(word(config + NativeWalker.UPCALL), record);
      }
    }
    put(record + Record.RUNNING, 0);
  }

  private boolean shuttingDown(long config) {
    return word(config + NativeWalker.SHUTTING_DOWN) != 0;
  }

  /** An atomic exchange in C: one step, with no scheduling point in it. */
  private synchronized long takeWalked(long config) {
    long head = memory.getWordAtOnce(config + NativeWalker.WALKED);
    memory.putWordAtOnce(config + NativeWalker.WALKED, 0);
    return head;
  }

  private long word(long address) {
    return memory.getWord(address);
  }

  private void put(long address, long value) {
    memory.putWord(address, value);
  }
}
