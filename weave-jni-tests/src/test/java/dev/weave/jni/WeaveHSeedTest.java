package dev.weave.jni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.DynamicContainer.dynamicContainer;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import dev.weave.Backend;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.Weave;
import java.lang.reflect.Method;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.function.Executable;

/**
 * ft_utils' test_weave cases through weave.h, for every backend on the class path, with weave_local
 * and static variables, on threads created from Java and from C. d1 and d2 count calls that get
 * their own variable's value; r1 sets d1's count to 100; a done destructor registered last on each
 * dying thread signals that its destructors have run (no sleeping). weave.h registers with
 * Weave.registry(), so each test sets -Dweave.backend to its backend while it runs.
 */
class WeaveHSeedTest {
  static final Duration TIMEOUT = Duration.ofSeconds(20);

  /** Where the dying threads come from, and whether weave.h gets their JNIEnv or NULL. */
  enum Source {
    JAVA_THREAD(true, false),
    JAVA_THREAD_NULL_ENV(true, true),
    C_THREAD_ATTACHED(false, false),
    C_THREAD_NULL_ENV(false, true);

    final boolean java;
    final boolean nullEnv;

    Source(boolean java, boolean nullEnv) {
      this.java = java;
      this.nullEnv = nullEnv;
    }

    String label() {
      return (java
              ? "Java thread"
              : "C thread, " + (nullEnv ? "attached by weave.h" : "attached by itself"))
          + (java && nullEnv ? ", NULL env" : "");
    }
  }

  @TestFactory
  Stream<DynamicNode> everyBackend() {
    return Weave.backends().stream()
        .map(
            backend ->
                dynamicContainer(
                    backend.name(),
                    backend.available() ? tests(backend.name()) : unusable(backend)));
  }

  private static Stream<DynamicNode> unusable(Backend backend) {
    return Stream.of(
        dynamicTest(
            "weave.h with " + backend.name(),
            () ->
                Assumptions.abort(
                    backend.name() + " is unusable here: " + backend.unavailabilityReason())));
  }

  private static Stream<DynamicNode> tests(String backend) {
    List<DynamicNode> nodes = new ArrayList<>();
    for (int flavour : new int[] {WeaveJni.TLS, WeaveJni.STATIC}) {
      for (Source source : Source.values()) {
        String where =
            " ["
                + (flavour == WeaveJni.TLS ? "weave_local" : "static")
                + " variables, "
                + source.label()
                + "]";
        nodes.add(
            seed(
                backend,
                "seed 1: a thread registers d1 and dies: d1 called once" + where,
                flavour,
                source,
                run -> {
                  run.die(WeaveJni.REGISTER_D1, 1);
                  run.assertCounts(1, 0);
                }));
        nodes.add(
            seed(
                backend,
                "seed 2: register and unregister d1 on main and on a thread: no call" + where,
                flavour,
                source,
                run -> {
                  run.main(WeaveJni.REGISTER_UNREGISTER_D1);
                  run.die(WeaveJni.REGISTER_UNREGISTER_D1, 1);
                  run.assertCounts(0, 0);
                }));
        nodes.add(
            seed(
                backend,
                "seed 3: a thread registers d2 and dies: d2 called once" + where,
                flavour,
                source,
                run -> {
                  run.die(WeaveJni.REGISTER_D2, 1);
                  run.assertCounts(0, 1);
                }));
        nodes.add(
            seed(
                backend,
                "seed 4: unregister returns whether there was a registration" + where,
                flavour,
                source,
                run -> {
                  run.main(WeaveJni.SEED_4_MAIN);
                  run.die(WeaveJni.REGISTER_UNREGISTER_D2, 1);
                  run.assertCounts(0, 0);
                }));
        nodes.add(
            seed(
                backend,
                "seed 5: d1, d2, d1, d2, unregister d1: d2 called twice, d1 never" + where,
                flavour,
                source,
                run -> {
                  run.die(WeaveJni.D1_D2_D1_D2_UNREGISTER_D1, 1);
                  run.assertCounts(0, 2);
                }));
        nodes.add(
            seed(
                backend,
                "seed 6: d1, d1, r1: destructors run in registration order" + where,
                flavour,
                source,
                run -> {
                  run.die(WeaveJni.D1_D1_R1, 1);
                  run.assertCounts(100, 0);
                }));
        nodes.add(
            seed(
                backend,
                "seed 7: ten threads each register d1 and die: ten calls" + where,
                flavour,
                source,
                run -> {
                  run.die(WeaveJni.REGISTER_D1, 10);
                  run.assertCounts(10, 0);
                }));
      }
    }
    nodes.add(
        test(
            backend,
            "weave.h's registrations are the registry's, and the other way round",
            () -> sameRegistrations(backend)));
    for (int where :
        new int[] {WeaveJni.HERE, WeaveJni.HERE_NULL_ENV, WeaveJni.C_THREAD_NULL_ENV}) {
      String label =
          where == WeaveJni.HERE
              ? ""
              : where == WeaveJni.HERE_NULL_ENV ? " (NULL env)" : " (C thread, NULL env)";
      nodes.add(
          test(
              backend,
              "NULL var or fn: IllegalArgumentException pending" + label,
              () -> badInput(where)));
    }
    nodes.add(
        test(
            backend,
            "an exception already pending: nothing done, it stays pending",
            WeaveHSeedTest::pendingException));
    nodes.add(
        test(
            backend,
            "a virtual thread: IllegalStateException pending",
            WeaveHSeedTest::virtualThread));
    nodes.add(
        test(
            backend,
            "re-attach: a C thread's weave.h registrations from both attachments run at its death,"
                + " d1 then d2, once each, with the values at death; unregister from the second attachment finds the first's",
            WeaveHSeedTest::reattachNative));
    nodes.add(
        test(
            backend,
            "re-attach: a slot set from Java in a C thread's first attachment reads the same in its second,"
                + " at the same cellAddress",
            () -> reattachSlot(backend)));
    nodes.add(
        test(
            backend,
            "re-attach: slot registrations made from Java in both attachments run at the C thread's death,"
                + " in order, with the values at death; unregister from the second attachment finds the first's",
            () -> reattachSlotRegistrations(backend)));
    nodes.add(
        test(
            backend,
            "attached at exit: a C thread that attached itself (named) and is still attached when it exits"
                + " stays attached until its own detach in glibc's last pass (jna: JNA's key detaches it); no thread is left",
            () -> AttachmentAtExit.staysAttached(backend, WeaveJni.EXIT_STAYS_ATTACHED)));
    nodes.add(
        test(
            backend,
            "attached at exit: a C thread still attached as an unnamed daemon (as an FFM upcall attaches)"
                + " stays attached until its own detach; no thread is left",
            () -> AttachmentAtExit.staysAttached(backend, WeaveJni.EXIT_STAYS_ATTACHED_DAEMON)));
    nodes.add(
        test(
            backend,
            "attached at exit: a C thread that detached before exiting is attached for the walker and"
                + " detached again; no thread is left",
            AttachmentAtExit::detachedBeforeExit));
    nodes.add(
        test(
            backend,
            "attached at exit: a walker first reached in glibc's 4th and last destructor pass still"
                + " detaches the attachment it needed; no thread is left",
            AttachmentAtExit::walkerInTheLastPass));
    return nodes.stream();
  }

  @FunctionalInterface
  interface Check {
    void run(Run run) throws Exception;
  }

  private static DynamicNode seed(
      String backend, String name, int flavour, Source source, Check check) {
    return test(
        backend,
        name,
        () -> {
          Run run = new Run(flavour, source);
          try {
            check.run(run);
          } finally {
            WeaveJni.step(flavour, WeaveJni.CLEANUP, false);
          }
        });
  }

  /** A test that runs with -Dweave.backend=backend and fresh counts. */
  private static DynamicNode test(String backend, String name, Executable body) {
    return dynamicTest(
        name,
        () -> {
          String previous = System.getProperty(Weave.BACKEND_PROPERTY);
          System.setProperty(Weave.BACKEND_PROPERTY, backend);
          try {
            assertEquals(backend, Weave.registry().backendName());
            WeaveJni.reset();
            body.execute();
          } finally {
            if (previous == null) {
              System.clearProperty(Weave.BACKEND_PROPERTY);
            } else {
              System.setProperty(Weave.BACKEND_PROPERTY, previous);
            }
          }
        });
  }

  /** One case's run: its flavour of variables, where its dying threads come from, their count. */
  static final class Run {
    final int flavour;
    final Source source;
    int deaths;

    Run(int flavour, Source source) {
      this.flavour = flavour;
      this.source = source;
    }

    /** A step on the test's own thread, which does not die. */
    void main(int step) {
      WeaveJni.step(flavour, step, source.nullEnv);
    }

    /** {@code threads} threads run {@code step}, register done and die; waits for their done. */
    void die(int step, int threads) throws InterruptedException {
      if (source.java) {
        dieOnJavaThreads(step, threads);
      } else {
        assertNull(WeaveJni.runInCThreads(flavour, step, threads, source.nullEnv));
        if (source.nullEnv) {
          assertFalse(
              WeaveHeaderTest.attachedThreadsAlive(),
              "a thread weave.h attached is still attached after it ended");
        }
      }
      deaths += threads;
      assertTrue(
          WeaveJni.awaitDone(deaths, TIMEOUT.toMillis()),
          "the dying threads' destructors did not run within " + TIMEOUT + "; counts " + counts());
    }

    private void dieOnJavaThreads(int step, int threads) throws InterruptedException {
      AtomicReference<Throwable> failure = new AtomicReference<>();
      List<Thread> started = new ArrayList<>();
      for (int i = 0; i < threads; i++) {
        Thread thread =
            new Thread(
                () -> {
                  try {
                    WeaveJni.step(flavour, step, source.nullEnv);
                    WeaveJni.step(flavour, WeaveJni.REGISTER_DONE, source.nullEnv);
                  } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                  }
                },
                "weave-jni-dying-" + i);
        thread.start();
        started.add(thread);
      }
      for (Thread thread : started) {
        thread.join(TIMEOUT.toMillis());
        assertFalse(thread.isAlive(), thread.getName() + " did not end within " + TIMEOUT);
      }
      if (failure.get() != null) {
        throw new AssertionError("a dying thread failed: " + failure.get(), failure.get());
      }
    }

    void assertCounts(int d1, int d2) {
      int[] counts = WeaveJni.counts();
      String all = counts();
      assertEquals(0, counts[2], "d1 called with another value than its variable's: " + all);
      assertEquals(0, counts[3], "d2 called with another value than its variable's: " + all);
      assertEquals(d1, counts[0], "d1's count: " + all);
      assertEquals(d2, counts[1], "d2's count: " + all);
      assertEquals(deaths, counts[4], "done's count: " + all);
    }

    static String counts() {
      int[] c = WeaveJni.counts();
      return String.format(
          Locale.ROOT, "d1=%d d2=%d d1 wrong=%d d2 wrong=%d done=%d", c[0], c[1], c[2], c[3], c[4]);
    }
  }

  /** DESIGN: a registration is keyed by its variable, whichever way it was made. */
  private static void sameRegistrations(String backend) {
    long variable = WeaveJni.variable(WeaveJni.TLS, 1);
    List<String> others =
        Weave.backends().stream()
            .filter(b -> b.available() && !b.name().equals(backend))
            .map(Backend::name)
            .collect(Collectors.toList());
    WeaveJni.step(WeaveJni.TLS, WeaveJni.REGISTER_D1, false);
    for (String other : others) {
      assertFalse(
          Weave.registry(other).unregister(variable),
          "the " + other + " backend has weave.h's registration");
    }
    assertTrue(
        Weave.registry(backend).unregister(variable), "the registry lacks weave.h's registration");
    int[] found = {-1};
    Throwable[] pending = new Throwable[1];
    assertEquals(WeaveJni.WEAVE_OK, WeaveJni.tryUnregister(WeaveJni.HERE, false, found, pending));
    assertEquals(0, found[0], "weave.h still finds the registration the registry removed");

    Weave.registry(backend).registerNative(variable, WeaveJni.destructor(1));
    assertEquals(
        WeaveJni.WEAVE_OK,
        WeaveJni.tryUnregister(WeaveJni.HERE, false, found, pending),
        String.valueOf(pending[0]));
    assertEquals(1, found[0], "weave.h does not find the registry's registration");
    assertNull(pending[0]);
  }

  /**
   * Engine: an OS thread's cells and registrations are found through its pthread keys, not its
   * java.lang.Thread, so a thread created in C keeps them across DetachCurrentThread and a new
   * AttachCurrentThread. d1 (first attachment) and d2 (second) run in that order, with the values
   * their variables hold at death (d1's was v1-early when registered); d3 (first) was unregistered
   * from the second attachment (checked in C: unregistered=1) and never runs.
   */
  private static void reattachNative() {
    assertEquals(
        "d1:v1 d2:v2 done", WeaveJni.reattachInCThread(true, null, null, TIMEOUT.toMillis()));
    assertFalse(
        reattachThreadsAlive(), "the re-attached C thread is still attached after it ended");
  }

  private static void reattachSlot(String backend) {
    DestructorRegistry registry = Weave.registry(backend);
    long value = 0x5eed_0000_cafeL;
    // 0: get before set, 1: cellAddress in the first attachment, 2: get, 3: cellAddress in the
    // second
    AtomicLongArray seen = new AtomicLongArray(new long[] {-1, -1, -1, -1});
    AtomicReferenceArray<Thread> threads = new AtomicReferenceArray<>(2);
    try (ThreadLocalSlot slot = registry.newSlot()) {
      Runnable inFirst =
          () -> {
            threads.set(0, Thread.currentThread());
            seen.set(0, slot.get());
            slot.set(value);
            seen.set(1, slot.cellAddress());
          };
      Runnable inSecond =
          () -> {
            threads.set(1, Thread.currentThread());
            seen.set(2, slot.get());
            seen.set(3, slot.cellAddress());
          };
      assertEquals(
          "done", WeaveJni.reattachInCThread(false, inFirst, inSecond, TIMEOUT.toMillis()));
      assertAttachments(threads);
      assertEquals(0, seen.get(0), "a new slot's value on the C thread before set");
      assertNotEquals(0, seen.get(1), "cellAddress in the first attachment");
      assertEquals(
          value, seen.get(2), "the slot's value in the second attachment (set in the first)");
      assertEquals(
          seen.get(1),
          seen.get(3),
          "the slot's cellAddress in the second attachment and in the first");
      assertEquals(0, slot.get(), "the slot's value on the test thread");
    }
    assertFalse(
        reattachThreadsAlive(), "the re-attached C thread is still attached after it ended");
  }

  /**
   * Through the Java API: in the first attachment, slot 1 holds v1-early and gets native d1 and a
   * Java destructor, slot 3 gets d3; in the second, slot 1 is set to v1, slot 2 to v2 with d2, and
   * unregister(slot 3) must find d3. At death: d1:v1, the Java destructor with v1, d2:v2, done.
   */
  private static void reattachSlotRegistrations(String backend) {
    DestructorRegistry registry = Weave.registry(backend);
    AtomicLongArray seen = new AtomicLongArray(new long[] {-1, -1});
    AtomicReferenceArray<Thread> threads = new AtomicReferenceArray<>(2);
    AtomicInteger unregistered = new AtomicInteger(-1);
    try (ThreadLocalSlot slot1 = registry.newSlot();
        ThreadLocalSlot slot2 = registry.newSlot();
        ThreadLocalSlot slot3 = registry.newSlot()) {
      Runnable inFirst =
          () -> {
            threads.set(0, Thread.currentThread());
            slot1.set(WeaveJni.reattachValue(WeaveJni.REATTACH_EARLY));
            registry.registerNative(slot1, WeaveJni.reattachDestructor(WeaveJni.RECORD_D1));
            registry.register(slot1, v -> WeaveJni.reattachRecord(WeaveJni.RECORD_JAVA, v));
            slot3.set(WeaveJni.reattachValue(WeaveJni.REATTACH_V3));
            registry.registerNative(slot3, WeaveJni.reattachDestructor(WeaveJni.RECORD_D3));
            seen.set(0, slot1.cellAddress());
          };
      Runnable inSecond =
          () -> {
            threads.set(1, Thread.currentThread());
            seen.set(1, slot1.cellAddress());
            slot1.set(WeaveJni.reattachValue(WeaveJni.REATTACH_V1));
            slot2.set(WeaveJni.reattachValue(WeaveJni.REATTACH_V2));
            registry.registerNative(
                slot2.cellAddress(), WeaveJni.reattachDestructor(WeaveJni.RECORD_D2));
            unregistered.set(registry.unregister(slot3) ? 1 : 0);
          };
      assertEquals(
          "d1:v1 java:v1 d2:v2 done",
          WeaveJni.reattachInCThread(false, inFirst, inSecond, TIMEOUT.toMillis()));
      assertAttachments(threads);
      assertEquals(
          1,
          unregistered.get(),
          "unregister(slot 3) in the second attachment, registered in the first");
      assertEquals(
          seen.get(0),
          seen.get(1),
          "slot 1's cellAddress in the second attachment and in the first");
    }
    assertFalse(
        reattachThreadsAlive(), "the re-attached C thread is still attached after it ended");
  }

  private static void assertAttachments(AtomicReferenceArray<Thread> threads) {
    assertNotNull(threads.get(0), "the first attachment's Java code did not run");
    assertNotNull(threads.get(1), "the second attachment's Java code did not run");
    assertEquals(WeaveJni.REATTACH_THREAD_PREFIX + "first", threads.get(0).getName());
    assertEquals(WeaveJni.REATTACH_THREAD_PREFIX + "second", threads.get(1).getName());
    assertNotSame(
        threads.get(0), threads.get(1), "the second attachment has the first one's Thread");
  }

  static boolean reattachThreadsAlive() {
    return Thread.getAllStackTraces().keySet().stream()
        .anyMatch(t -> t.getName().startsWith(WeaveJni.REATTACH_THREAD_PREFIX));
  }

  private static void badInput(int where) {
    Throwable[] pending = new Throwable[1];
    assertEquals(WeaveJni.WEAVE_ERROR_ARGUMENT, WeaveJni.tryRegister(where, true, false, pending));
    assertInstanceOf(IllegalArgumentException.class, pending[0]);
    assertTrue(pending[0].getMessage().contains("var is NULL"), pending[0].getMessage());

    pending[0] = null;
    assertEquals(WeaveJni.WEAVE_ERROR_ARGUMENT, WeaveJni.tryRegister(where, false, true, pending));
    assertInstanceOf(IllegalArgumentException.class, pending[0]);
    assertTrue(pending[0].getMessage().contains("fn is NULL"), pending[0].getMessage());

    pending[0] = null;
    int[] found = {-1};
    assertEquals(
        WeaveJni.WEAVE_ERROR_ARGUMENT, WeaveJni.tryUnregister(where, true, found, pending));
    assertInstanceOf(IllegalArgumentException.class, pending[0]);
    assertTrue(pending[0].getMessage().contains("var is NULL"), pending[0].getMessage());
    assertEquals(0, found[0], "*unregistered after a failure");

    // Nothing was registered by the failed calls (on this thread; a C thread's die with it).
    pending[0] = null;
    assertEquals(
        WeaveJni.WEAVE_OK,
        WeaveJni.tryUnregister(WeaveJni.HERE, false, found, pending),
        String.valueOf(pending[0]));
    assertEquals(0, found[0]);
  }

  private static void pendingException() {
    Throwable[] pending = new Throwable[1];
    assertEquals(WeaveJni.WEAVE_ERROR_JAVA, WeaveJni.registerOverPendingException(pending));
    assertInstanceOf(IllegalStateException.class, pending[0]);
    assertEquals("pending before weave_register_destructor", pending[0].getMessage());
    int[] found = {-1};
    pending[0] = null;
    assertEquals(
        WeaveJni.WEAVE_OK,
        WeaveJni.tryUnregister(WeaveJni.HERE, false, found, pending),
        String.valueOf(pending[0]));
    assertEquals(0, found[0], "registered although an exception was pending");
  }

  private static void virtualThread() throws Exception {
    Method ofVirtual;
    try {
      ofVirtual = Thread.class.getMethod("ofVirtual");
    } catch (NoSuchMethodException e) {
      Assumptions.abort("no virtual threads before Java 21");
      return;
    }
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Runnable body =
        () -> {
          try {
            for (int where : new int[] {WeaveJni.HERE, WeaveJni.HERE_NULL_ENV}) {
              Throwable[] pending = new Throwable[1];
              assertEquals(
                  WeaveJni.WEAVE_ERROR_JAVA, WeaveJni.tryRegister(where, false, false, pending));
              assertInstanceOf(IllegalStateException.class, pending[0]);
              assertTrue(
                  pending[0].getMessage().contains("virtual thread"), pending[0].getMessage());
            }
          } catch (Throwable t) {
            failure.set(t);
          }
        };
    Object builder = ofVirtual.invoke(null);
    Thread thread =
        (Thread)
            Class.forName("java.lang.Thread$Builder")
                .getMethod("start", Runnable.class)
                .invoke(builder, body);
    thread.join(TIMEOUT.toMillis());
    assertFalse(thread.isAlive());
    if (failure.get() != null) {
      throw new AssertionError(failure.get());
    }
  }
}
