package dev.weave.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.weave.Destructor;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.Weave;
import dev.weave.WeaveException;
import dev.weave.spi.CheckedPrimitives;
import dev.weave.spi.Engine;
import java.lang.reflect.Method;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Level;
import org.junit.jupiter.api.function.Executable;

/** The contract's semantics, items 1 to 12 of {@code DESIGN.md}, and the kinds of thread death. */
final class ContractCases {
  private ContractCases() {}

  static List<TckCase> all() {
    List<TckCase> cases = new ArrayList<>();
    cases.add(
        TckCase.of(
            "r01-per-thread-java",
            Rule.R1,
            "only the registering thread's death runs its registrations (Java destructors)",
            ContractCases::perThread));
    cases.add(
        TckCase.of(
            "r01-per-thread-native",
            Rule.R1,
            "only the registering thread's death runs its registrations (native destructors)",
            ContractCases::perThreadNative));
    cases.add(
        TckCase.of(
            "r01-reattached-thread",
            Rule.R1,
            "a native thread that detaches and attaches again keeps its cells and registrations",
            ContractCases::reattachedThread));
    cases.add(
        TckCase.of(
            "r02-order-java",
            Rule.R2,
            "at death, in order, with each variable's value at call time (Java destructors)",
            ContractCases::inOrder));
    cases.add(
        TckCase.of(
            "r02-order-native",
            Rule.R2,
            "at death, in order, with each variable's value at call time (native destructors)",
            ContractCases::inOrderNative));
    cases.add(
        TckCase.of(
            "r02-plain-variables",
            Rule.R2,
            "registrations on plain void* variables run in order with slots' ones, with the value at call time",
            ContractCases::plainVariables));
    cases.add(
        TckCase.of(
            "r03-unregister-per-thread",
            Rule.R3,
            "unregister removes all of the calling thread's registrations on a variable, no other thread's",
            ContractCases::unregisterIsPerThread));
    cases.add(
        TckCase.of(
            "r03-slot-and-cell",
            Rule.R3,
            "unregister by slot and by cell address are the same",
            ContractCases::slotAndCellAreOneVariable));
    cases.add(
        TckCase.of(
            "r04-where-destructors-run",
            Rule.R4,
            "destructors run on the dying OS thread, after its Java code, on its own cells",
            ContractCases::whereDestructorsRun));
    cases.add(
        TckCase.of(
            "r04-unregister-in-destructor",
            Rule.R4,
            "a destructor that unregisters a later registration of its thread stops it from running",
            ContractCases::unregisterInDestructor));
    cases.add(
        TckCase.of(
            "r04-pool-threads",
            Rule.R4,
            "executor pool threads run their destructors when the pool shuts down",
            ContractCases::poolThreads));
    cases.add(
        TckCase.of(
            "r04-pthread-threads-java",
            Rule.R4,
            "threads started by pthread_create run their Java destructors",
            ContractCases::nativeThreads));
    cases.add(
        TckCase.of(
            "r04-pthread-threads-native",
            Rule.R4,
            "threads started by pthread_create run their native destructors",
            ContractCases::nativeThreadsNative));
    cases.add(
        TckCase.of(
            "r05-cells-outlive-destructors",
            Rule.R5,
            "cells, in the first chunk and beyond index 64, keep their values until every destructor has run",
            ContractCases::cellsOutliveDestructors));
    cases.add(
        TckCase.of(
            "r06-throwing-destructor",
            Rule.R6,
            "a throwing Java destructor is logged and the rest still run",
            ContractCases::throwingDestructor));
    cases.add(
        TckCase.of(
            "r07-rounds",
            Rule.R7,
            "registrations made while dying run after the current ones, for at most 4 rounds",
            ContractCases::rounds));
    cases.add(
        TckCase.stochastic(
            "r08-no-leaks",
            Rule.R8,
            "8 rounds of 180 deaths (Java, native-only, slot-only threads) against bare ones: thread count, weave's memory and the C heap back where they were",
            ContractCases::noLeaks));
    cases.add(
        TckCase.of(
            "r09-virtual-threads",
            Rule.R9,
            "every registry and slot operation refuses a virtual thread with IllegalStateException",
            ContractCases::virtualThreadsRefused));
    cases.add(
        TckCase.of(
            "r10-main-returns",
            Rule.R10,
            "main returns after registering on the main thread: exit 0, nothing printed, no hs_err, no destructor run",
            ExitCases::mainReturns));
    cases.add(
        TckCase.stochastic(
            "r10-exit-race",
            Rule.R10,
            "System.exit racing dying threads: exit 0, nothing printed, no hs_err",
            ExitCases::exitRace));
    cases.add(
        TckCase.of(
            "r10-alive-at-exit",
            Rule.R10,
            "threads alive at System.exit do not run their Java or native destructors",
            ExitCases::aliveAtExit));
    cases.add(
        TckCase.of(
            "r11-close-drops",
            Rule.R11,
            "close drops every registration on the slot, on every thread, without running it",
            ContractCases::closeDropsRegistrations));
    cases.add(
        TckCase.of(
            "r11-new-slot-reads-zero",
            Rule.R11,
            "a new slot reads 0 on every thread, even on a closed slot's storage",
            ContractCases::newSlotReadsZero));
    cases.add(
        TckCase.stochastic(
            "r11-slot-churn",
            Rule.R11,
            "creating and closing slots in a loop does not grow memory",
            ContractCases::slotChurnIsBounded));
    cases.add(
        TckCase.of(
            "r12-bad-input",
            Rule.R12,
            "null, 0, closed, foreign slots and unknown backends are refused, with the problem named, and change nothing",
            ContractCases::badInput));
    cases.addAll(EarlyEndCases.all());
    cases.add(
        TckCase.of(
            "r14-checked-mode",
            Rule.R14,
            "checked mode counts a thread's blocks while it lives and none after its death; off unless asked for",
            ContractCases::checkedMode));
    // last: it hands out every other backend's registry, which Weave.runDestructors() then also
    // runs
    cases.add(
        TckCase.of(
            "r12-other-backend-slot",
            Rule.R12,
            "a slot of every other usable backend is refused",
            ContractCases::otherBackendsSlots));
    return cases;
  }

  static void perThread(DestructorRegistry registry) throws Exception {
    AtomicInteger mainCalls = new AtomicInteger();
    AtomicInteger firstCalls = new AtomicInteger();
    AtomicInteger secondCalls = new AtomicInteger();
    try (ThreadLocalSlot slot = registry.newSlot()) {
      registry.register(slot, value -> mainCalls.incrementAndGet());
      CountDownLatch secondRegistered = new CountDownLatch(1);
      CountDownLatch releaseSecond = new CountDownLatch(1);
      AtomicLong secondOsThread = new AtomicLong();
      AtomicReference<Throwable> secondFailure = new AtomicReference<>();
      Thread second =
          new Thread(
              () -> {
                try {
                  secondOsThread.set(NativeFixtures.osThreadId());
                  registry.register(slot, value -> secondCalls.incrementAndGet());
                  secondRegistered.countDown();
                  releaseSecond.await();
                } catch (Throwable t) {
                  secondFailure.set(t);
                  secondRegistered.countDown();
                }
              });
      second.start();
      try {
        Deaths.await(secondRegistered, "the second thread's registration");
        Deaths.die(registry, () -> registry.register(slot, value -> firstCalls.incrementAndGet()));
        assertEquals(1, firstCalls.get(), "the dead thread's destructor");
        assertEquals(
            0, secondCalls.get(), "a live thread's destructor ran when another thread died");
        assertEquals(
            0, mainCalls.get(), "the test thread's destructor ran when another thread died");
      } finally {
        releaseSecond.countDown();
      }
      Deaths.join(second);
      Deaths.rethrow(secondFailure.get());
      // every destructor the second thread runs has run once its OS thread has exited
      boolean exited = NativeFixtures.awaitThreadExit(secondOsThread.get(), Deaths.TIMEOUT);
      if (!exited) {
        awaitCount(secondCalls, 1, "the second thread's destructor");
      }
      assertEquals(1, secondCalls.get(), "the second thread's destructor, after its death");
      assertEquals(1, firstCalls.get(), "the first thread's destructor ran again");
      assertEquals(0, mainCalls.get());
      assertTrue(registry.unregister(slot), "the test thread's registration is still there");
    }
  }

  static void perThreadNative(DestructorRegistry registry) throws Exception {
    try (ThreadLocalSlot slot = registry.newSlot();
        NativeFixtures.Semaphore mainSem = new NativeFixtures.Semaphore();
        NativeFixtures.Semaphore threadSem = new NativeFixtures.Semaphore()) {
      slot.set(mainSem.address());
      registry.registerNative(slot, NativeFixtures.SEM_POST);
      Deaths.dieNative(
          registry,
          () -> {
            slot.set(threadSem.address());
            registry.registerNative(slot, NativeFixtures.SEM_POST);
          });
      assertEquals(1, threadSem.value(), "the dead thread's native destructor");
      assertEquals(
          0, mainSem.value(), "the test thread's native destructor ran when another thread died");
      assertTrue(registry.unregister(slot));
    }
  }

  static void inOrder(DestructorRegistry registry) throws Exception {
    List<String> calls = Collections.synchronizedList(new ArrayList<>());
    try (ThreadLocalSlot a = registry.newSlot();
        ThreadLocalSlot b = registry.newSlot();
        ThreadLocalSlot zero = registry.newSlot()) {
      Deaths.die(
          registry,
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
            a.set(10); // the value at death counts, not the value at registration
          });
      assertEquals(List.of("b1=2", "a1=10", "zero=0", "b2=20", "a2=10"), calls);
    }
  }

  static void inOrderNative(DestructorRegistry registry) throws Exception {
    List<String> calls = Collections.synchronizedList(new ArrayList<>());
    try (ThreadLocalSlot a = registry.newSlot();
        ThreadLocalSlot b = registry.newSlot();
        NativeFixtures.Semaphore sem = new NativeFixtures.Semaphore();
        NativeFixtures.Semaphore other = new NativeFixtures.Semaphore()) {
      sem.post(3);
      Deaths.die(
          registry,
          () -> {
            a.set(other.address());
            registry.registerNative(a, NativeFixtures.SEM_POST);
            // b is 0 here; at death it holds sem's address, and sigemptyset zeroes sem (and ignores
            // NULL)
            registry.registerNative(b, NativeFixtures.SIGEMPTYSET);
            registry.register(
                a,
                value ->
                    calls.add("after first two: sem=" + sem.value() + " other=" + other.value()));
            registry.registerNative(a, NativeFixtures.SEM_TRYWAIT);
            registry.register(a, value -> calls.add("after trywait: other=" + other.value()));
            b.set(sem.address()); // the native destructor on b gets the value at death
          });
      assertEquals(
          List.of("after first two: sem=0 other=1", "after trywait: other=0"),
          calls,
          "sem starts at 3 and is zeroed by the destructor on b if it gets b's value at death; other is posted, then taken");
    }
  }

  /**
   * The seed's own form of variable, a {@code void*} that is no slot's cell, in memory the test
   * owns: its registrations take their place in the order among slots' ones, and get the value the
   * variable holds when they are called.
   */
  static void plainVariables(DestructorRegistry registry) throws Exception {
    List<String> calls = Collections.synchronizedList(new ArrayList<>());
    try (ThreadLocalSlot slot = registry.newSlot();
        NativeFixtures.Word first = new NativeFixtures.Word();
        NativeFixtures.Word second = new NativeFixtures.Word();
        NativeFixtures.Semaphore atRegistration = new NativeFixtures.Semaphore();
        NativeFixtures.Semaphore atDeath = new NativeFixtures.Semaphore();
        NativeFixtures.Semaphore late = new NativeFixtures.Semaphore()) {
      atDeath.post(2);
      late.post(2);
      Deaths.die(
          registry,
          () -> {
            first.set(atRegistration.address());
            registry.registerNative(first.address(), NativeFixtures.SEM_POST);
            registry.register(
                slot,
                value -> {
                  calls.add(
                      "after the first: atRegistration="
                          + atRegistration.value()
                          + " atDeath="
                          + atDeath.value()
                          + " late="
                          + late.value());
                  second.set(late.address()); // seen by the later native destructor on second
                });
            // second is 0 (NULL) here, which sigemptyset ignores; at its call it holds late's
            // address
            registry.registerNative(second.address(), NativeFixtures.SIGEMPTYSET);
            registry.register(
                slot,
                value ->
                    calls.add(
                        "last: atRegistration="
                            + atRegistration.value()
                            + " atDeath="
                            + atDeath.value()
                            + " late="
                            + late.value()));
            first.set(atDeath.address()); // the value the first registration must get
          });
      assertEquals(
          List.of(
              "after the first: atRegistration=0 atDeath=3 late=2",
              "last: atRegistration=0 atDeath=3 late=0"),
          calls,
          "sem_post on first must post atDeath (2 -> 3), the semaphore first points to at death; sigemptyset on second"
              + " must zero late (2 -> 0), which second points to once the Java destructor between them set it");
    }
  }

  static void unregisterIsPerThread(DestructorRegistry registry) throws Exception {
    AtomicInteger mainCalls = new AtomicInteger();
    AtomicInteger threadCalls = new AtomicInteger();
    AtomicInteger helperCalls = new AtomicInteger();
    try (ThreadLocalSlot slot = registry.newSlot();
        ThreadLocalSlot other = registry.newSlot();
        NativeFixtures.Semaphore helperSem = new NativeFixtures.Semaphore()) {
      registry.register(slot, value -> mainCalls.incrementAndGet());
      // a live thread's registrations on the same slot must survive another thread's unregister
      CountDownLatch helperRegistered = new CountDownLatch(1);
      CountDownLatch releaseHelper = new CountDownLatch(1);
      AtomicLong helperOsThread = new AtomicLong();
      AtomicReference<Throwable> helperFailure = new AtomicReference<>();
      Thread helper =
          new Thread(
              () -> {
                try {
                  helperOsThread.set(NativeFixtures.osThreadId());
                  slot.set(helperSem.address());
                  registry.register(slot, value -> helperCalls.incrementAndGet());
                  registry.registerNative(slot, NativeFixtures.SEM_POST);
                  helperRegistered.countDown();
                  releaseHelper.await();
                } catch (Throwable t) {
                  helperFailure.set(t);
                  helperRegistered.countDown();
                }
              },
              "weave-tck-helper");
      helper.start();
      try {
        Deaths.await(helperRegistered, "the helper thread's registrations");
        Deaths.die(
            registry,
            () -> {
              assertFalse(
                  registry.unregister(slot), "the thread has no registration of its own yet");
              registry.register(slot, value -> threadCalls.incrementAndGet());
              registry.register(slot, value -> threadCalls.incrementAndGet());
              registry.register(other, value -> threadCalls.addAndGet(100));
              assertTrue(registry.unregister(slot), "two registrations on slot");
              assertFalse(registry.unregister(slot), "both went at once");
            });
      } finally {
        releaseHelper.countDown();
      }
      Deaths.join(helper);
      Deaths.rethrow(helperFailure.get());
      boolean exited = NativeFixtures.awaitThreadExit(helperOsThread.get(), Deaths.TIMEOUT);
      assertTrue(
          helperSem.await(exited ? Duration.ZERO : Deaths.TIMEOUT),
          "the helper thread's native registration on the slot did not run at its death: another thread's unregister removed it");
      assertEquals(100, threadCalls.get(), "only the registration on the other slot ran");
      assertEquals(
          1, helperCalls.get(), "the helper thread's Java registration on the slot, at its death");
      assertEquals(0, mainCalls.get());
      assertTrue(registry.unregister(slot), "the test thread's registration was untouched");
      assertFalse(registry.unregister(slot));
    }
  }

  static void slotAndCellAreOneVariable(DestructorRegistry registry) throws Exception {
    AtomicInteger calls = new AtomicInteger();
    try (ThreadLocalSlot slot = registry.newSlot();
        NativeFixtures.Semaphore sem = new NativeFixtures.Semaphore()) {
      Deaths.die(
          registry,
          () -> {
            long cell = slot.cellAddress();
            assertEquals(cell, slot.cellAddress(), "a cell's address is stable");
            slot.set(sem.address());
            registry.registerNative(cell, NativeFixtures.SEM_POST);
            registry.register(slot, value -> calls.incrementAndGet());
            assertTrue(
                registry.unregister(slot),
                "unregister(slot) removes a registration made on its cell address");
            assertFalse(registry.unregister(cell));
            registry.registerNative(slot, NativeFixtures.SEM_POST);
            registry.register(slot, value -> calls.incrementAndGet());
            assertTrue(
                registry.unregister(cell),
                "unregister(cell) removes registrations made on the slot");
            assertFalse(registry.unregister(slot));
            registry.registerNative(slot, NativeFixtures.SEM_POST);
          });
      assertEquals(1, sem.value(), "only the last registration ran");
      assertEquals(0, calls.get());
    }
  }

  static void whereDestructorsRun(DestructorRegistry registry) throws Exception {
    ThreadLocal<String> threadLocal = new ThreadLocal<>();
    AtomicLong dyingOsThread = new AtomicLong();
    AtomicReference<Thread> dyingThread = new AtomicReference<>();
    AtomicLong destructorOsThread = new AtomicLong();
    AtomicReference<Thread> destructorThread = new AtomicReference<>();
    AtomicReference<String> threadLocalSeen = new AtomicReference<>("unset");
    AtomicLong slotSeen = new AtomicLong();
    AtomicLong cellSeen = new AtomicLong();
    AtomicLong cell = new AtomicLong();
    AtomicInteger javaCodeFinished = new AtomicInteger();
    AtomicInteger finishedWhenCalled = new AtomicInteger(-1);
    try (ThreadLocalSlot slot = registry.newSlot()) {
      Deaths.die(
          registry,
          () -> {
            dyingOsThread.set(NativeFixtures.osThreadId());
            dyingThread.set(Thread.currentThread());
            threadLocal.set("alive");
            slot.set(42);
            cell.set(slot.cellAddress());
            registry.register(
                slot,
                value -> {
                  finishedWhenCalled.set(javaCodeFinished.get());
                  destructorOsThread.set(NativeFixtures.osThreadId());
                  destructorThread.set(Thread.currentThread());
                  threadLocalSeen.set(threadLocal.get());
                  slotSeen.set(slot.get());
                  cellSeen.set(slot.cellAddress());
                });
            javaCodeFinished.set(1);
          });
      assertEquals(
          1, finishedWhenCalled.get(), "the destructor ran before the thread's Java code finished");
      assertEquals(
          dyingOsThread.get(), destructorOsThread.get(), "the destructor ran on another OS thread");
      assertNotSame(
          dyingThread.get(),
          destructorThread.get(),
          "Thread.currentThread() in a destructor is the dead Thread");
      assertNull(threadLocalSeen.get(), "the dead thread's ThreadLocal was still visible");
      assertEquals(42, slotSeen.get(), "slot.get() in a destructor reads the dying thread's cell");
      assertEquals(
          cell.get(), cellSeen.get(), "cellAddress() in a destructor is the dying thread's cell");
    }
  }

  /**
   * Destructors read cells after earlier destructors ran: in the first chunk of cells and beyond
   * index 64 (a later chunk), through {@code get()} and through the cell's memory. The TCK's JVM
   * has glibc fill freed memory ({@link NativeFixtures#perturbFreedMemory()}), so a cell freed too
   * early does not keep its old value. Only Java destructors read them: a native one handed a freed
   * cell's contents would crash the JVM rather than fail the case.
   */
  static void cellsOutliveDestructors(DestructorRegistry registry) throws Exception {
    int slotCount = 70; // index 64 and up is the second chunk in weave's engine
    List<String> seen = Collections.synchronizedList(new ArrayList<>());
    List<ThreadLocalSlot> slots = new ArrayList<>();
    try {
      for (int i = 0; i < slotCount; i++) {
        slots.add(registry.newSlot());
      }
      ThreadLocalSlot first = slots.get(0);
      ThreadLocalSlot high = slots.get(slotCount - 1);
      Deaths.die(
          registry,
          () -> {
            for (int i = 0; i < slotCount; i++) {
              slots.get(i).set(1000 + i);
            }
            long firstCell = first.cellAddress();
            long highCell = high.cellAddress();
            registry.register(first, value -> seen.add("first=" + value + " high=" + high.get()));
            registry.register(
                slots.get(1), value -> slots.get(1).set(0)); // a destructor's change is no free
            registry.register(
                high,
                value -> {
                  StringBuilder wrong = new StringBuilder();
                  for (int i = 0; i < slotCount; i++) {
                    long expected = i == 1 ? 0 : 1000 + i;
                    long actual = slots.get(i).get();
                    if (actual != expected) {
                      wrong
                          .append(" slot ")
                          .append(i)
                          .append("=0x")
                          .append(Long.toHexString(actual));
                    }
                  }
                  seen.add(
                      "high="
                          + value
                          + " first cell="
                          + new com.sun.jna.Pointer(firstCell).getLong(0)
                          + " high cell="
                          + new com.sun.jna.Pointer(highCell).getLong(0)
                          + " wrong:"
                          + wrong);
                });
          });
      long lastValue = 1000 + slotCount - 1;
      assertEquals(
          List.of(
              "first=1000 high=" + lastValue,
              "high=" + lastValue + " first cell=1000 high cell=" + lastValue + " wrong:"),
          seen,
          "values read by destructors after earlier ones had run");
    } finally {
      slots.forEach(ThreadLocalSlot::close);
    }
  }

  /**
   * A destructor unregisters, on its dying thread, registrations made after it (on a slot and on a
   * plain variable): they must not run (rule 4: registry calls in a destructor act on the dying
   * thread's own registrations).
   */
  static void unregisterInDestructor(DestructorRegistry registry) throws Exception {
    List<String> calls = Collections.synchronizedList(new ArrayList<>());
    try (ThreadLocalSlot first = registry.newSlot();
        ThreadLocalSlot later = registry.newSlot();
        NativeFixtures.Word variable = new NativeFixtures.Word();
        NativeFixtures.Semaphore sem = new NativeFixtures.Semaphore()) {
      Deaths.die(
          registry,
          () -> {
            registry.register(
                first,
                value -> {
                  calls.add("unregister(later)=" + registry.unregister(later));
                  calls.add("unregister(variable)=" + registry.unregister(variable.address()));
                });
            later.set(sem.address());
            registry.register(later, value -> calls.add("later ran"));
            registry.registerNative(later, NativeFixtures.SEM_POST);
            variable.set(sem.address());
            registry.registerNative(variable.address(), NativeFixtures.SEM_POST);
          });
      assertEquals(
          List.of("unregister(later)=true", "unregister(variable)=true"),
          calls,
          "what the first destructor's unregister calls returned, and which later destructors ran");
      assertEquals(
          0, sem.value(), "native registrations unregistered by an earlier destructor ran");
    }
  }

  static void throwingDestructor(DestructorRegistry registry) throws Exception {
    List<String> calls = Collections.synchronizedList(new ArrayList<>());
    RuntimeException thrown = new IllegalStateException("thrown by a TCK destructor");
    try (ThreadLocalSlot slot = registry.newSlot();
        NativeFixtures.Semaphore sem = new NativeFixtures.Semaphore();
        LogCapture log = new LogCapture()) {
      Deaths.die(
          registry,
          () -> {
            slot.set(sem.address());
            registry.register(slot, value -> calls.add("first"));
            registry.register(
                slot,
                value -> {
                  throw thrown;
                });
            registry.register(
                slot,
                value -> {
                  throw new AssertionError("an Error from a TCK destructor");
                });
            registry.registerNative(slot, NativeFixtures.SEM_POST);
            registry.register(slot, value -> calls.add("last"));
          });
      assertEquals(List.of("first", "last"), calls);
      assertEquals(1, sem.value(), "the native destructor after the throwing ones");
      log.await(
          "record of the thrown exception",
          r -> r.getThrown() == thrown && r.getLevel().intValue() >= Level.WARNING.intValue(),
          Deaths.TIMEOUT);
      log.await(
          "record of the thrown Error",
          r -> r.getThrown() instanceof AssertionError,
          Deaths.TIMEOUT);
    }
  }

  static void rounds(DestructorRegistry registry) throws Exception {
    List<String> calls = Collections.synchronizedList(new ArrayList<>());
    try (ThreadLocalSlot slot = registry.newSlot();
        LogCapture log = new LogCapture()) {
      CountDownLatch lastRound = new CountDownLatch(1);
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
                                    lastRound.countDown();
                                    registry.register(slot, v5 -> calls.add("round 5"));
                                  });
                            });
                      });
                });
            registry.register(slot, value -> calls.add("round 1 b"));
          });
      Deaths.await(lastRound, "the fourth round");
      assertEquals(List.of("round 1 a", "round 1 b", "round 2", "round 3", "round 4"), calls);
      log.await(
          "warning about the dropped fifth-round registration",
          r -> r.getLevel() == Level.WARNING && String.valueOf(r.getMessage()).contains("dropped"),
          Deaths.TIMEOUT);
    }
  }

  /**
   * How much more the C heap may grow over {@value #NO_LEAKS_DEATHS} weave deaths than over as many
   * bare ones, in at least two rounds: 1 KiB per death with a registration. Measured on JDK 25 with
   * every backend: rounds of 1 KiB to 735 KiB, the lowest two always under 60 KiB; a backend that
   * leaks 3 KiB per such death: 350 KiB and more in every round.
   */
  static final long NO_LEAKS_HEAP_LIMIT = 120L << 10;

  /**
   * Deaths per round of {@link #noLeaks}: a third each with a Java destructor, native ones only, no
   * registration.
   */
  static final int NO_LEAKS_DEATHS = 180;

  /**
   * Thread deaths of three kinds, in turn: with a Java destructor (the walker runs, the thread is
   * attached for it), with only native destructors (some backends need no JVM for those), and with
   * slots only (no registration). Afterwards the live thread count must be back to its baseline; an
   * engine in checked mode must own exactly the blocks it owned before; and the C heap, which also
   * shows what a backend's FFI library allocates, must not have grown more than over as many bare
   * thread deaths ({@link HeapGrowth}).
   */
  static void noLeaks(DestructorRegistry registry) throws Exception {
    int warmUpRounds = 2;
    int rounds = 8;
    int slotsPerThread =
        960; // 15 KiB of cells and owner words per thread: 2.6 MiB a round if they leaked
    List<ThreadLocalSlot> slots = new ArrayList<>();
    for (int i = 0; i < slotsPerThread; i++) {
      slots.add(registry.newSlot());
    }
    ThreadLocalSlot last = slots.get(slotsPerThread - 1);
    AtomicInteger javaCalls = new AtomicInteger();
    Optional<CheckedPrimitives> checker = CheckedMode.of(registry);
    try (NativeFixtures.Semaphore nativeCalls = new NativeFixtures.Semaphore()) {
      Deaths.Body setSlots = () -> slots.forEach(slot -> slot.set(1));
      Deaths.Body withJava =
          () -> {
            setSlots.run();
            registry.register(last, value -> javaCalls.incrementAndGet());
          };
      Deaths.Body nativeOnly =
          () -> {
            setSlots.run();
            last.set(nativeCalls.address());
            registry.registerNative(last, NativeFixtures.SEM_POST);
          };
      int[] eachKind = new int[1];
      // each death waits for its OS thread's exit: every destructor has run, no sentinel needed
      Deaths.Body weaveRound =
          () -> {
            for (int i = 0; i < NO_LEAKS_DEATHS / 3; i++) {
              Deaths.runAndJoin(withJava);
              Deaths.runAndJoin(nativeOnly);
              Deaths.runAndJoin(setSlots);
              eachKind[0]++;
            }
          };
      Deaths.Body bareRound =
          () -> {
            for (int i = 0; i < NO_LEAKS_DEATHS; i++) {
              Deaths.runAndJoin(() -> {});
            }
          };
      // starts whatever helper threads the JVM and the backend start once, and warms up the JIT
      HeapGrowth.excessOverControl(warmUpRounds, bareRound, weaveRound);
      int baseline = Deaths.liveThreads();
      long blocks = checker.map(CheckedPrimitives::liveBlocks).orElse(0L);
      long[] excess = HeapGrowth.excessOverControl(rounds, bareRound, weaveRound);
      Deaths.awaitLiveThreadsAtMost(baseline);
      assertEquals(
          eachKind[0],
          javaCalls.get(),
          "Java destructor calls, one per thread that registered one");
      assertEquals(
          eachKind[0],
          nativeCalls.value(),
          "native destructor calls, one per thread that registered one");
      if (checker.isPresent()) {
        assertTrue(
            checker.get().awaitLiveBlocks(blocks, Deaths.TIMEOUT),
            "the engine owns "
                + checker.get().liveBlocks()
                + " blocks after "
                + rounds * NO_LEAKS_DEATHS
                + " deaths, not the "
                + blocks
                + " it owned before them (checked mode: an exact count)");
      }
      HeapGrowth.assertTwoRoundsBelow(
          NO_LEAKS_HEAP_LIMIT, excess, NO_LEAKS_DEATHS, "weave thread deaths");
    } finally {
      slots.forEach(ThreadLocalSlot::close);
    }
  }

  static void virtualThreadsRefused(DestructorRegistry registry) throws Exception {
    Method startVirtualThread;
    try {
      startVirtualThread = Thread.class.getMethod("startVirtualThread", Runnable.class);
    } catch (NoSuchMethodException e) {
      assumeTrue(
          false, "this JVM (Java " + Runtime.version().feature() + ") has no virtual threads");
      return;
    }
    try (ThreadLocalSlot slot = registry.newSlot()) {
      List<String> failures = Collections.synchronizedList(new ArrayList<>());
      Destructor destructor = value -> {};
      Runnable checks =
          () -> {
            Object[][] operations = {
              {"newSlot", (Executable) registry::newSlot},
              {"register", (Executable) () -> registry.register(slot, destructor)},
              {
                "registerNative(slot)",
                (Executable) () -> registry.registerNative(slot, NativeFixtures.SEM_POST)
              },
              {
                "registerNative(variable)",
                (Executable) () -> registry.registerNative(0x1000, NativeFixtures.SEM_POST)
              },
              {"unregister(slot)", (Executable) () -> registry.unregister(slot)},
              {"unregister(variable)", (Executable) () -> registry.unregister(0x1000)},
              {"get", (Executable) slot::get},
              {"set", (Executable) () -> slot.set(1)},
              {"cellAddress", (Executable) slot::cellAddress},
              {"close", (Executable) slot::close},
            };
            for (Object[] operation : operations) {
              try {
                ((Executable) operation[1]).execute();
                failures.add(operation[0] + " did not throw");
              } catch (IllegalStateException expected) {
                if (!String.valueOf(expected.getMessage()).contains("virtual")) {
                  failures.add(
                      operation[0] + " threw without saying why: " + expected.getMessage());
                }
              } catch (Throwable t) {
                failures.add(operation[0] + " threw " + t);
              }
            }
          };
      Thread virtual = (Thread) startVirtualThread.invoke(null, checks);
      Deaths.join(virtual);
      assertEquals(List.of(), failures);
      slot.set(5);
      assertEquals(5, slot.get(), "the slot still works on a platform thread");
    }
  }

  static void closeDropsRegistrations(DestructorRegistry registry) throws Exception {
    AtomicInteger calls = new AtomicInteger();
    ThreadLocalSlot slot = registry.newSlot();
    try (ThreadLocalSlot kept = registry.newSlot();
        NativeFixtures.Semaphore sem = new NativeFixtures.Semaphore()) {
      int threadCount = 2;
      CountDownLatch registered = new CountDownLatch(threadCount);
      CountDownLatch closed = new CountDownLatch(1);
      CountDownLatch keptRan = new CountDownLatch(threadCount);
      List<Thread> threads = new ArrayList<>();
      List<AtomicLong> osThreads = new ArrayList<>();
      AtomicReference<Throwable> failure = new AtomicReference<>();
      for (int i = 0; i < threadCount; i++) {
        AtomicLong osThread = new AtomicLong();
        osThreads.add(osThread);
        Thread thread =
            new Thread(
                () -> {
                  try {
                    osThread.set(NativeFixtures.osThreadId());
                    registry.register(
                        kept, value -> keptRan.countDown()); // before the closed slot's: runs first
                    slot.set(sem.address());
                    registry.register(slot, value -> calls.incrementAndGet());
                    registry.registerNative(slot, NativeFixtures.SEM_POST);
                    registry.registerNative(slot.cellAddress(), NativeFixtures.SEM_POST);
                    long cell = slot.cellAddress();
                    registered.countDown();
                    closed.await();
                    // the cell stays writable memory after close: native code may still hold it
                    new com.sun.jna.Pointer(cell).setLong(0, sem.address());
                  } catch (Throwable t) {
                    failure.set(t);
                    registered.countDown();
                  }
                },
                "weave-tck-dying-" + i);
        thread.start();
        threads.add(thread);
      }
      Deaths.await(registered, "the threads' registrations");
      slot.set(sem.address());
      registry.register(slot, value -> calls.incrementAndGet());
      slot.close();
      slot.close(); // closing twice is allowed
      closed.countDown();
      boolean allExited = true;
      for (int i = 0; i < threadCount; i++) {
        Deaths.join(threads.get(i));
        // every destructor a thread will ever run has run once its OS thread has exited
        allExited &= NativeFixtures.awaitThreadExit(osThreads.get(i).get(), Deaths.TIMEOUT);
      }
      Deaths.rethrow(failure.get());
      Deaths.await(keptRan, "the threads' destructors on the slot that stayed open", allExited);
      assertEquals(0, calls.get(), "a Java destructor on a closed slot ran");
      assertEquals(0, sem.value(), "a native destructor on a closed slot ran");
    }
  }

  static void newSlotReadsZero(DestructorRegistry registry) throws Exception {
    int count = 8;
    List<ThreadLocalSlot> old = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      old.add(registry.newSlot());
    }
    List<ThreadLocalSlot> fresh = new ArrayList<>();
    CountDownLatch set = new CountDownLatch(1);
    CountDownLatch reopened = new CountDownLatch(1);
    List<String> otherThreadSaw = Collections.synchronizedList(new ArrayList<>());
    AtomicLong otherOsThread = new AtomicLong();
    Thread other =
        new Thread(
            () -> {
              otherOsThread.set(NativeFixtures.osThreadId());
              old.forEach(slot -> slot.set(0xdead));
              set.countDown();
              try {
                reopened.await();
              } catch (InterruptedException e) {
                return;
              }
              for (ThreadLocalSlot slot : fresh) {
                otherThreadSaw.add(slot + "=" + slot.get());
              }
            });
    other.start();
    try {
      Deaths.await(set, "the other thread's values");
      old.forEach(slot -> slot.set(0xbeef));
      old.forEach(ThreadLocalSlot::close);
      for (int i = 0; i < count; i++) {
        ThreadLocalSlot slot = registry.newSlot();
        fresh.add(slot);
        assertEquals(0, slot.get(), "a new slot on the test thread, which had set a closed one");
        assertEquals(
            0,
            new com.sun.jna.Pointer(slot.cellAddress()).getLong(0),
            "a new slot's cell on the test thread");
        assertFalse(registry.unregister(slot));
      }
      reopened.countDown();
      Deaths.join(other);
      // its cells are freed at its OS exit, after join(): before the next case counts blocks
      NativeFixtures.awaitThreadExit(otherOsThread.get(), Deaths.TIMEOUT);
      List<String> expected = new ArrayList<>();
      fresh.forEach(slot -> expected.add(slot + "=0"));
      assertEquals(expected, otherThreadSaw, "new slots on a thread that had set closed ones");
      for (ThreadLocalSlot slot : fresh) {
        slot.set(3);
        assertEquals(3, slot.get());
        assertEquals(
            3, new com.sun.jna.Pointer(slot.cellAddress()).getLong(0), "the cell holds the value");
      }
    } finally {
      reopened.countDown();
      fresh.forEach(ThreadLocalSlot::close);
    }
  }

  static void slotChurnIsBounded(DestructorRegistry registry) throws Exception {
    int rounds = 3;
    int slotsPerRound =
        300_000; // 2.4 MB of cells a round if closed slots' storage were never reused
    Optional<CheckedPrimitives> checker = CheckedMode.of(registry);
    long before = checker.map(CheckedPrimitives::liveBlocks).orElse(0L);
    Deaths.runAndJoin(
        () -> {
          Set<Long> cells = new HashSet<>();
          long smallestGrowth = Long.MAX_VALUE;
          long[] blocksAfterRound = new long[rounds];
          for (int round = 0; round < rounds; round++) {
            long heap = NativeFixtures.heapInUse();
            for (int i = 0; i < slotsPerRound; i++) {
              ThreadLocalSlot slot = registry.newSlot();
              assertEquals(0, slot.get());
              slot.set(i + 1);
              cells.add(slot.cellAddress());
              slot.close();
            }
            // the JIT and GC move the C heap both ways; a leak grows it every round
            smallestGrowth = Math.min(smallestGrowth, NativeFixtures.heapInUse() - heap);
            blocksAfterRound[round] = checker.map(CheckedPrimitives::liveBlocks).orElse(0L);
          }
          assertTrue(
              cells.size() < 1_000, cells.size() + " distinct cells for one open slot at a time");
          assertEquals(
              blocksAfterRound[0],
              blocksAfterRound[rounds - 1],
              "blocks the engine owns after the first and the last round (checked mode: an exact count)");
          assertTrue(
              smallestGrowth < 1L << 20,
              "C heap grew by at least "
                  + smallestGrowth
                  + " bytes in each of "
                  + rounds
                  + " rounds of "
                  + slotsPerRound
                  + " slots created and closed");
        });
    if (checker.isPresent()) {
      assertTrue(
          checker.get().awaitLiveBlocks(before, Deaths.TIMEOUT),
          "the engine owns "
              + checker.get().liveBlocks()
              + " blocks after the churning thread's death, "
              + before
              + " before it");
    }
  }

  static void badInput(DestructorRegistry registry) throws Exception {
    ThreadLocalSlot closed = registry.newSlot();
    closed.close();
    ThreadLocalSlot foreign = new ForeignSlot();
    try (ThreadLocalSlot slot = registry.newSlot();
        NativeFixtures.Semaphore sem = new NativeFixtures.Semaphore()) {
      slot.set(sem.address());
      Destructor destructor = value -> fail("a destructor of a refused registration ran");
      expect(NullPointerException.class, "slot", () -> registry.register(null, value -> {}));
      expect(NullPointerException.class, "destructor", () -> registry.register(slot, null));
      expect(
          NullPointerException.class,
          "slot",
          () -> registry.registerNative((ThreadLocalSlot) null, NativeFixtures.SEM_POST));
      expect(NullPointerException.class, "slot", () -> registry.unregister((ThreadLocalSlot) null));
      expect(IllegalArgumentException.class, "function", () -> registry.registerNative(slot, 0));
      expect(
          IllegalArgumentException.class,
          "variable",
          () -> registry.registerNative(0, NativeFixtures.SEM_POST));
      expect(
          IllegalArgumentException.class,
          "function",
          () -> registry.registerNative(slot.cellAddress(), 0));
      expect(IllegalArgumentException.class, "variable", () -> registry.unregister(0));
      expect(
          IllegalArgumentException.class, "backend", () -> registry.register(foreign, destructor));
      expect(
          IllegalArgumentException.class,
          "backend",
          () -> registry.registerNative(foreign, NativeFixtures.SEM_POST));
      expect(IllegalArgumentException.class, "backend", () -> registry.unregister(foreign));
      expect(IllegalStateException.class, "closed", closed::get);
      expect(IllegalStateException.class, "closed", () -> closed.set(1));
      expect(IllegalStateException.class, "closed", closed::cellAddress);
      expect(IllegalStateException.class, "closed", () -> registry.register(closed, destructor));
      expect(
          IllegalStateException.class,
          "closed",
          () -> registry.registerNative(closed, NativeFixtures.SEM_POST));
      expect(IllegalStateException.class, "closed", () -> registry.unregister(closed));
      expect(WeaveException.class, "no-such-backend", () -> Weave.registry("no-such-backend"));
      String message =
          assertThrows(WeaveException.class, () -> Weave.registry("no-such-backend")).getMessage();
      assertTrue(
          message.contains(registry.backendName()),
          "the message lists the usable backends: " + message);
      expect(NullPointerException.class, "name", () -> Weave.registry(null));
      // nothing was registered by the failed calls, and the slot kept its value
      assertFalse(registry.unregister(slot), "a refused call left a registration");
      assertEquals(sem.address(), slot.get());
      Deaths.dieNative(
          registry,
          () -> {
            slot.set(sem.address());
            expect(
                IllegalArgumentException.class, "function", () -> registry.registerNative(slot, 0));
            expect(NullPointerException.class, "destructor", () -> registry.register(slot, null));
          });
      assertEquals(0, sem.value(), "a refused registration ran at thread death");
    }
  }

  /**
   * A slot of another backend is refused. With one usable backend there is nothing to try, and the
   * case is skipped saying so.
   */
  static void otherBackendsSlots(DestructorRegistry registry) throws Exception {
    List<dev.weave.Backend> others =
        Weave.backends().stream()
            .filter(b -> b.available() && !b.name().equals(registry.backendName()))
            .toList();
    assumeTrue(
        !others.isEmpty(),
        "no other usable backend is on the class path, so no slot of another backend to offer; add one (weave-jna is one jar) to run this case");
    Destructor destructor = value -> fail("a destructor registered on another backend's slot ran");
    for (dev.weave.Backend other : others) {
      try (ThreadLocalSlot otherSlot = Weave.registry(other.name()).newSlot()) {
        otherSlot.set(1);
        for (Executable call :
            List.<Executable>of(
                () -> registry.register(otherSlot, destructor),
                () -> registry.registerNative(otherSlot, NativeFixtures.SEM_POST),
                () -> registry.unregister(otherSlot))) {
          Throwable thrown =
              assertThrows(
                  IllegalArgumentException.class, call, "a slot of backend " + other.name());
          String message = String.valueOf(thrown.getMessage());
          assertTrue(
              message.contains("backend")
                  && (message.contains(other.name())
                      || message.contains(otherSlot.getClass().getName())),
              "the message does not say the slot is " + other.name() + "'s: " + message);
        }
        assertEquals(1, otherSlot.get(), "the other backend's slot was changed");
      }
    }
  }

  /**
   * Rule 14, where it applies: weave's engine in checked mode counts the blocks of a thread's cells
   * while the thread lives and owns exactly as many as before once it has died; unchecked unless
   * {@code -Dweave.checked=true}. A backend that is not weave's engine is skipped.
   */
  static void checkedMode(DestructorRegistry registry) throws Exception {
    assumeTrue(
        registry instanceof Engine,
        "checked mode is a feature of weave's engine (dev.weave.spi.Engine), and this backend's registry is a "
            + registry.getClass().getName());
    Optional<CheckedPrimitives> checker = CheckedMode.of(registry);
    if (checker.isEmpty()) {
      assertFalse(
          Boolean.getBoolean(Engine.CHECKED_PROPERTY),
          "-D" + Engine.CHECKED_PROPERTY + "=true is set, yet the engine runs unchecked");
      return;
    }
    CheckedPrimitives checked = checker.get();
    assertTrue(
        checked.liveKeys() > 0,
        "an engine that has made cells owns pthread keys: " + checked.liveKeys());
    List<ThreadLocalSlot> slots = new ArrayList<>();
    try {
      for (int i = 0;
          i < 70;
          i++) { // more than one chunk's worth, wherever closed slots left free indices
        slots.add(registry.newSlot());
      }
      long before = checked.liveBlocks();
      long[] whileAlive = new long[1];
      Deaths.runAndJoin(
          () -> {
            slots.forEach(slot -> slot.set(1));
            whileAlive[0] = checked.liveBlocks();
          });
      assertTrue(
          whileAlive[0] > before,
          "live blocks while a thread had 70 cells: " + whileAlive[0] + ", before it: " + before);
      assertTrue(
          checked.awaitLiveBlocks(before, Deaths.TIMEOUT),
          "live blocks after the thread's death: "
              + checked.liveBlocks()
              + ", before it: "
              + before);
    } finally {
      slots.forEach(ThreadLocalSlot::close);
    }
  }

  static void poolThreads(DestructorRegistry registry) throws Exception {
    int threads = 4;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    CyclicBarrier allThreads = new CyclicBarrier(threads);
    AtomicInteger calls = new AtomicInteger();
    Set<Long> poolOsThreads = Collections.synchronizedSet(new HashSet<>());
    Set<Long> ranOnOwnThread = Collections.synchronizedSet(new HashSet<>());
    try (ThreadLocalSlot slot = registry.newSlot()) {
      List<java.util.concurrent.Future<?>> tasks = new ArrayList<>();
      for (int i = 0; i < threads; i++) {
        tasks.add(
            pool.submit(
                () -> {
                  long id = NativeFixtures.osThreadId();
                  poolOsThreads.add(id);
                  slot.set(id);
                  registry.register(
                      slot,
                      value -> {
                        if (value == NativeFixtures.osThreadId()) {
                          ranOnOwnThread.add(value);
                        }
                        calls.incrementAndGet();
                      });
                  allThreads.await(
                      Deaths.TIMEOUT.toMillis(), TimeUnit.MILLISECONDS); // one task per thread
                  return null;
                }));
      }
      for (java.util.concurrent.Future<?> task : tasks) {
        task.get(Deaths.TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      }
      assertEquals(0, calls.get(), "destructors ran while the pool's threads were alive");
      pool.shutdown();
      assertTrue(pool.awaitTermination(Deaths.TIMEOUT.toMillis(), TimeUnit.MILLISECONDS));
      for (long osThread : poolOsThreads) { // then every destructor they will run has run
        assertTrue(
            NativeFixtures.awaitThreadExit(osThread, Deaths.TIMEOUT)
                || !NativeFixtures.canSeeThreads(),
            "pool thread " + osThread + " did not exit within " + Deaths.TIMEOUT);
      }
      awaitCount(calls, threads, "the pool threads' destructors");
      assertEquals(threads, calls.get(), "destructor calls, one per pool thread");
      assertEquals(
          threads,
          ranOnOwnThread.size(),
          "each destructor ran on its own thread with its own value");
    } finally {
      pool.shutdownNow();
    }
  }

  static void nativeThreads(DestructorRegistry registry) throws Exception {
    int threads = 4;
    AtomicInteger calls = new AtomicInteger();
    Set<Long> seen = Collections.synchronizedSet(new HashSet<>());
    try (ThreadLocalSlot slot = registry.newSlot()) {
      // pthread_join returns once a thread has exited, after its key destructors: every destructor
      // ran
      NativeFixtures.runOnNativeThreads(
          threads,
          () -> {
            slot.set(NativeFixtures.osThreadId());
            registry.register(
                slot,
                value -> {
                  if (value == NativeFixtures.osThreadId()) {
                    seen.add(value);
                  }
                  calls.incrementAndGet();
                });
          });
      assertEquals(
          threads, calls.get(), "destructor calls, one per thread started by pthread_create");
      assertEquals(threads, seen.size(), "each ran on its own thread with its own value");
    }
  }

  /**
   * Waits until {@code count} reaches {@code expected}, where /proc cannot say that the threads
   * have exited.
   */
  private static void awaitCount(AtomicInteger count, int expected, String what) {
    long deadline = System.nanoTime() + Deaths.TIMEOUT.toNanos();
    while (count.get() < expected && System.nanoTime() < deadline) {
      java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
    }
    assertTrue(
        count.get() >= expected,
        what + ": " + count.get() + " of " + expected + " ran within " + Deaths.TIMEOUT);
  }

  static void nativeThreadsNative(DestructorRegistry registry) throws Exception {
    int threads = 4;
    try (ThreadLocalSlot slot = registry.newSlot();
        NativeFixtures.Semaphore sem = new NativeFixtures.Semaphore()) {
      NativeFixtures.runOnNativeThreads(
          threads,
          () -> {
            slot.set(sem.address());
            registry.registerNative(slot, NativeFixtures.SEM_POST);
          });
      for (int i = 0; i < threads; i++) {
        assertTrue(
            sem.await(Deaths.TIMEOUT),
            "native destructor " + (i + 1) + " of " + threads + " did not run");
      }
    }
  }

  static void reattachedThread(DestructorRegistry registry) throws Exception {
    List<String> calls = Collections.synchronizedList(new ArrayList<>());
    CountDownLatch done = new CountDownLatch(1);
    AtomicReference<Thread> firstThread = new AtomicReference<>();
    AtomicLong firstCell = new AtomicLong();
    try (ThreadLocalSlot slot = registry.newSlot();
        ThreadLocalSlot other = registry.newSlot();
        ThreadLocalSlot last = registry.newSlot();
        NativeFixtures.Semaphore sem = new NativeFixtures.Semaphore()) {
      NativeFixtures.runAttachedTwice(
          () -> {
            firstThread.set(Thread.currentThread());
            slot.set(1);
            firstCell.set(slot.cellAddress());
            registry.register(slot, value -> calls.add("first=" + value));
            registry.register(other, value -> calls.add("unregistered ran"));
            other.set(sem.address());
            registry.registerNative(other, NativeFixtures.SEM_POST);
          },
          () -> {
            assertNotSame(
                firstThread.get(),
                Thread.currentThread(),
                "the second callback ran in the same attachment");
            assertEquals(1, slot.get(), "the slot's value set in the first attachment");
            assertEquals(
                firstCell.get(), slot.cellAddress(), "the slot's cell in the first attachment");
            assertTrue(
                registry.unregister(other), "unregister sees the first attachment's registrations");
            slot.set(2);
            registry.register(slot, value -> calls.add("second=" + value));
            registry.register(last, value -> done.countDown());
          });
      Deaths.await(done, "the destructors of the re-attached thread");
      assertEquals(List.of("first=2", "second=2"), calls);
      assertEquals(
          0, sem.value(), "a native registration unregistered in the second attachment ran");
    }
  }

  private static void expect(Class<? extends Throwable> type, String mentioned, Executable call) {
    Throwable thrown = assertThrows(type, call);
    String message = String.valueOf(thrown.getMessage());
    assertTrue(
        message.toLowerCase().contains(mentioned.toLowerCase()),
        type.getSimpleName()
            + " message does not name the problem ('"
            + mentioned
            + "'): "
            + message);
  }

  /** A slot that no backend made. */
  private static final class ForeignSlot implements ThreadLocalSlot {
    @Override
    public long get() {
      return 0;
    }

    @Override
    public void set(long value) {}

    @Override
    public long cellAddress() {
      return 0;
    }

    @Override
    public DestructorRegistry registry() {
      return null;
    }

    @Override
    public void close() {}
  }
}
