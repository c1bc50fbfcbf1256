package dev.weave.spi;

import dev.weave.Destructor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * An armed thread's registrations, in native memory where both walkers read them: the Java walker
 * ({@link ThreadState#walk}) and the native one ({@code walker/weave_walker.c}, whose {@code struct
 * weave_walker_record} and {@code struct weave_walker_entry} this layout is; the library reports
 * its layout when it loads, and a mismatch keeps the Java walker).
 *
 * <p>One block per armed state, allocated when the state arms and freed when it disarms or dies: a
 * header of words, the addresses of the thread's chunks (which the native walker frees at the end
 * of a walk at death), then the first {@value #INLINE_ENTRIES} entries. More go to an array of
 * their own that grows by doubling. An entry is three words: the variable, the C function (0 for a
 * Java destructor, which is {@code destructors[i]} here) and a word of flags and the round. The
 * Java objects of an entry (its {@link Destructor}, the {@link Slot} it was made through) are in
 * arrays at the same index: C has no use for them.
 *
 * <p>Where the backend's {@link NativePrimitives#getWord}/{@link NativePrimitives#putWord} cost a
 * native call each (jna, jnr), the block and a grown array are read and written through direct
 * buffers over them ({@link NativePrimitives#directBuffer}), as cells are: a registration then
 * costs no native call but the block's allocation when the thread arms. Aligned 8-byte accesses
 * either way, so the native walker never sees half a word.
 *
 * <p>Nothing here locks: the caller holds the state's monitor. The owner thread appends and marks
 * entries removed; a closing thread marks them dropped; a walker takes them in order. The native
 * walker holds no monitor: it publishes the entry it is about to run in {@link #RUNNING}, then
 * reads the entry's flags again, while a closer marks an entry dropped, then reads {@link #RUNNING}
 * (LIFECYCLE.md, "The native walker").
 */
final class Record {
  // The header, as byte offsets (weave_walker.h).
  /** {@link #ALIVE}, {@link #WALKING} or {@link #WALKED}: the native walker's progress at death. */
  static final long STATUS = 0;

  /** The state's index in the ledger's armed table. */
  static final long ARMED_INDEX = 8;

  /** The engine's native walker configuration (NativeWalker), or 0 with the Java walker. */
  static final long CONFIG = 16;

  /** The address of entry 0. */
  static final long ENTRIES = 24;

  /** How many entries are written, run or not. */
  static final long COUNT = 32;

  /** The index of the first entry no walker has taken yet. */
  static final long NEXT = 40;

  /** The round of the entry taken last. */
  static final long ROUND = 48;

  /** The index plus one of the entry a walker is running, 0 when none. */
  static final long RUNNING = 56;

  /** What the native walker's call into Java is for: {@link #CALL_RUN} or {@link #CALL_REPORT}. */
  static final long CALL = 64;

  /** How many entries the native walker dropped for being past the last round. */
  static final long DROPPED_PAST_LAST_ROUND = 72;

  /** The next record on the engine's list of records walked at death. */
  static final long NEXT_WALKED = 80;

  /** The thread's chunk addresses, one word per chunk. */
  static final long CHUNKS = 88;

  static final int INLINE_ENTRIES = 4;
  static final long INLINE = CHUNKS + Chunks.MAX_CHUNKS * (long) Long.BYTES;

  // An entry.
  static final long ENTRY_BYTES = 24;
  static final long VARIABLE = 0;
  static final long FUNCTION = 8;
  static final long META = 16;

  /** The whole block. */
  static final long BYTES = INLINE + INLINE_ENTRIES * ENTRY_BYTES;

  // An entry's flags, in META's low bits; the round is in bits 8 to 15.
  static final long REMOVED = 1;
  static final long DROPPED = 2;
  static final int ROUND_SHIFT = 8;

  // STATUS.
  static final long ALIVE = 0;
  static final long WALKING = 1;
  static final long WALKED = 2;

  // CALL.
  static final long CALL_RUN = 1;
  static final long CALL_REPORT = 2;

  private final NativePrimitives primitives;
  final long address;

  /** A view of the block, or null where the backend gives none. */
  private final ByteBuffer block;

  /** Whether to ask the backend for views. */
  private final boolean views;

  /** The address of entry 0: inline at first, then an array of its own. */
  private long entries;

  /** A view of the entries' own array once they have one, or null. */
  private ByteBuffer array;

  private int capacity = INLINE_ENTRIES;
  private int count;

  /** Entries not removed, dropped or taken by the Java walker. */
  private int live;

  /**
   * The first entry the Java walker has not taken: its own count, so that its progress never
   * depends on what it reads back ({@link #NEXT} holds it too, and the native walker's own).
   */
  private int next;

  private Destructor[] destructors = new Destructor[INLINE_ENTRIES];
  private Slot[] slots = new Slot[INLINE_ENTRIES];

  private Record(NativePrimitives primitives, long address, boolean views) {
    this.primitives = primitives;
    this.address = address;
    this.views = views;
    this.block = view(primitives, address, BYTES, views);
    this.entries = address + INLINE;
  }

  /**
   * @param config the engine's native walker configuration, or 0
   * @param views whether the backend gives direct buffers over native memory (Engine asks once)
   */
  static Record allocate(NativePrimitives primitives, long config, boolean views) {
    long address = primitives.allocateZeroed(BYTES);
    Record record;
    try {
      record = new Record(primitives, address, views);
    } catch (RuntimeException | Error e) {
      primitives.free(address);
      throw e;
    }
    if (config != 0) {
      record.put(CONFIG, config);
    }
    record.put(ENTRIES, record.entries);
    return record;
  }

  private static ByteBuffer view(
      NativePrimitives primitives, long address, long bytes, boolean views) {
    if (!views || bytes > Integer.MAX_VALUE) {
      return null;
    }
    ByteBuffer view = primitives.directBuffer(address, (int) bytes);
    return view == null ? null : view.order(ByteOrder.nativeOrder());
  }

  /** The header word at {@code offset}. */
  private long get(long offset) {
    return block != null ? block.getLong((int) offset) : primitives.getWord(address + offset);
  }

  private void put(long offset, long value) {
    if (block != null) {
      block.putLong((int) offset, value);
    } else {
      primitives.putWord(address + offset, value);
    }
  }

  /** Word {@code field} of entry {@code i}. */
  private long get(int i, long field) {
    long offset = i * ENTRY_BYTES + field;
    if (entries == address + INLINE) {
      return get(INLINE + offset);
    }
    return array != null ? array.getLong((int) offset) : primitives.getWord(entries + offset);
  }

  private void put(int i, long field, long value) {
    long offset = i * ENTRY_BYTES + field;
    if (entries == address + INLINE) {
      put(INLINE + offset, value);
    } else if (array != null) {
      array.putLong((int) offset, value);
    } else {
      primitives.putWord(entries + offset, value);
    }
  }

  /** Frees the block and the entries' array; nothing may use either afterwards. */
  void free() {
    if (entries != address + INLINE) {
      primitives.free(entries);
    }
    primitives.free(address);
  }

  void armedAt(int index) {
    put(ARMED_INDEX, index);
  }

  void chunk(int chunk, long chunkAddress) {
    put(CHUNKS + chunk * (long) Long.BYTES, chunkAddress);
  }

  /**
   * @return entries not removed, dropped or taken by the Java walker
   */
  int live() {
    return live;
  }

  /**
   * Appends an entry; with {@code mayCompact} (no walk holds an index into the entries), a full
   * array first loses its removed, dropped and taken entries.
   */
  void add(
      long variable,
      Destructor destructor,
      long function,
      int round,
      Slot slot,
      boolean mayCompact) {
    if (count == capacity && mayCompact) {
      compact();
    }
    if (count == capacity) {
      grow();
    }
    put(count, VARIABLE, variable);
    put(count, FUNCTION, destructor == null ? function : 0);
    put(count, META, (long) round << ROUND_SHIFT);
    destructors[count] = destructor;
    slots[count] = slot;
    count++;
    live++;
    put(COUNT, count);
  }

  /**
   * Marks removed every entry on {@code variable} that no walker has taken. On the owner thread,
   * whose walk (if any) is its own: the native walker's {@link #NEXT} is read there only while that
   * walk waits for a Java destructor it called.
   *
   * @return whether there was one
   */
  boolean remove(long variable) {
    boolean found = false;
    for (int i = next(); i < count; i++) {
      if (get(i, VARIABLE) == variable && flag(i, REMOVED)) {
        found = true;
      }
    }
    return found;
  }

  /**
   * Marks dropped every entry made through {@code slot} that the Java walker has not taken. The
   * closing thread does not skip what the native walker has taken: it runs on another thread, and
   * may have taken an entry it has not yet published as {@link #RUNNING}; marking it anyway is what
   * makes the walk's second look at its flags skip it (LIFECYCLE.md).
   *
   * @return whether there was one
   */
  boolean drop(Slot slot) {
    boolean found = false;
    for (int i = next; i < count; i++) {
      if (slots[i] == slot && flag(i, DROPPED)) {
        found = true;
      }
    }
    return found;
  }

  /** Sets {@code flag} on entry {@code i} if it has none. @return whether it had none */
  private boolean flag(int i, long flag) {
    long value = get(i, META);
    if ((value & (REMOVED | DROPPED)) != 0) {
      return false;
    }
    put(i, META, value | flag);
    live--;
    return true;
  }

  /**
   * The Java walker takes the next entry to run: it becomes {@link #RUNNING}.
   *
   * @return it, or null if every entry is taken
   */
  Registration take() {
    for (int i = next; i < count; i++) {
      long meta = get(i, META);
      if ((meta & (REMOVED | DROPPED)) != 0) {
        continue;
      }
      int round = (int) (meta >>> ROUND_SHIFT) & 0xff;
      next = i + 1;
      put(NEXT, next);
      put(ROUND, round);
      put(RUNNING, i + 1);
      live--;
      return registration(i, round);
    }
    next = count;
    put(NEXT, next);
    return null;
  }

  /**
   * @return the entry the native walker is running and calls Java for, or null if that is none of a
   *     Java destructor
   */
  Registration runningJavaEntry() {
    long running = running();
    if (running <= 0 || running > count || destructors[(int) running - 1] == null) {
      return null;
    }
    int i = (int) running - 1;
    int round = (int) (get(i, META) >>> ROUND_SHIFT) & 0xff;
    return registration(i, round);
  }

  private Registration registration(int i, int round) {
    long variable = get(i, VARIABLE);
    long function = destructors[i] == null ? get(i, FUNCTION) : 0;
    return new Registration(variable, destructors[i], function, round, slots[i]);
  }

  /**
   * @return the index plus one of the entry a walker runs, or 0
   */
  long running() {
    return get(RUNNING);
  }

  /**
   * @return the slot that entry {@code running} (an index plus one) was made through, or null
   */
  Slot slotOf(long running) {
    return running > 0 && running <= count ? slots[(int) running - 1] : null;
  }

  void finishedRunning() {
    put(RUNNING, 0);
  }

  int round() {
    return (int) get(ROUND);
  }

  long status() {
    return get(STATUS);
  }

  long call() {
    return get(CALL);
  }

  long droppedPastLastRound() {
    return get(DROPPED_PAST_LAST_ROUND);
  }

  /** The first entry neither walker has taken. */
  private int next() {
    return (int) Math.min(count, Math.max(next, get(NEXT)));
  }

  /** Keeps the entries no walker has taken and none has removed or dropped, in order. */
  private void compact() {
    int kept = 0;
    for (int i = next(); i < count; i++) {
      long meta = get(i, META);
      if ((meta & (REMOVED | DROPPED)) != 0) {
        continue;
      }
      if (kept != i) {
        put(kept, VARIABLE, get(i, VARIABLE));
        put(kept, FUNCTION, get(i, FUNCTION));
        put(kept, META, meta);
        destructors[kept] = destructors[i];
        slots[kept] = slots[i];
      }
      kept++;
    }
    Arrays.fill(destructors, kept, count, null);
    Arrays.fill(slots, kept, count, null);
    count = kept;
    next = 0;
    put(NEXT, 0);
    put(COUNT, count);
  }

  /** Doubles the entries' array: a walk in C reads its address again after every entry. */
  private void grow() {
    int larger = capacity * 2;
    long moved = primitives.allocateZeroed(larger * ENTRY_BYTES);
    ByteBuffer movedView;
    try {
      movedView = view(primitives, moved, larger * ENTRY_BYTES, views);
    } catch (RuntimeException | Error e) {
      primitives.free(moved);
      throw e;
    }
    for (int i = 0; i < count; i++) {
      for (long field = 0; field < ENTRY_BYTES; field += Long.BYTES) {
        long word = get(i, field);
        if (movedView != null) {
          movedView.putLong((int) (i * ENTRY_BYTES + field), word);
        } else {
          primitives.putWord(moved + i * ENTRY_BYTES + field, word);
        }
      }
    }
    long old = entries;
    entries = moved;
    array = movedView;
    put(ENTRIES, moved);
    if (old != address + INLINE) {
      primitives.free(old);
    }
    capacity = larger;
    destructors = Arrays.copyOf(destructors, larger);
    slots = Arrays.copyOf(slots, larger);
  }
}
