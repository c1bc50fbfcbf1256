package dev.weave.jna;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongUnaryOperator;

/**
 * JNA's per-thread storage, so that JNA detaches, at a thread's exit, only the attachments it made.
 *
 * <p>JNA's native library keeps a {@code thread_storage} block for every thread that makes a JNA
 * call, as the value of a pthread key of its own; that key's destructor ({@code
 * dispose_thread_data} in JNA's {@code callback.c}) detaches the thread if it is still attached,
 * whoever attached it. weave makes JNA calls on every thread that uses it, so a native thread
 * still attached by its own code (or by weave.h) when it exits would be detached by JNA, before
 * its own detach. The block records whether JNA found the thread attached ({@code jvm_thread}) or
 * attached it itself, and its {@code jvm} field is read by that destructor alone, for the {@code
 * GetEnv} that decides the detach. {@link #settle} points {@code jvm} at a stand-in {@code JavaVM}
 * whose every function is libc's {@code getpid} when JNA found the thread attached ({@code GetEnv}
 * then answers non-zero, "not attached", and JNA's destructor only frees the block), and back at
 * the JVM when JNA attached it. For a thread the JVM started, which the JVM detaches before any key
 * destructor runs, this changes nothing.
 *
 * <p>What this relies on: the block's layout on LP64 ({@code JavaVM* jvm} at 0, {@code jint
 * last_error} at 8, {@code int* termination_flag} at 16, {@code jboolean jvm_thread} at 24 and
 * {@code needs_detach} at 25), unchanged in JNA since 5.0; JNA keeping {@code jvm_thread} up to
 * date as it attaches; glibc's {@code PTHREAD_KEYS_MAX} of 1024. The layout is not taken on trust:
 * {@link #find} locates the key on a new thread by setting the block's {@code last_error} through
 * {@link Native#setLastError} and checking every field it knows, reading only memory that {@code
 * /proc/self/maps} shows readable; if the block is not exactly where and what it expects, nothing
 * is changed and JNA keeps its own behaviour (logged at DEBUG).
 */
final class JnaThreadStorage {
  private static final System.Logger LOG = System.getLogger("dev.weave");

  private static final int JVM = 0;
  private static final int LAST_ERROR = 8;
  private static final int TERMINATION_FLAG = 16;
  private static final int JVM_THREAD = 24;
  private static final int NEEDS_DETACH = 25;
  /** Up to the end of {@code needs_detach}: the bytes {@link #find} reads. */
  private static final int KNOWN_BYTES = 26;

  /** glibc's PTHREAD_KEYS_MAX: pthread_getspecific answers NULL, and no more, for a key not made. */
  private static final int KEYS = 1024;

  private static final int[] PROBE_ERRORS = {0x5eaf_0001, 0x5eaf_0002};
  private static final int JNI_FUNCTIONS = 16;

  private final long key;
  private final long javaVm;
  /** A JavaVM whose functions all return getpid(): never JNI_OK. Lives as long as the JVM. */
  private final long notAttachedVm;

  private JnaThreadStorage(long key, long javaVm, long notAttachedVm) {
    this.key = key;
    this.javaVm = javaVm;
    this.notAttachedVm = notAttachedVm;
  }

  /**
   * Finds JNA's key on a new thread.
   *
   * @param getSpecific {@code pthread_getspecific}
   * @return JNA's thread storage, or empty if it is not where and what this class expects
   */
  static Optional<JnaThreadStorage> find(LongUnaryOperator getSpecific) {
    AtomicReference<Optional<JnaThreadStorage>> found = new AtomicReference<>(Optional.empty());
    try {
      Thread probe = new Thread(() -> found.set(probe(getSpecific)), "weave-jna-probe");
      probe.setDaemon(true);
      probe.start();
      probe.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException | OutOfMemoryError e) { // no thread to probe on: JNA keeps its behaviour
      found.set(Optional.empty());
    }
    if (found.get().isEmpty()) {
      LOG.log(Level.DEBUG, "weave jna: JNA's thread storage was not found; JNA detaches, at its exit,"
          + " a thread that is still attached and made JNA calls");
    }
    return found.get();
  }

  /** On the probe thread: its first JNA call makes its block; last_error then tells it apart. */
  private static Optional<JnaThreadStorage> probe(LongUnaryOperator getSpecific) {
    try {
      getSpecific.applyAsLong(0); // JNA makes the block after this call, so that the scan sees it
      long[] values = new long[KEYS];
      for (int k = 0; k < KEYS; k++) {
        values[k] = getSpecific.applyAsLong(k);
      }
      List<long[]> readable = readableMemory();
      List<Integer> candidates = new ArrayList<>();
      for (int k = 0; k < KEYS; k++) {
        if (values[k] != 0 && isReadable(readable, values[k], KNOWN_BYTES)) {
          candidates.add(k);
        }
      }
      for (int error : PROBE_ERRORS) {
        Native.setLastError(error); // a plain JNI call: no other JNA bookkeeping in between
        candidates.removeIf(k -> !isFreshBlock(values[k], error));
      }
      if (candidates.size() != 1) {
        return Optional.empty();
      }
      int k = candidates.get(0);
      return Optional.of(new JnaThreadStorage(k, new Pointer(values[k]).getLong(JVM), notAttachedVm()));
    } catch (RuntimeException | IOException | LinkageError e) {
      return Optional.empty();
    }
  }

  /** The block of a thread JNA found attached, as its first JNA call left it, after setLastError(error). */
  private static boolean isFreshBlock(long block, int error) {
    Pointer p = new Pointer(block);
    return p.getLong(JVM) != 0
        && p.getInt(LAST_ERROR) == error
        && p.getLong(TERMINATION_FLAG) == 0
        && p.getByte(JVM_THREAD) == 1
        && p.getByte(NEEDS_DETACH) == 0;
  }

  private static long notAttachedVm() {
    long getpid = Pointer.nativeValue(NativeLibrary.getProcess().getFunction("getpid"));
    long functions = Native.malloc((long) JNI_FUNCTIONS * Long.BYTES);
    long vm = Native.malloc(Long.BYTES);
    if (functions == 0 || vm == 0) {
      throw new OutOfMemoryError("malloc for weave's stand-in JavaVM failed");
    }
    for (int i = 0; i < JNI_FUNCTIONS; i++) {
      new Pointer(functions).setLong((long) i * Long.BYTES, getpid);
    }
    new Pointer(vm).setLong(0, functions);
    return vm;
  }

  /** The address ranges, {@code [start, end)}, that this process may read. */
  private static List<long[]> readableMemory() throws IOException {
    List<long[]> ranges = new ArrayList<>();
    for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
      String[] fields = line.split("\\s+");
      if (fields.length >= 2 && fields[1].startsWith("r")) {
        String[] bounds = fields[0].split("-");
        ranges.add(new long[] {Long.parseUnsignedLong(bounds[0], 16), Long.parseUnsignedLong(bounds[1], 16)});
      }
    }
    return ranges;
  }

  private static boolean isReadable(List<long[]> ranges, long address, int bytes) {
    for (long[] range : ranges) {
      if (Long.compareUnsigned(address, range[0]) >= 0 && Long.compareUnsigned(address + bytes, range[1]) <= 0) {
        return true;
      }
    }
    return false;
  }

  /**
   * Makes JNA's exit detach of the calling thread match who attached it: JNA's own attachment JNA
   * detaches, another's it leaves alone.
   *
   * @param getSpecific {@code pthread_getspecific}
   */
  void settle(LongUnaryOperator getSpecific) {
    long block = getSpecific.applyAsLong(key);
    if (block == 0) { // JNA makes the block after the call that read its absence: read it again
      block = getSpecific.applyAsLong(key);
    }
    if (block == 0) {
      return;
    }
    Pointer p = new Pointer(block);
    long jvm = p.getLong(JVM);
    if (jvm == javaVm || jvm == notAttachedVm) { // else not a block this class knows: leave it
      p.setLong(JVM, p.getByte(JVM_THREAD) == 1 ? notAttachedVm : javaVm);
    }
  }
}
