package dev.weave.jni;

/**
 * The natives of the JNI test library ({@code src/test/native/weave_jni_test.c}), which calls
 * weave.h. No weave class is used here, so that {@link NoWeaveProbe} can load it without weave.
 */
final class WeaveJni {
  /** The system property with the library's path, set by Surefire. */
  static final String LIBRARY_PROPERTY = "weave.jni.test.library";

  // Flavours of variables.
  static final int TLS = 0;
  static final int STATIC = 1;

  // Steps, as in the C file.
  static final int REGISTER_D1 = 0;
  static final int REGISTER_D2 = 1;
  static final int REGISTER_UNREGISTER_D1 = 2;
  static final int REGISTER_UNREGISTER_D2 = 3;
  static final int SEED_4_MAIN = 4;
  static final int D1_D2_D1_D2_UNREGISTER_D1 = 5;
  static final int D1_D1_R1 = 6;
  static final int REGISTER_DONE = 7;
  static final int CLEANUP = 8;

  // Where tryRegister and tryUnregister call weave.h.
  static final int HERE = 0;
  static final int HERE_NULL_ENV = 1;
  static final int C_THREAD_NULL_ENV = 2;

  // weave.h's return values.
  static final int WEAVE_OK = 0;
  static final int WEAVE_ERROR_ARGUMENT = 1;
  static final int WEAVE_ERROR_JAVA = 2;

  static final String ATTACHED_THREAD_NAME = "weave-attached-native-thread";

  static {
    String library = System.getProperty(LIBRARY_PROPERTY);
    if (library == null) {
      throw new IllegalStateException(
          "-D"
              + LIBRARY_PROPERTY
              + " is unset: run the tests with Maven, which builds the library");
    }
    System.load(library);
  }

  private WeaveJni() {}

  /** Zeroes the counts and sets the static variables to their sentinels. */
  static native void reset();

  /** Runs a step on the calling thread; throws AssertionError saying what went wrong. */
  static native void step(int flavour, int step, boolean nullEnv);

  /**
   * Runs {@code step} then {@link #REGISTER_DONE} on {@code threads} threads created in C, joins
   * them in C. Each attaches itself and detaches before it exits, or, with {@code nullEnv}, leaves
   * attaching (and detaching) to weave.h.
   *
   * @return null, or what went wrong
   */
  static native String runInCThreads(int flavour, int step, int threads, boolean nullEnv);

  /**
   * @return d1's count, d2's count, d1's and d2's calls with a wrong value, done's count
   */
  static native int[] counts();

  /** Waits, up to the timeout, until done has been called {@code count} times. */
  static native boolean awaitDone(int count, long timeoutMillis);

  /**
   * @return the address of the calling thread's variable 1, 2 or 3 (done's) of a flavour
   */
  static native long variable(int flavour, int which);

  /**
   * @return the address of destructor 1, 2, 3 (r1) or 4 (done)
   */
  static native long destructor(int which);

  /** Registers d1 on the TLS variable 1 (or NULL); puts a pending exception in pending[0]. */
  static native int tryRegister(int where, boolean nullVar, boolean nullFn, Throwable[] pending);

  /** Unregisters the TLS variable 1 (or NULL); found[0] is weave.h's *unregistered. */
  static native int tryUnregister(int where, boolean nullVar, int[] found, Throwable[] pending);

  /** weave_init(env): looks dev.weave.Weave up with this class's loader; pending[0] as above. */
  static native int init(Throwable[] pending);

  /** Throws, then calls weave_register_destructor; puts the pending exception in pending[0]. */
  static native int registerOverPendingException(Throwable[] pending);

  /** On a thread created in C, weave_env(): the Java thread's name and "daemon=..." */
  static native String attachedThreadName();

  // A thread created in C that detaches and attaches again: reattachValue's values.
  static final int REATTACH_EARLY = 0;
  static final int REATTACH_V1 = 1;
  static final int REATTACH_V2 = 2;
  static final int REATTACH_V3 = 3;

  // reattachDestructor's destructors and reattachRecord's names: d1, d2, d3, done, java.
  static final int RECORD_D1 = 1;
  static final int RECORD_D2 = 2;
  static final int RECORD_D3 = 3;
  static final int RECORD_DONE = 4;
  static final int RECORD_JAVA = 5;

  /** The Java names of the re-attaching thread's two attachments. */
  static final String REATTACH_THREAD_PREFIX = "weave-jni-reattach-";

  /**
   * On a thread created in C: attaches (as {@code weave-jni-reattach-first}), with {@code
   * nativeRegistrations} registers d1 on a weave_local variable holding v1-early and d3 on one
   * holding v3 through weave.h, runs {@code inFirst}; detaches; attaches again (a new Thread,
   * {@code weave-jni-reattach-second}), runs {@code inSecond}, with {@code nativeRegistrations}
   * registers d2 on a variable holding v2, unregisters d3's variable (expecting unregistered=1) and
   * sets d1's variable to v1; registers done; detaches and exits. Waits, up to the timeout, for
   * done, then joins the thread in C (so no destructor of it runs later).
   *
   * @return the destructor calls recorded meanwhile, in order, as {@code "d1:v1 d2:v2 done"}
   *     ({@code java:...} for {@link #reattachRecord} calls), or {@code "error: ...; calls: ..."}
   */
  static native String reattachInCThread(
      boolean nativeRegistrations, Runnable inFirst, Runnable inSecond, long timeoutMillis);

  /**
   * @return the address that {@link #reattachInCThread} names v1-early, v1, v2 or v3
   */
  static native long reattachValue(int which);

  /**
   * @return the address of the recording destructor d1, d2, d3 or done
   */
  static native long reattachDestructor(int which);

  /** Records a call (for a Java destructor) in {@link #reattachInCThread}'s list. */
  static native void reattachRecord(int which, long value);

  // dieAttached's modes, as in the C file.
  /** The C thread attaches itself, with a name, and is still attached when it exits. */
  static final int EXIT_STAYS_ATTACHED = 0;

  /**
   * The C thread attaches itself as an unnamed daemon (as an FFM upcall does) and stays attached.
   */
  static final int EXIT_STAYS_ATTACHED_DAEMON = 1;

  /** The C thread detaches itself before it exits: the walker needs an attachment of its own. */
  static final int EXIT_DETACHED = 2;

  /**
   * The C thread registers from its own key's destructor, so the walker first runs in glibc's pass
   * 4.
   */
  static final int EXIT_REGISTERED_IN_PASS_4 = 3;

  /** The name the C threads of {@link #dieAttached} attach with (except as unnamed daemons). */
  static final String EXIT_THREAD_NAME = "weave-jni-exit";

  /**
   * Starts {@code threads} C threads that register a native destructor through weave.h in the given
   * mode, and joins them in C: every key destructor of theirs has run when it returns. Each has a
   * pthread key of its own, set again in each of its calls so that it is called in each of glibc's
   * 4 passes; in the stays-attached modes its 4th call checks that the thread is still attached
   * (weave did not detach it) and then detaches it, as the thread's own code would.
   *
   * @return {@code "N threads: destructors ran on D"}, then {@code ", still attached at their own
   *     detach on A"} in the stays-attached modes, {@code ", in glibc's pass 4 on P"} for {@link
   *     #EXIT_REGISTERED_IN_PASS_4}; throws AssertionError if a thread could not do its part
   */
  static native String dieAttached(int mode, int threads);
}
