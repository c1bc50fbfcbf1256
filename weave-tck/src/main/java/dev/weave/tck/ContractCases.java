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
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
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
    cases.add(new TckCase("1 per thread: only the registering thread's death runs its registrations [java]", ContractCases::perThread));
    cases.add(new TckCase("1 per thread: only the registering thread's death runs its registrations [native]", ContractCases::perThreadNative));
    cases.add(new TckCase("2 at death, in order, with each variable's value at call time [java]", ContractCases::inOrder));
    cases.add(new TckCase("2 at death, in order, with each variable's value at call time [native]", ContractCases::inOrderNative));
    cases.add(new TckCase("3 unregister removes all of the calling thread's registrations on a variable, no other thread's", ContractCases::unregisterIsPerThread));
    cases.add(new TckCase("3 unregister by slot and by cell address are the same", ContractCases::slotAndCellAreOneVariable));
    cases.add(new TckCase("4 destructors run on the dying OS thread, after its Java code, on its own cells", ContractCases::whereDestructorsRun));
    cases.add(new TckCase("5 cells keep their values until every destructor has run", ContractCases::cellsOutliveDestructors));
    cases.add(new TckCase("6 a throwing Java destructor is logged and the rest still run", ContractCases::throwingDestructor));
    cases.add(new TckCase("7 registrations made while dying run after the current ones, for at most 4 rounds", ContractCases::rounds));
    cases.add(new TckCase("8 no leaks: 1,000 deaths leave the live thread count and the C heap where they were", ContractCases::noLeaks));
    cases.add(new TckCase("9 virtual threads are refused with IllegalStateException", ContractCases::virtualThreadsRefused));
    cases.add(new TckCase("10 JVM exit: main returns after registering, exit 0, nothing printed, no hs_err", ExitCases::mainReturns));
    cases.add(new TckCase("10 JVM exit: System.exit racing dying threads, exit 0, no hs_err", ExitCases::exitRace));
    cases.add(new TckCase("11 close drops every registration on the slot, on every thread, without running it", ContractCases::closeDropsRegistrations));
    cases.add(new TckCase("11 a new slot reads 0 on every thread, even on a closed slot's storage", ContractCases::newSlotReadsZero));
    cases.add(new TckCase("11 creating and closing slots in a loop does not grow memory", ContractCases::slotChurnIsBounded));
    cases.add(new TckCase("12 bad input: null, 0, closed, foreign slots and unknown backends are refused and change nothing", ContractCases::badInput));
    cases.add(new TckCase("death: executor pool threads on shutdown", ContractCases::poolThreads));
    cases.add(new TckCase("death: threads started by pthread_create [java]", ContractCases::nativeThreads));
    cases.add(new TckCase("death: threads started by pthread_create [native]", ContractCases::nativeThreadsNative));
    cases.add(new TckCase("death: a native thread that detaches and attaches again keeps its cells and registrations", ContractCases::reattachedThread));
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
      CountDownLatch secondDone = new CountDownLatch(1);
      AtomicReference<Throwable> secondFailure = new AtomicReference<>();
      Thread second =
          new Thread(
              () -> {
                try {
                  registry.register(slot, value -> secondCalls.incrementAndGet());
                  registry.register(registry.newSlot(), value -> secondDone.countDown());
                  secondRegistered.countDown();
                  releaseSecond.await();
                } catch (Throwable t) {
                  secondFailure.set(t);
                  secondRegistered.countDown();
                }
              });
      second.start();
      Deaths.await(secondRegistered, "the second thread's registration");
      Deaths.die(registry, () -> registry.register(slot, value -> firstCalls.incrementAndGet()));
      assertEquals(1, firstCalls.get(), "the dead thread's destructor");
      assertEquals(0, secondCalls.get(), "a live thread's destructor ran when another thread died");
      assertEquals(0, mainCalls.get(), "the test thread's destructor ran when another thread died");
      releaseSecond.countDown();
      Deaths.join(second);
      Deaths.rethrow(secondFailure.get());
      Deaths.await(secondDone, "the second thread's destructors");
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
      Deaths.dieNative(registry, () -> {
        slot.set(threadSem.address());
        registry.registerNative(slot, NativeFixtures.SEM_POST);
      });
      assertEquals(1, threadSem.value(), "the dead thread's native destructor");
      assertEquals(0, mainSem.value(), "the test thread's native destructor ran when another thread died");
      assertTrue(registry.unregister(slot));
    }
  }

  static void inOrder(DestructorRegistry registry) throws Exception {
    List<String> calls = Collections.synchronizedList(new ArrayList<>());
    try (ThreadLocalSlot a = registry.newSlot();
        ThreadLocalSlot b = registry.newSlot();
        ThreadLocalSlot zero = registry.newSlot()) {
      Deaths.die(registry, () -> {
        a.set(1);
        b.set(2);
        registry.register(b, value -> calls.add("b1=" + value));
        registry.register(a, value -> {
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
      Deaths.die(registry, () -> {
        a.set(other.address());
        registry.registerNative(a, NativeFixtures.SEM_POST);
        registry.registerNative(b.cellAddress(), NativeFixtures.SEM_POST); // b is 0 here
        registry.register(a, value -> calls.add("after first two: sem=" + sem.value() + " other=" + other.value()));
        registry.registerNative(a, NativeFixtures.SEM_TRYWAIT);
        registry.register(a, value -> calls.add("after trywait: other=" + other.value()));
        b.set(sem.address()); // the native destructor on b gets the value at death
      });
      assertEquals(List.of("after first two: sem=1 other=1", "after trywait: other=0"), calls);
    }
  }

  static void unregisterIsPerThread(DestructorRegistry registry) throws Exception {
    AtomicInteger mainCalls = new AtomicInteger();
    AtomicInteger threadCalls = new AtomicInteger();
    try (ThreadLocalSlot slot = registry.newSlot(); ThreadLocalSlot other = registry.newSlot()) {
      registry.register(slot, value -> mainCalls.incrementAndGet());
      Deaths.die(registry, () -> {
        assertFalse(registry.unregister(slot), "the thread has no registration of its own yet");
        registry.register(slot, value -> threadCalls.incrementAndGet());
        registry.register(slot, value -> threadCalls.incrementAndGet());
        registry.register(other, value -> threadCalls.addAndGet(100));
        assertTrue(registry.unregister(slot), "two registrations on slot");
        assertFalse(registry.unregister(slot), "both went at once");
      });
      assertEquals(100, threadCalls.get(), "only the registration on the other slot ran");
      assertEquals(0, mainCalls.get());
      assertTrue(registry.unregister(slot), "the test thread's registration was untouched");
      assertFalse(registry.unregister(slot));
    }
  }

  static void slotAndCellAreOneVariable(DestructorRegistry registry) throws Exception {
    AtomicInteger calls = new AtomicInteger();
    try (ThreadLocalSlot slot = registry.newSlot(); NativeFixtures.Semaphore sem = new NativeFixtures.Semaphore()) {
      Deaths.die(registry, () -> {
        long cell = slot.cellAddress();
        assertEquals(cell, slot.cellAddress(), "a cell's address is stable");
        slot.set(sem.address());
        registry.registerNative(cell, NativeFixtures.SEM_POST);
        registry.register(slot, value -> calls.incrementAndGet());
        assertTrue(registry.unregister(slot), "unregister(slot) removes a registration made on its cell address");
        assertFalse(registry.unregister(cell));
        registry.registerNative(slot, NativeFixtures.SEM_POST);
        registry.register(slot, value -> calls.incrementAndGet());
        assertTrue(registry.unregister(cell), "unregister(cell) removes registrations made on the slot");
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
      Deaths.die(registry, () -> {
        dyingOsThread.set(NativeFixtures.osThreadId());
        dyingThread.set(Thread.currentThread());
        threadLocal.set("alive");
        slot.set(42);
        cell.set(slot.cellAddress());
        registry.register(slot, value -> {
          finishedWhenCalled.set(javaCodeFinished.get());
          destructorOsThread.set(NativeFixtures.osThreadId());
          destructorThread.set(Thread.currentThread());
          threadLocalSeen.set(threadLocal.get());
          slotSeen.set(slot.get());
          cellSeen.set(slot.cellAddress());
        });
        javaCodeFinished.set(1);
      });
      assertEquals(1, finishedWhenCalled.get(), "the destructor ran before the thread's Java code finished");
      assertEquals(dyingOsThread.get(), destructorOsThread.get(), "the destructor ran on another OS thread");
      assertNotSame(dyingThread.get(), destructorThread.get(), "Thread.currentThread() in a destructor is the dead Thread");
      assertNull(threadLocalSeen.get(), "the dead thread's ThreadLocal was still visible");
      assertEquals(42, slotSeen.get(), "slot.get() in a destructor reads the dying thread's cell");
      assertEquals(cell.get(), cellSeen.get(), "cellAddress() in a destructor is the dying thread's cell");
    }
  }

  static void cellsOutliveDestructors(DestructorRegistry registry) throws Exception {
    List<String> seen = Collections.synchronizedList(new ArrayList<>());
    try (ThreadLocalSlot a = registry.newSlot();
        ThreadLocalSlot b = registry.newSlot();
        NativeFixtures.Semaphore sem = new NativeFixtures.Semaphore()) {
      Deaths.die(registry, () -> {
        a.set(7);
        b.set(sem.address());
        registry.register(a, value -> seen.add("a=" + value + " b=" + (b.get() == sem.address())));
        registry.registerNative(b, NativeFixtures.SEM_POST);
        registry.register(b, value -> seen.add("a=" + a.get() + " b=" + (value == sem.address()) + " posted=" + sem.value()));
      });
      assertEquals(List.of("a=7 b=true", "a=7 b=true posted=1"), seen);
    }
  }

  static void throwingDestructor(DestructorRegistry registry) throws Exception {
    List<String> calls = Collections.synchronizedList(new ArrayList<>());
    RuntimeException thrown = new IllegalStateException("thrown by a TCK destructor");
    try (ThreadLocalSlot slot = registry.newSlot();
        NativeFixtures.Semaphore sem = new NativeFixtures.Semaphore();
        LogCapture log = new LogCapture()) {
      Deaths.die(registry, () -> {
        slot.set(sem.address());
        registry.register(slot, value -> calls.add("first"));
        registry.register(slot, value -> {
          throw thrown;
        });
        registry.register(slot, value -> {
          throw new AssertionError("an Error from a TCK destructor");
        });
        registry.registerNative(slot, NativeFixtures.SEM_POST);
        registry.register(slot, value -> calls.add("last"));
      });
      assertEquals(List.of("first", "last"), calls);
      assertEquals(1, sem.value(), "the native destructor after the throwing ones");
      log.await("record of the thrown exception", r -> r.getThrown() == thrown && r.getLevel().intValue() >= Level.WARNING.intValue(), Deaths.TIMEOUT);
      log.await("record of the thrown Error", r -> r.getThrown() instanceof AssertionError, Deaths.TIMEOUT);
    }
  }

  static void rounds(DestructorRegistry registry) throws Exception {
    List<String> calls = Collections.synchronizedList(new ArrayList<>());
    try (ThreadLocalSlot slot = registry.newSlot(); LogCapture log = new LogCapture()) {
      CountDownLatch lastRound = new CountDownLatch(1);
      Deaths.runAndJoin(() -> {
        registry.register(slot, value -> {
          calls.add("round 1 a");
          registry.register(slot, v2 -> {
            calls.add("round 2");
            registry.register(slot, v3 -> {
              calls.add("round 3");
              registry.register(slot, v4 -> {
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
      log.await("warning about the dropped fifth-round registration", r -> r.getLevel() == Level.WARNING && String.valueOf(r.getMessage()).contains("dropped"), Deaths.TIMEOUT);
      assertEquals(List.of("round 1 a", "round 1 b", "round 2", "round 3", "round 4"), calls);
    }
  }

  static void noLeaks(DestructorRegistry registry) throws Exception {
    int rounds = 4;
    int deathsPerRound = 250;
    int slotsPerThread = 960; // 7.5 KiB of cells per thread: 1.8 MiB a round if they leaked
    List<ThreadLocalSlot> slots = new ArrayList<>();
    for (int i = 0; i < slotsPerThread; i++) {
      slots.add(registry.newSlot());
    }
    AtomicInteger calls = new AtomicInteger();
    Deaths.Body body = () -> {
      for (ThreadLocalSlot slot : slots) {
        slot.set(1);
      }
      registry.register(slots.get(slotsPerThread - 1), value -> calls.incrementAndGet());
    };
    Deaths.Body slotsOnly = () -> slots.forEach(slot -> slot.set(1));
    try {
      for (int i = 0; i < 20; i++) { // starts whatever helper threads the JVM and the backend start once
        Deaths.die(registry, body);
      }
      int baseline = Deaths.liveThreads();
      long[] growths = HeapGrowth.perRound(rounds, () -> {
        for (int i = 0; i < deathsPerRound; i++) {
          Deaths.die(registry, i % 2 == 0 ? body : slotsOnly);
        }
      });
      Deaths.awaitLiveThreadsAtMost(baseline);
      assertEquals(20 + rounds * deathsPerRound / 2, calls.get(), "destructor calls");
      HeapGrowth.assertSomeRoundBelow(1L << 20, growths, deathsPerRound + " thread deaths");
    } finally {
      slots.forEach(ThreadLocalSlot::close);
    }
  }

  static void virtualThreadsRefused(DestructorRegistry registry) throws Exception {
    Method startVirtualThread;
    try {
      startVirtualThread = Thread.class.getMethod("startVirtualThread", Runnable.class);
    } catch (NoSuchMethodException e) {
      assumeTrue(false, "this JVM (Java " + Runtime.version().feature() + ") has no virtual threads");
      return;
    }
    try (ThreadLocalSlot slot = registry.newSlot()) {
      List<String> failures = Collections.synchronizedList(new ArrayList<>());
      Destructor destructor = value -> {};
      Runnable checks = () -> {
        Object[][] operations = {
          {"newSlot", (Executable) registry::newSlot},
          {"register", (Executable) () -> registry.register(slot, destructor)},
          {"registerNative(slot)", (Executable) () -> registry.registerNative(slot, NativeFixtures.SEM_POST)},
          {"registerNative(variable)", (Executable) () -> registry.registerNative(0x1000, NativeFixtures.SEM_POST)},
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
              failures.add(operation[0] + " threw without saying why: " + expected.getMessage());
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
    try (ThreadLocalSlot kept = registry.newSlot(); NativeFixtures.Semaphore sem = new NativeFixtures.Semaphore()) {
      CountDownLatch registered = new CountDownLatch(2);
      CountDownLatch closed = new CountDownLatch(1);
      CountDownLatch done = new CountDownLatch(2);
      List<Thread> threads = new ArrayList<>();
      AtomicReference<Throwable> failure = new AtomicReference<>();
      for (int i = 0; i < 2; i++) {
        Thread thread =
            new Thread(
                () -> {
                  try {
                    slot.set(sem.address());
                    registry.register(slot, value -> calls.incrementAndGet());
                    registry.registerNative(slot, NativeFixtures.SEM_POST);
                    registry.registerNative(slot.cellAddress(), NativeFixtures.SEM_POST);
                    long cell = slot.cellAddress();
                    registry.register(kept, value -> done.countDown());
                    registered.countDown();
                    closed.await();
                    // the cell stays writable memory after close: native code may still hold it
                    new com.sun.jna.Pointer(cell).setLong(0, 0);
                  } catch (Throwable t) {
                    failure.set(t);
                    registered.countDown();
                  }
                });
        thread.start();
        threads.add(thread);
      }
      Deaths.await(registered, "the threads' registrations");
      slot.set(sem.address());
      registry.register(slot, value -> calls.incrementAndGet());
      slot.close();
      slot.close(); // closing twice is allowed
      assertThrows(IllegalStateException.class, () -> registry.unregister(slot), "use of a closed slot");
      closed.countDown();
      for (Thread thread : threads) {
        Deaths.join(thread);
      }
      Deaths.rethrow(failure.get());
      Deaths.await(done, "the threads' destructors on the slot that stayed open");
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
    Thread other =
        new Thread(
            () -> {
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
        assertEquals(0, new com.sun.jna.Pointer(slot.cellAddress()).getLong(0), "a new slot's cell on the test thread");
        assertFalse(registry.unregister(slot));
      }
      reopened.countDown();
      Deaths.join(other);
      List<String> expected = new ArrayList<>();
      fresh.forEach(slot -> expected.add(slot + "=0"));
      assertEquals(expected, otherThreadSaw, "new slots on a thread that had set closed ones");
      for (ThreadLocalSlot slot : fresh) {
        slot.set(3);
        assertEquals(3, slot.get());
        assertEquals(3, new com.sun.jna.Pointer(slot.cellAddress()).getLong(0), "the cell holds the value");
      }
    } finally {
      reopened.countDown();
      fresh.forEach(ThreadLocalSlot::close);
    }
  }

  static void slotChurnIsBounded(DestructorRegistry registry) throws Exception {
    int rounds = 3;
    int slotsPerRound = 300_000; // 2.4 MB of cells a round if closed slots' storage were never reused
    Deaths.runAndJoin(() -> {
      Set<Long> cells = new HashSet<>();
      long smallestGrowth = Long.MAX_VALUE;
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
      }
      assertTrue(smallestGrowth < 1L << 20,
          "C heap grew by at least " + smallestGrowth + " bytes in each of " + rounds + " rounds of " + slotsPerRound + " slots created and closed");
      assertTrue(cells.size() < 1_000, cells.size() + " distinct cells for one open slot at a time");
    });
  }

  static void badInput(DestructorRegistry registry) throws Exception {
    ThreadLocalSlot closed = registry.newSlot();
    closed.close();
    ThreadLocalSlot foreign = new ForeignSlot();
    try (ThreadLocalSlot slot = registry.newSlot(); NativeFixtures.Semaphore sem = new NativeFixtures.Semaphore()) {
      slot.set(sem.address());
      Destructor destructor = value -> fail("a destructor of a refused registration ran");
      expect(NullPointerException.class, "slot", () -> registry.register(null, value -> {}));
      expect(NullPointerException.class, "destructor", () -> registry.register(slot, null));
      expect(NullPointerException.class, "slot", () -> registry.registerNative((ThreadLocalSlot) null, NativeFixtures.SEM_POST));
      expect(NullPointerException.class, "slot", () -> registry.unregister((ThreadLocalSlot) null));
      expect(IllegalArgumentException.class, "function", () -> registry.registerNative(slot, 0));
      expect(IllegalArgumentException.class, "variable", () -> registry.registerNative(0, NativeFixtures.SEM_POST));
      expect(IllegalArgumentException.class, "function", () -> registry.registerNative(slot.cellAddress(), 0));
      expect(IllegalArgumentException.class, "variable", () -> registry.unregister(0));
      expect(IllegalArgumentException.class, "backend", () -> registry.register(foreign, destructor));
      expect(IllegalArgumentException.class, "backend", () -> registry.registerNative(foreign, NativeFixtures.SEM_POST));
      expect(IllegalArgumentException.class, "backend", () -> registry.unregister(foreign));
      for (dev.weave.Backend other : Weave.backends()) {
        if (other.available() && !other.name().equals(registry.backendName())) {
          try (ThreadLocalSlot otherSlot = Weave.registry(other.name()).newSlot()) {
            expect(IllegalArgumentException.class, other.name(), () -> registry.register(otherSlot, destructor));
          }
        }
      }
      expect(IllegalStateException.class, "closed", closed::get);
      expect(IllegalStateException.class, "closed", () -> closed.set(1));
      expect(IllegalStateException.class, "closed", closed::cellAddress);
      expect(IllegalStateException.class, "closed", () -> registry.register(closed, destructor));
      expect(IllegalStateException.class, "closed", () -> registry.registerNative(closed, NativeFixtures.SEM_POST));
      expect(IllegalStateException.class, "closed", () -> registry.unregister(closed));
      expect(WeaveException.class, "no-such-backend", () -> Weave.registry("no-such-backend"));
      String message = assertThrows(WeaveException.class, () -> Weave.registry("no-such-backend")).getMessage();
      assertTrue(message.contains(registry.backendName()), "the message lists the usable backends: " + message);
      expect(NullPointerException.class, "name", () -> Weave.registry(null));
      // nothing was registered by the failed calls, and the slot kept its value
      assertFalse(registry.unregister(slot), "a refused call left a registration");
      assertEquals(sem.address(), slot.get());
      Deaths.dieNative(registry, () -> {
        slot.set(sem.address());
        expect(IllegalArgumentException.class, "function", () -> registry.registerNative(slot, 0));
        expect(NullPointerException.class, "destructor", () -> registry.register(slot, null));
      });
      assertEquals(0, sem.value(), "a refused registration ran at thread death");
    }
  }

  static void poolThreads(DestructorRegistry registry) throws Exception {
    int threads = 4;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    CyclicBarrier allThreads = new CyclicBarrier(threads);
    CountDownLatch calls = new CountDownLatch(threads);
    Set<Long> osThreads = Collections.synchronizedSet(new HashSet<>());
    try (ThreadLocalSlot slot = registry.newSlot()) {
      List<java.util.concurrent.Future<?>> tasks = new ArrayList<>();
      for (int i = 0; i < threads; i++) {
        tasks.add(pool.submit(() -> {
          long id = NativeFixtures.osThreadId();
          slot.set(id);
          registry.register(slot, value -> {
            if (value == NativeFixtures.osThreadId()) {
              osThreads.add(value);
            }
            calls.countDown();
          });
          allThreads.await(Deaths.TIMEOUT.toMillis(), TimeUnit.MILLISECONDS); // one task per thread
          return null;
        }));
      }
      for (java.util.concurrent.Future<?> task : tasks) {
        task.get(Deaths.TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      }
      assertEquals(threads, calls.getCount(), "destructors ran while the pool's threads were alive");
      pool.shutdown();
      assertTrue(pool.awaitTermination(Deaths.TIMEOUT.toMillis(), TimeUnit.MILLISECONDS));
      Deaths.await(calls, "the pool threads' destructors");
      assertEquals(threads, osThreads.size(), "each destructor ran on its own thread with its own value");
    } finally {
      pool.shutdownNow();
    }
  }

  static void nativeThreads(DestructorRegistry registry) throws Exception {
    int threads = 4;
    CountDownLatch calls = new CountDownLatch(threads);
    Set<Long> seen = Collections.synchronizedSet(new HashSet<>());
    try (ThreadLocalSlot slot = registry.newSlot()) {
      NativeFixtures.runOnNativeThreads(threads, () -> {
        slot.set(NativeFixtures.osThreadId());
        registry.register(slot, value -> {
          if (value == NativeFixtures.osThreadId()) {
            seen.add(value);
          }
          calls.countDown();
        });
      });
      Deaths.await(calls, "destructors of threads started by pthread_create");
      assertEquals(threads, seen.size(), "each ran on its own thread with its own value");
    }
  }

  static void nativeThreadsNative(DestructorRegistry registry) throws Exception {
    int threads = 4;
    try (ThreadLocalSlot slot = registry.newSlot(); NativeFixtures.Semaphore sem = new NativeFixtures.Semaphore()) {
      NativeFixtures.runOnNativeThreads(threads, () -> {
        slot.set(sem.address());
        registry.registerNative(slot, NativeFixtures.SEM_POST);
      });
      for (int i = 0; i < threads; i++) {
        assertTrue(sem.await(Deaths.TIMEOUT), "native destructor " + (i + 1) + " of " + threads + " did not run");
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
            assertNotSame(firstThread.get(), Thread.currentThread(), "the second callback ran in the same attachment");
            assertEquals(1, slot.get(), "the slot's value set in the first attachment");
            assertEquals(firstCell.get(), slot.cellAddress(), "the slot's cell in the first attachment");
            assertTrue(registry.unregister(other), "unregister sees the first attachment's registrations");
            slot.set(2);
            registry.register(slot, value -> calls.add("second=" + value));
            registry.register(last, value -> done.countDown());
          });
      Deaths.await(done, "the destructors of the re-attached thread");
      assertEquals(List.of("first=2", "second=2"), calls);
      assertEquals(0, sem.value(), "a native registration unregistered in the second attachment ran");
    }
  }

  private static void expect(Class<? extends Throwable> type, String mentioned, Executable call) {
    Throwable thrown = assertThrows(type, call);
    String message = String.valueOf(thrown.getMessage());
    assertTrue(
        message.toLowerCase().contains(mentioned.toLowerCase()),
        type.getSimpleName() + " message does not name the problem ('" + mentioned + "'): " + message);
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
