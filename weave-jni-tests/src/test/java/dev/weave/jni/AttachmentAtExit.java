package dev.weave.jni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Issue 11, defect 9: at a thread's death the walker detaches the attachments it made (a thread
 * that had detached, or one whose walker first runs in glibc's 4th and last pass) and no other (a
 * thread still attached by its own code stays attached until its own detach), the same on every
 * backend. The JVM's threads are compared before and after; only the threads this work can leave
 * are looked at: the C threads' own attachments and the unnamed ones ({@code Thread-N}) that JNA,
 * jffi and FFM upcalls make.
 */
final class AttachmentAtExit {
  static final int THREADS = 8;
  private static final Pattern LEFT_BY_THIS_WORK =
      Pattern.compile(Pattern.quote(WeaveJni.EXIT_THREAD_NAME) + "|Thread-\\d+");

  private AttachmentAtExit() {}

  /**
   * The thread attached itself and is still attached at exit: weave must leave it attached. On jna
   * it is not: JNA's own thread-storage key detaches, at exit, every thread that made a JNA call
   * ({@code dispose_thread_data} in JNA's {@code dispatch.c}), with weave or without, and weave
   * does not write into JNA's private memory to stop it; the thread is then detached early, not
   * left.
   */
  static void staysAttached(String backend, int mode) {
    Set<Thread> before = threads();
    String summary = WeaveJni.dieAttached(mode, THREADS);
    int stay = backend.equals("jna") ? 0 : THREADS;
    assertEquals(
        THREADS
            + " threads: destructors ran on "
            + THREADS
            + ", still attached at their own detach on "
            + stay,
        summary,
        "a thread still attached at exit must stay attached until its own detach, in glibc's last pass"
            + (stay == 0 ? " (jna: JNA's own key detaches it first)" : ""));
    assertNoneLeft(before);
  }

  /** The thread detached before it exits: the walker's attachment must be detached again. */
  static void detachedBeforeExit() {
    Set<Thread> before = threads();
    assertEquals(
        THREADS + " threads: destructors ran on " + THREADS,
        WeaveJni.dieAttached(WeaveJni.EXIT_DETACHED, THREADS));
    assertNoneLeft(before);
  }

  /** The walker first runs in glibc's 4th pass: its attachment must still be detached. */
  static void walkerInTheLastPass() {
    Set<Thread> before = threads();
    assertEquals(
        THREADS + " threads: destructors ran on " + THREADS + ", in glibc's pass 4 on " + THREADS,
        WeaveJni.dieAttached(WeaveJni.EXIT_REGISTERED_IN_PASS_4, THREADS));
    assertNoneLeft(before);
  }

  private static Set<Thread> threads() {
    return Set.copyOf(Thread.getAllStackTraces().keySet());
  }

  /**
   * The C threads were joined in C, so their destructors (and detaches) have run; a detach ends the
   * attachment's Thread at once. The deadline only keeps a failure from hanging the build.
   */
  private static void assertNoneLeft(Set<Thread> before) {
    long deadline = System.nanoTime() + WeaveHSeedTest.TIMEOUT.toNanos();
    List<String> left;
    while (!(left = leftSince(before)).isEmpty()) {
      if (System.nanoTime() - deadline > 0) {
        fail(
            left.size()
                + " thread(s) the C threads' deaths left attached to the JVM after "
                + WeaveHSeedTest.TIMEOUT
                + ": "
                + left);
      }
      LockSupport.parkNanos(Duration.ofMillis(10).toNanos());
    }
  }

  private static List<String> leftSince(Set<Thread> before) {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(
            thread ->
                !before.contains(thread) && LEFT_BY_THIS_WORK.matcher(thread.getName()).matches())
        .map(thread -> thread.getName() + (thread.isDaemon() ? " (daemon)" : ""))
        .sorted()
        .collect(Collectors.toList());
  }
}
