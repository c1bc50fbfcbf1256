package dev.weave.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.Weave;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.logging.Level;

/**
 * Rule 13: {@code runDestructors()} ends a thread's weave life early, on the live thread, exactly
 * as its death would. {@link WeaveThreadCases} has the threads that call it when their task ends.
 */
final class EarlyEndCases {
  private EarlyEndCases() {}

  static List<TckCase> all() {
    List<TckCase> cases = new ArrayList<>();
    cases.add(
        TckCase.of(
            "r13-order-value-java",
            Rule.R13,
            "runDestructors() runs the thread's registrations at once, in order, with the value at call time (Java destructors)",
            EarlyEndCases::orderAndValueJava));
    cases.add(
        TckCase.of(
            "r13-order-value-native",
            Rule.R13,
            "runDestructors() runs the thread's registrations at once, in order, with the value at call time (native destructors)",
            EarlyEndCases::orderAndValueNative));
    for (int count : ManyRegistrations.COUNTS) {
      cases.add(
          TckCase.of(
              "r13-many-registrations-" + count,
              Rule.R13,
              count
                  + " registrations on one thread, Java and native over "
                  + ManyRegistrations.SLOTS
                  + " slots: runDestructors() runs all, in order",
              registry -> ManyRegistrations.check(registry, count, true)));
    }
    cases.add(
        TckCase.of(
            "r13-error-isolation",
            Rule.R13,
            "in runDestructors(), a throwing Java destructor is logged and the rest still run",
            EarlyEndCases::errorIsolation));
    cases.add(
        TckCase.of(
            "r13-rounds",
            Rule.R13,
            "in runDestructors(), registrations made by destructors run in further rounds, at most 4",
            EarlyEndCases::rounds));
    cases.add(
        TckCase.of(
            "r13-live-thread",
            Rule.R13,
            "runDestructors() runs Java destructors on the live thread: its Thread, name and ThreadLocals",
            EarlyEndCases::liveThread));
    cases.add(
        TckCase.of(
            "r13-afterwards",
            Rule.R13,
            "after runDestructors(): no registration left, every slot reads 0, cells at the same address",
            EarlyEndCases::afterwards));
    cases.add(
        TckCase.of(
            "r13-register-again",
            Rule.R13,
            "what a thread registers after runDestructors() runs at the next runDestructors() or at its death, once",
            EarlyEndCases::registerAgain));
    cases.add(
        TckCase.of(
            "r13-in-destructor",
            Rule.R13,
            "runDestructors() called from a destructor throws IllegalStateException, in runDestructors() and at death",
            EarlyEndCases::fromADestructor));
    cases.add(
        TckCase.of(
            "r13-virtual-thread",
            Rule.R13,
            "runDestructors() on a virtual thread throws IllegalStateException (rule 9)",
            EarlyEndCases::virtualThread));
    return cases;
  }

  static void orderAndValueJava(DestructorRegistry registry) throws Exception {
    List<String> calls = Collections.synchronizedList(new ArrayList<>());
    try (ThreadLocalSlot a = registry.newSlot();
        ThreadLocalSlot b = registry.newSlot();
        ThreadLocalSlot zero = registry.newSlot()) {
      Deaths.runAndJoin(
          () -> {
            a.set(1);
            b.set(2);
            registry.register(b, value -> calls.add("b1=" + value));
            registry.register(
                a,
                value -> {
                  calls.add("a1=" + value);
                  b.set(20); // seen by the later destructor on b
                });
            registry.register(zero, value -> calls.add("zero=" + value));
            registry.register(b, value -> calls.add("b2=" + value));
            registry.register(a, value -> calls.add("a2=" + value));
            a.set(10); // the value at the call counts, not the value at registration
            registry.runDestructors();
            calls.add("returned");
          });
      assertEquals(
          List.of("b1=2", "a1=10", "zero=0", "b2=20", "a2=10", "returned"),
          calls,
          "destructor calls made by runDestructors(), then at the thread's death: none");
    }
  }

  static void orderAndValueNative(DestructorRegistry registry) throws Exception {
    List<String> seen = Collections.synchronizedList(new ArrayList<>());
    try (ThreadLocalSlot a = registry.newSlot();
        ThreadLocalSlot b = registry.newSlot();
        NativeFixtures.Word plain = new NativeFixtures.Word();
        NativeFixtures.Semaphore posted = new NativeFixtures.Semaphore();
        NativeFixtures.Semaphore zeroed = new NativeFixtures.Semaphore();
        NativeFixtures.Semaphore plainPosted = new NativeFixtures.Semaphore()) {
      zeroed.post(3);
      Deaths.runAndJoin(
          () -> {
            a.set(posted.address());
            registry.registerNative(a, NativeFixtures.SEM_POST);
            registry.registerNative(b, NativeFixtures.SIGEMPTYSET); // b is 0 (NULL) here
            registry.registerNative(
                plain.address(), NativeFixtures.SEM_POST); // plain is 0 (NULL) here
            registry.registerNative(a, NativeFixtures.SEM_TRYWAIT);
            b.set(zeroed.address());
            plain.set(plainPosted.address());
            registry.register(
                a,
                value ->
                    seen.add(
                        "java last: posted="
                            + posted.value()
                            + " zeroed="
                            + zeroed.value()
                            + " plain="
                            + plainPosted.value()));
            registry.runDestructors();
            seen.add(
                "returned: posted="
                    + posted.value()
                    + " zeroed="
                    + zeroed.value()
                    + " plain="
                    + plainPosted.value());
          });
      assertEquals(
          List.of("java last: posted=0 zeroed=0 plain=1", "returned: posted=0 zeroed=0 plain=1"),
          seen,
          "sem_post then sem_trywait on a's semaphore (0); sigemptyset on b's value at the call (3 -> 0); sem_post on the"
              + " plain variable's value at the call (0 -> 1)");
      assertEquals(1, plainPosted.value(), "the plain variable's destructor ran again at death");
    }
  }

  static void errorIsolation(DestructorRegistry registry) throws Exception {
    ThrowingDestructorCases.Throwers throwers =
        new ThrowingDestructorCases.Throwers("in runDestructors()");
    try (ThreadLocalSlot slot = registry.newSlot();
        NativeFixtures.Semaphore sem = new NativeFixtures.Semaphore();
        LogCapture log = new LogCapture()) {
      Deaths.runAndJoin(
          () -> {
            throwers.register(registry, slot, sem);
            registry.runDestructors(); // must not throw
            throwers.calls.add("returned, posted=" + sem.value());
          });
      List<String> expected = new ArrayList<>(ThrowingDestructorCases.Throwers.RAN);
      expected.add("returned, posted=1");
      assertEquals(expected, throwers.calls, ThrowingDestructorCases.Throwers.WHAT);
      throwers.awaitLogged(log);
    }
  }

  static void rounds(DestructorRegistry registry) throws Exception {
    List<String> calls = Collections.synchronizedList(new ArrayList<>());
    try (ThreadLocalSlot slot = registry.newSlot();
        LogCapture log = new LogCapture()) {
      Deaths.runAndJoin(
          () -> {
            registry.register(
                slot,
                value -> {
                  calls.add("round 1 a");
                  registry.register(
                      slot,
                      v2 -> {
                        calls.add("round 2");
                        registry.register(
                            slot,
                            v3 -> {
                              calls.add("round 3");
                              registry.register(
                                  slot,
                                  v4 -> {
                                    calls.add("round 4");
                                    registry.register(slot, v5 -> calls.add("round 5"));
                                  });
                            });
                      });
                });
            registry.register(slot, value -> calls.add("round 1 b"));
            registry.runDestructors();
            calls.add("returned");
            assertFalse(
                registry.unregister(slot), "the fifth round's registration was dropped, not kept");
          });
      assertEquals(
          List.of("round 1 a", "round 1 b", "round 2", "round 3", "round 4", "returned"), calls);
      log.await(
          "warning about the dropped fifth-round registration",
          r -> r.getLevel() == Level.WARNING && String.valueOf(r.getMessage()).contains("dropped"),
          Deaths.TIMEOUT);
    }
  }

  static void liveThread(DestructorRegistry registry) throws Exception {
    ThreadLocal<String> threadLocal = new ThreadLocal<>();
    List<String> seen = Collections.synchronizedList(new ArrayList<>());
    try (ThreadLocalSlot slot = registry.newSlot()) {
      Deaths.runAndJoin(
          () -> {
            Thread self = Thread.currentThread();
            long osThread = NativeFixtures.osThreadId();
            threadLocal.set("alive");
            slot.set(42);
            registry.register(
                slot,
                value ->
                    seen.add(
                        "same Thread="
                            + (Thread.currentThread() == self)
                            + " name="
                            + Thread.currentThread().getName()
                            + " threadLocal="
                            + threadLocal.get()
                            + " same OS thread="
                            + (NativeFixtures.osThreadId() == osThread)
                            + " value="
                            + value));
            registry.runDestructors();
            seen.add("returned");
          });
      assertEquals(
          List.of(
              "same Thread=true name=weave-tck-dying threadLocal=alive same OS thread=true value=42",
              "returned"),
          seen);
    }
  }

  static void afterwards(DestructorRegistry registry) throws Exception {
    List<String> problems = Collections.synchronizedList(new ArrayList<>());
    List<ThreadLocalSlot> slots = new ArrayList<>();
    try (NativeFixtures.Word plain = new NativeFixtures.Word()) {
      for (int i = 0; i < 70; i++) { // cells in two chunks
        slots.add(registry.newSlot());
      }
      Deaths.runAndJoin(
          () -> {
            long[] cells = new long[slots.size()];
            for (int i = 0; i < slots.size(); i++) {
              slots.get(i).set(100 + i);
              cells[i] = slots.get(i).cellAddress();
            }
            registry.register(slots.get(0), value -> {});
            registry.register(slots.get(69), value -> {});
            plain.set(0);
            registry.registerNative(plain.address(), NativeFixtures.SIGEMPTYSET);
            registry.runDestructors();
            for (int i = 0; i < slots.size(); i++) {
              ThreadLocalSlot slot = slots.get(i);
              if (slot.get() != 0) {
                problems.add("slot " + i + " reads " + slot.get());
              }
              if (slot.cellAddress() != cells[i]) {
                problems.add("slot " + i + "'s cell moved");
              } else if (NativeFixtures.readWord(cells[i]) != 0) {
                problems.add("slot " + i + "'s cell holds " + NativeFixtures.readWord(cells[i]));
              }
            }
            for (int i : new int[] {0, 1, 69}) {
              if (registry.unregister(slots.get(i))) {
                problems.add("slot " + i + " still had a registration");
              }
            }
            if (registry.unregister(plain.address())) {
              problems.add("the plain variable still had a registration");
            }
            slots.get(5).set(7); // the thread may use weave again
            if (slots.get(5).get() != 7) {
              problems.add("slot 5 does not take a value after runDestructors()");
            }
          });
      assertEquals(List.of(), problems, "the thread after runDestructors()");
    } finally {
      slots.forEach(ThreadLocalSlot::close);
    }
  }

  static void registerAgain(DestructorRegistry registry) throws Exception {
    List<String> calls = Collections.synchronizedList(new ArrayList<>());
    try (ThreadLocalSlot slot = registry.newSlot();
        NativeFixtures.Semaphore sem = new NativeFixtures.Semaphore()) {
      Deaths.runAndJoin(
          () -> {
            registry.register(slot, value -> calls.add("first=" + value));
            slot.set(1);
            registry.runDestructors();
            slot.set(2);
            registry.register(slot, value -> calls.add("second=" + value));
            registry.runDestructors();
            calls.add("after the second runDestructors()");
            slot.set(sem.address());
            registry.register(slot, value -> calls.add("third=" + (value == sem.address())));
            registry.registerNative(slot, NativeFixtures.SEM_POST);
          });
      assertEquals(
          List.of("first=1", "second=2", "after the second runDestructors()", "third=true"),
          calls,
          "each registration runs once: at the runDestructors() after it, or at the thread's death");
      assertEquals(
          1,
          sem.value(),
          "the native registration made after runDestructors(), at the thread's death");
    }
  }

  static void fromADestructor(DestructorRegistry registry) throws Exception {
    List<String> calls = Collections.synchronizedList(new ArrayList<>());
    try (ThreadLocalSlot slot = registry.newSlot()) {
      Deaths.die(
          registry,
          () -> {
            registry.register(
                slot, value -> calls.add("in runDestructors(): " + attempt(registry)));
            registry.runDestructors();
            registry.register(slot, value -> calls.add("at death: " + attempt(registry)));
            registry.register(slot, value -> calls.add("after it"));
          });
      assertEquals(
          List.of(
              "in runDestructors(): IllegalStateException",
              "at death: IllegalStateException",
              "after it"),
          calls);
    }
  }

  /**
   * @return how {@code runDestructors()} called from a destructor ended: the exception's simple
   *     name
   */
  private static String attempt(DestructorRegistry registry) {
    try {
      registry.runDestructors();
      return "returned";
    } catch (IllegalStateException expected) {
      return "IllegalStateException";
    } catch (Throwable t) {
      return t.toString();
    }
  }

  static void virtualThread(DestructorRegistry registry) throws Exception {
    List<String> outcomes = Collections.synchronizedList(new ArrayList<>());
    Runnable checks =
        () -> {
          for (Runnable call : List.<Runnable>of(registry::runDestructors, Weave::runDestructors)) {
            try {
              call.run();
              outcomes.add("returned");
            } catch (IllegalStateException expected) {
              outcomes.add(
                  String.valueOf(expected.getMessage()).contains("virtual")
                      ? "refused"
                      : "refused without saying why: " + expected.getMessage());
            } catch (Throwable t) {
              outcomes.add("threw " + t);
            }
          }
        };
    Deaths.join(Deaths.startVirtualThread(checks));
    assertEquals(
        List.of("refused", "refused"),
        outcomes,
        "registry.runDestructors() and Weave.runDestructors() on a virtual thread");
  }
}
