package dev.weave.verification;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.jna.Function;
import com.sun.jna.Memory;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import dev.weave.Backend;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.Weave;
import dev.weave.spi.CheckedPrimitives;
import dev.weave.spi.Engine;
import dev.weave.tck.NativeFixtures;
import dev.weave.tck.WeaveTckTest;
import dev.weave.verification.broken.BrokenBackends;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.TestFactory;
import org.junit.platform.engine.TestExecutionResult;

/**
 * The long runs, in the {@code soak} profile ({@code mvn -Psoak -pl weave-verification verify}), on
 * every usable real backend:
 *
 * <ul>
 *   <li>Soak: 8 threads churn 20,000 thread deaths in all; each dying thread makes random Java and
 *       native registrations (native: {@code sem_post} on a semaphore of its own, so no Java runs)
 *       and sometimes unregisters one. Every registration that stayed must run exactly once with
 *       its value, none that was unregistered may run; the live thread count must come back to
 *       where it was; in 10 rounds, each after a round of as many bare thread deaths, the C heap
 *       ({@code mallinfo2}) must grow by less than 2 MiB more in the median round; and where the
 *       engine runs in checked mode ({@code -Dweave.checked=true}), it must own exactly the blocks
 *       it owned before, with no violation reported.
 *   <li>JVM exit: the TCK's rule-10 cases with 30 child JVMs each instead of 3 (the soak profile
 *       sets {@code weave.tck.exitRuns}): 200 threads that register destructors and die while
 *       {@code main} calls {@code System.exit(0)}, and {@code main} returning after registering on
 *       the main thread: exit status 0 each time, no {@code hs_err} file, nothing printed.
 * </ul>
 *
 * Each prints its figures. The system property {@code weave.soak.deaths} changes the soak's size.
 */
@Tag("soak")
class SoakTest {
  static final int DEATHS = Integer.getInteger("weave.soak.deaths", 20_000);
  static final int CHURNERS = 8;
  static final int MAX_REGISTRATIONS = 6;

  /**
   * Enough slots that each thread's cells take two chunks (64 and 128 cells): 1.5 KiB a death if
   * leaked.
   */
  static final int SLOTS = 80;

  /** Rounds of the soak, each against a round of as many bare thread deaths. */
  static final int ROUNDS = 10;

  /**
   * How much more the C heap may grow, in the median round, over {@code DEATHS / ROUNDS} weave
   * deaths than over as many bare ones: 1 KiB a death. A thread's cells and owner words take 3 KiB
   * here. With 8 threads churning, single rounds move by up to 25 MB either way (glibc's per-thread
   * arenas, the JVM's own); medians measured on every backend, checked or not: -0.8 to +0.3 MiB.
   */
  static final long HEAP_LIMIT = 2L << 20;

  static final Duration TIMEOUT = Duration.ofSeconds(60);

  private static final NativeLibrary LIBC = NativeLibrary.getInstance("c");
  private static final Function SEM_INIT = LIBC.getFunction("sem_init");
  private static final Function SEM_GETVALUE = LIBC.getFunction("sem_getvalue");
  private static final int SEM_BYTES = 32;

  static List<Backend> backends() {
    return Weave.backends().stream()
        .filter(b -> b.available() && !BrokenBackends.isTestBackend(b))
        .toList();
  }

  @TestFactory
  Stream<DynamicTest> soak() {
    return backends().stream()
        .map(b -> DynamicTest.dynamicTest("soak " + b.name(), () -> soak(b.name())));
  }

  @TestFactory
  Stream<DynamicTest> jvmExit() {
    return backends().stream()
        .map(b -> DynamicTest.dynamicTest("JVM exit " + b.name(), () -> jvmExit(b.name())));
  }

  static void soak(String backend) throws Exception {
    DestructorRegistry registry = Weave.registry(backend);
    List<ThreadLocalSlot> slots = new ArrayList<>();
    for (int i = 0; i < SLOTS; i++) {
      slots.add(registry.newSlot());
    }
    try {
      churn(
          registry, slots, 1_000,
          1); // warm up: the JIT, the backend's helper threads, glibc's arenas
      bareChurn(1_000);
      LockSupport.parkNanos(500_000_000); // the last threads of the warm-up detach
      Optional<CheckedPrimitives> checker =
          registry instanceof Engine engine ? engine.checked() : Optional.empty();
      long blocksBefore = checker.map(CheckedPrimitives::liveBlocks).orElse(0L);
      long violationsBefore = checker.map(CheckedPrimitives::violationCount).orElse(0L);
      int threadsBefore = liveThreads();
      long started = System.nanoTime();
      Tally tally = new Tally();
      long[] excess = new long[ROUNDS];
      for (int round = 0; round < ROUNDS; round++) {
        long start = NativeFixtures.heapInUse();
        bareChurn(DEATHS / ROUNDS);
        long middle = NativeFixtures.heapInUse();
        tally.add(churn(registry, slots, DEATHS / ROUNDS, 2 + round));
        excess[round] = (NativeFixtures.heapInUse() - middle) - (middle - start);
      }
      long millis = (System.nanoTime() - started) / 1_000_000;
      int threadsAfter = awaitLiveThreadsAtMost(threadsBefore);
      boolean blocksBack =
          checker.isEmpty() || checker.get().awaitLiveBlocks(blocksBefore, TIMEOUT);
      long[] sorted = excess.clone();
      Arrays.sort(sorted);
      long medianExcess = (sorted[(ROUNDS - 1) / 2] + sorted[ROUNDS / 2]) / 2;
      System.out.printf(
          "soak %s: %,d deaths by %d threads in %,d ms; destructor calls expected %,d (java %,d, native %,d), "
              + "made %,d, lost %d, duplicated %d, unregistered but run %d, wrong value %d; "
              + "live threads %d before, %d after; C heap growth over each round of %,d deaths beyond as many bare"
              + " ones %s bytes, median %+,d%n",
          backend,
          DEATHS,
          CHURNERS,
          millis,
          tally.expected,
          tally.expectedJava,
          tally.expectedNative,
          tally.made,
          tally.lost,
          tally.duplicated,
          tally.unexpected,
          tally.wrongValue,
          threadsBefore,
          threadsAfter,
          DEATHS / ROUNDS,
          Arrays.toString(excess),
          medianExcess);
      assertThat(tally.lost).as("lost destructor calls").isZero();
      assertThat(tally.duplicated).as("duplicated destructor calls").isZero();
      assertThat(tally.unexpected).as("calls of unregistered destructors").isZero();
      assertThat(tally.wrongValue).as("calls with a wrong value").isZero();
      assertThat(threadsAfter).as("live threads").isLessThanOrEqualTo(threadsBefore);
      if (checker.isPresent()) {
        System.out.printf(
            "  checked mode: live blocks %d before, %d after; violations %d%n",
            blocksBefore,
            checker.get().liveBlocks(),
            checker.get().violationCount() - violationsBefore);
        assertThat(
                checker
                    .get()
                    .violations()
                    .subList((int) violationsBefore, (int) checker.get().violationCount()))
            .as("violations reported by checked mode")
            .isEmpty();
        assertThat(blocksBack)
            .as(
                "the engine owns %d blocks after %,d deaths, %d before them (checked mode: an exact count)",
                checker.get().liveBlocks(), DEATHS, blocksBefore)
            .isTrue();
      }
      assertThat(medianExcess)
          .as(
              "C heap growth over a round of %,d deaths beyond as many bare ones, median of %d rounds: %s",
              DEATHS / ROUNDS, ROUNDS, Arrays.toString(excess))
          .isLessThan(HEAP_LIMIT);
    } finally {
      slots.forEach(ThreadLocalSlot::close);
    }
  }

  /**
   * {@code deaths} bare thread deaths (no weave), by {@link #CHURNERS} threads as {@link #churn}
   * does them.
   */
  static void bareChurn(int deaths) throws InterruptedException {
    AtomicInteger next = new AtomicInteger();
    List<Thread> churners = new ArrayList<>();
    for (int i = 0; i < CHURNERS; i++) {
      Thread churner =
          new Thread(
              () -> {
                while (next.getAndIncrement() < deaths) {
                  Thread dying = new Thread(() -> {}, "weave-soak-bare");
                  dying.start();
                  try {
                    dying.join();
                  } catch (InterruptedException e) {
                    return;
                  }
                }
              },
              "weave-soak-bare-churner-" + i);
      churner.start();
      churners.add(churner);
    }
    for (Thread churner : churners) {
      churner.join();
    }
  }

  /** What a churn asked for and got. */
  static final class Tally {
    void add(Tally other) {
      expected += other.expected;
      expectedJava += other.expectedJava;
      expectedNative += other.expectedNative;
      made += other.made;
      lost += other.lost;
      duplicated += other.duplicated;
      unexpected += other.unexpected;
      wrongValue += other.wrongValue;
    }

    long expected;
    long expectedJava;
    long expectedNative;
    long made;
    long lost;
    long duplicated;
    long unexpected;
    long wrongValue;
  }

  /**
   * {@code deaths} thread deaths, by {@link #CHURNERS} threads that each start a thread, join it
   * and start the next; then waits for every destructor and counts.
   */
  static Tally churn(
      DestructorRegistry registry, List<ThreadLocalSlot> slots, int deaths, long seed)
      throws Exception {
    int capacity = deaths * MAX_REGISTRATIONS;
    // one semaphore per registration that may be native; calloc'd, so sem_init only where used
    try (Memory semaphores = new Memory((long) capacity * SEM_BYTES)) {
      semaphores.clear();
      AtomicIntegerArray javaCalls = new AtomicIntegerArray(capacity);
      boolean[] isNative = new boolean[capacity];
      boolean[] kept = new boolean[capacity];
      boolean[] used = new boolean[capacity];
      AtomicLong wrongValue = new AtomicLong();
      AtomicInteger nextDeath = new AtomicInteger();
      AtomicReference<Throwable> failure = new AtomicReference<>();
      long semPost = NativeFixtures.SEM_POST;
      long semBase = Pointer.nativeValue(semaphores);

      Runnable churner =
          () -> {
            int death;
            while ((death = nextDeath.getAndIncrement()) < deaths && failure.get() == null) {
              int first = death * MAX_REGISTRATIONS;
              SplittableRandom random = new SplittableRandom(seed * 1_000_003L + death);
              Thread dying =
                  new Thread(
                      () -> {
                        try {
                          for (int s = 0; s < SLOTS; s += 8) {
                            slots.get(s).set(s); // cells in both chunks, registrations or not
                          }
                          slots.get(SLOTS - 1).set(1);
                          int registrations = random.nextInt(MAX_REGISTRATIONS + 1);
                          for (int r = 0; r < registrations; r++) {
                            int id = first + r;
                            ThreadLocalSlot slot =
                                slots.get(r); // one registration per slot: its own value
                            used[id] = true;
                            kept[id] = true;
                            if (random.nextBoolean()) {
                              isNative[id] = true;
                              long semaphore = semBase + (long) id * SEM_BYTES;
                              SEM_INIT.invokeInt(new Object[] {new Pointer(semaphore), 0, 0});
                              slot.set(semaphore);
                              if (random.nextBoolean()) {
                                registry.registerNative(slot, semPost);
                              } else {
                                registry.registerNative(slot.cellAddress(), semPost);
                              }
                            } else {
                              long token = 0x50A4_0000_0000_0000L | id;
                              slot.set(token);
                              registry.register(
                                  slot,
                                  value -> {
                                    if (value != token) {
                                      wrongValue.incrementAndGet();
                                    }
                                    javaCalls.incrementAndGet(id);
                                  });
                            }
                          }
                          if (registrations > 0 && random.nextInt(4) == 0) {
                            int r = random.nextInt(registrations);
                            kept[first + r] = false;
                            if (!registry.unregister(slots.get(r))) {
                              throw new AssertionError(
                                  "unregister found nothing for registration " + (first + r));
                            }
                          }
                        } catch (Throwable t) {
                          failure.compareAndSet(null, t);
                        }
                      },
                      "weave-soak-dying");
              dying.start();
              try {
                dying.join();
              } catch (InterruptedException e) {
                failure.compareAndSet(null, e);
                return;
              }
            }
          };
      List<Thread> churners = new ArrayList<>();
      for (int i = 0; i < CHURNERS; i++) {
        Thread thread = new Thread(churner, "weave-soak-churner-" + i);
        thread.start();
        churners.add(thread);
      }
      for (Thread thread : churners) {
        thread.join();
      }
      if (failure.get() != null) {
        throw new AssertionError("a dying thread failed: " + failure.get(), failure.get());
      }

      Tally tally = new Tally();
      for (int id = 0; id < capacity; id++) {
        if (kept[id]) {
          tally.expected++;
          if (isNative[id]) {
            tally.expectedNative++;
          } else {
            tally.expectedJava++;
          }
        }
      }
      // Thread.join() may return before a thread's destructors have run: wait for them
      long deadline = System.nanoTime() + TIMEOUT.toNanos();
      int[] calls = new int[capacity];
      while (true) {
        count(calls, used, isNative, javaCalls, semBase);
        long made = 0;
        for (int id = 0; id < capacity; id++) {
          if (kept[id] && calls[id] > 0) {
            made++;
          }
        }
        if (made == tally.expected || System.nanoTime() > deadline) {
          break;
        }
        LockSupport.parkNanos(10_000_000);
      }
      LockSupport.parkNanos(200_000_000); // and a little longer, for any duplicate
      count(calls, used, isNative, javaCalls, semBase);
      for (int id = 0; id < capacity; id++) {
        tally.made += calls[id];
        if (kept[id]) {
          if (calls[id] == 0) {
            tally.lost++;
          } else if (calls[id] > 1) {
            tally.duplicated += calls[id] - 1;
          }
        } else if (calls[id] > 0) {
          tally.unexpected += calls[id];
        }
      }
      tally.wrongValue = wrongValue.get();
      return tally;
    }
  }

  private static void count(
      int[] calls, boolean[] used, boolean[] isNative, AtomicIntegerArray javaCalls, long semBase) {
    Memory value = new Memory(4);
    for (int id = 0; id < calls.length; id++) {
      if (!used[id]) {
        calls[id] = 0;
      } else if (isNative[id]) {
        SEM_GETVALUE.invokeInt(new Object[] {new Pointer(semBase + (long) id * SEM_BYTES), value});
        calls[id] = value.getInt(0);
      } else {
        calls[id] = javaCalls.get(id);
      }
    }
  }

  static int liveThreads() {
    return ManagementFactory.getThreadMXBean().getThreadCount();
  }

  /**
   * @return the live thread count once it is at most {@code baseline}, or after {@link #TIMEOUT}
   */
  static int awaitLiveThreadsAtMost(int baseline) {
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    int live;
    while ((live = liveThreads()) > baseline && System.nanoTime() < deadline) {
      LockSupport.parkNanos(10_000_000);
    }
    return live;
  }

  /**
   * The TCK's rule-10 cases, each with {@code weave.tck.exitRuns} child JVMs (30 in the soak
   * profile).
   */
  static void jvmExit(String backend) {
    long started = System.nanoTime();
    Map<String, TckSelfTest.Outcome> outcomes =
        TckSelfTest.outcomes(TckSelfTest.runTck(backend, "^r10-"));
    System.out.printf(
        "JVM exit %s: %s child JVMs per race, in %,d ms: %s%n",
        backend,
        System.getProperty(WeaveTckTest.EXIT_RUNS, "3"),
        (System.nanoTime() - started) / 1_000_000,
        outcomes.keySet());
    assertThat(outcomes).as("the rule-10 cases").hasSizeGreaterThanOrEqualTo(3);
    assertThat(outcomes)
        .allSatisfy(
            (id, outcome) ->
                assertThat(outcome.status())
                    .as(backend + " / " + id + ": " + outcome.message())
                    .isEqualTo(TestExecutionResult.Status.SUCCESSFUL));
  }
}
