package dev.weave.spi;

import dev.weave.Destructor;
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

  /** The address of entry 0: inline at first, then an array of its own. */
  private long entries;

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

  private Record(NativePrimitives primitives, long address) {
    this.primitives = primitives;
    this.address = address;
    this.entries = address + INLINE;
  }

  /**
   * @param config the engine's native walker configuration, or 0
   */
  static Record allocate(NativePrimitives primitives, long config) {
    Record record = new Record(primitives, primitives.allocateZeroed(BYTES));
    if (config != 0) {
      primitives.putWord(record.address + CONFIG, config);
    }
    primitives.putWord(record.address + ENTRIES, record.entries);
    return record;
  }

  /** Frees the block and the entries' array; nothing may use either afterwards. */
  void free() {
    if (entries != address + INLINE) {
      primitives.free(entries);
    }
    primitives.free(address);
  }

  void armedAt(int index) {
    primitives.putWord(address + ARMED_INDEX, index);
  }

  void chunk(int chunk, long chunkAddress) {
    primitives.putWord(address + CHUNKS + chunk * (long) Long.BYTES, chunkAddress);
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
    long entry = entry(count);
    primitives.putWord(entry + VARIABLE, variable);
    primitives.putWord(entry + FUNCTION, destructor == null ? function : 0);
    primitives.putWord(entry + META, (long) round << ROUND_SHIFT);
    destructors[count] = destructor;
    slots[count] = slot;
    count++;
    live++;
    primitives.putWord(address + COUNT, count);
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
      long entry = entry(i);
      if (primitives.getWord(entry + VARIABLE) == variable && flag(i, REMOVED)) {
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
    long meta = entry(i) + META;
    long value = primitives.getWord(meta);
    if ((value & (REMOVED | DROPPED)) != 0) {
      return false;
    }
    primitives.putWord(meta, value | flag);
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
      long entry = entry(i);
      long meta = primitives.getWord(entry + META);
      if ((meta & (REMOVED | DROPPED)) != 0) {
        continue;
      }
      int round = (int) (meta >>> ROUND_SHIFT) & 0xff;
      next = i + 1;
      primitives.putWord(address + NEXT, next);
      primitives.putWord(address + ROUND, round);
      primitives.putWord(address + RUNNING, i + 1);
      live--;
      return registration(i, entry, round);
    }
    next = count;
    primitives.putWord(address + NEXT, next);
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
    long entry = entry(i);
    int round = (int) (primitives.getWord(entry + META) >>> ROUND_SHIFT) & 0xff;
    return registration(i, entry, round);
  }

  private Registration registration(int i, long entry, int round) {
    long variable = primitives.getWord(entry + VARIABLE);
    long function = destructors[i] == null ? primitives.getWord(entry + FUNCTION) : 0;
    return new Registration(variable, destructors[i], function, round, slots[i]);
  }

  /**
   * @return the index plus one of the entry a walker runs, or 0
   */
  long running() {
    return primitives.getWord(address + RUNNING);
  }

  /**
   * @return the slot that entry {@code running} (an index plus one) was made through, or null
   */
  Slot slotOf(long running) {
    return running > 0 && running <= count ? slots[(int) running - 1] : null;
  }

  void finishedRunning() {
    primitives.putWord(address + RUNNING, 0);
  }

  int round() {
    return (int) primitives.getWord(address + ROUND);
  }

  long status() {
    return primitives.getWord(address + STATUS);
  }

  long call() {
    return primitives.getWord(address + CALL);
  }

  long droppedPastLastRound() {
    return primitives.getWord(address + DROPPED_PAST_LAST_ROUND);
  }

  /** The first entry neither walker has taken. */
  private int next() {
    return (int) Math.min(count, Math.max(next, primitives.getWord(address + NEXT)));
  }

  private long entry(int i) {
    return entries + i * ENTRY_BYTES;
  }

  /** Keeps the entries no walker has taken and none has removed or dropped, in order. */
  private void compact() {
    int kept = 0;
    for (int i = next(); i < count; i++) {
      long from = entry(i);
      long meta = primitives.getWord(from + META);
      if ((meta & (REMOVED | DROPPED)) != 0) {
        continue;
      }
      if (kept != i) {
        long to = entry(kept);
        primitives.putWord(to + VARIABLE, primitives.getWord(from + VARIABLE));
        primitives.putWord(to + FUNCTION, primitives.getWord(from + FUNCTION));
        primitives.putWord(to + META, meta);
        destructors[kept] = destructors[i];
        slots[kept] = slots[i];
      }
      kept++;
    }
    Arrays.fill(destructors, kept, count, null);
    Arrays.fill(slots, kept, count, null);
    count = kept;
    next = 0;
    primitives.putWord(address + NEXT, 0);
    primitives.putWord(address + COUNT, count);
  }

  /** Doubles the entries' array: a walk in C reads its address again after every entry. */
  private void grow() {
    int larger = capacity * 2;
    long moved = primitives.allocateZeroed(larger * ENTRY_BYTES);
    for (long word = 0; word < count * ENTRY_BYTES; word += Long.BYTES) {
      primitives.putWord(moved + word, primitives.getWord(entries + word));
    }
    long old = entries;
    entries = moved;
    primitives.putWord(address + ENTRIES, moved);
    if (old != address + INLINE) {
      primitives.free(old);
    }
    capacity = larger;
    destructors = Arrays.copyOf(destructors, larger);
    slots = Arrays.copyOf(slots, larger);
  }
}
