package dev.weave.verification;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
import java.util.function.IntFunction;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
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
 *       where it was; the C heap ({@code mallinfo2}) must grow by less than {@value
 *       #HEAP_LIMIT_PER_DEATH} bytes a death more over a round of weave deaths than over the round
 *       of as many bare deaths just before it, in the median of 200 such pairs; and where the
 *       engine runs in checked mode ({@code -Dweave.checked=true}), it must own exactly the blocks
 *       it owned before, with no violation reported. {@link #heapCheckCatchesAnFfiLeak()} checks
 *       that the heap check fails on a backend whose FFI side leaks at each death.
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

  /**
   * Deaths in a round. The JVM moves the C heap by megabytes at a time (the JIT's arenas above
   * all), at moments that load shifts, and a round it falls in is off by that much whichever way:
   * short rounds keep the share of rounds it hits small, so that the median pair is a quiet one.
   * Measured with two busy processes beside the soak on 2 cores: pairs of rounds of 500 deaths were
   * off by more than the limit, one way or the other, in 45 to 52% of pairs (rounds of 2,000 made
   * the median flip in CI); pairs of rounds of 100, in 27% at most, mostly while the JIT still
   * compiled.
   */
  static final int ROUND = 100;

  /** Pairs of rounds that warm up (the JIT, the backend's helper threads, glibc's arenas). */
  static final int WARM_UP_PAIRS = 10;

  /**
   * How much more the C heap may grow over a weave death than over a bare one, in the median pair
   * of rounds: half of 1 KiB, so that a binding that loses 1 KiB a death fails with room to spare.
   * A thread's cells and owner words take 3 KiB here. Medians measured with two busy processes
   * beside the soak, 7 runs: +71 bytes a death at most (ffm; jna and jnr +16), upper quartiles up
   * to +170; the FFI leak of {@link #heapCheckCatchesAnFfiLeak()}, +3,567 at least.
   */
  static final long HEAP_LIMIT_PER_DEATH = 512;

  /** The broken backend whose FFI side loses 3 KiB at each death, which only the C heap shows. */
  static final String FFI_LEAK = "broken-ffi-leaks-per-death";

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

  /**
   * The heap check fails on a backend whose FFI side loses 3 KiB at each death, outside the
   * engine's primitives, so that checked mode's exact count of blocks cannot see it.
   */
  @Test
  void heapCheckCatchesAnFfiLeak() {
    NativeFixtures.assumeGlibc("mallinfo2");
    assertThatThrownBy(() -> soak(FFI_LEAK, 20 * ROUND))
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("the C heap grew by")
        .hasMessageContaining("bytes a death more");
  }

  static void soak(String backend) throws Exception {
    soak(backend, DEATHS);
  }

  /**
   * The soak on {@code backend}: {@code deaths} weave deaths in rounds of {@link #ROUND}, each
   * after a round of as many bare ones, after {@link #WARM_UP_PAIRS} such pairs.
   */
  static void soak(String backend, int deaths) throws Exception {
    DestructorRegistry registry = Weave.registry(backend);
    int pairs = deaths / ROUND;
    List<ThreadLocalSlot> slots = new ArrayList<>();
    for (int i = 0; i < SLOTS; i++) {
      slots.add(registry.newSlot());
    }
    try {
      for (int pair = 0; pair < WARM_UP_PAIRS; pair++) {
        bareChurn(ROUND);
        churn(registry, slots, ROUND, -1 - pair);
      }
      Optional<CheckedPrimitives> checker =
          registry instanceof Engine engine ? engine.checked() : Optional.empty();
      long blocksBefore = checker.map(CheckedPrimitives::liveBlocks).orElse(0L);
      long violationsBefore = checker.map(CheckedPrimitives::violationCount).orElse(0L);
      int threadsBefore = liveThreads();
      long started = System.nanoTime();
      Tally tally = new Tally();
      long[] excessPerDeath = new long[pairs];
      long heap = NativeFixtures.heapInUse();
      for (int pair = 0; pair < pairs; pair++) {
        long start = heap;
        bareChurn(ROUND);
        long middle = NativeFixtures.heapInUse();
        tally.add(churn(registry, slots, ROUND, pair));
        heap = NativeFixtures.heapInUse();
        excessPerDeath[pair] = Math.floorDiv((heap - middle) - (middle - start), ROUND);
      }
      long millis = (System.nanoTime() - started) / 1_000_000;
      int threadsAfter = awaitLiveThreadsAtMost(threadsBefore);
      boolean blocksBack =
          checker.isEmpty() || checker.get().awaitLiveBlocks(blocksBefore, TIMEOUT);
      long[] sorted = excessPerDeath.clone();
      Arrays.sort(sorted);
      long median = sorted[pairs / 2];
      String heapFigures =
          String.format(
              "%+,d bytes a death in the median of %d pairs of rounds of %d deaths (quartiles %+,d"
                  + " and %+,d, least %+,d, most %+,d)",
              median,
              pairs,
              ROUND,
              sorted[pairs / 4],
              sorted[pairs * 3 / 4],
              sorted[0],
              sorted[pairs - 1]);
      System.out.printf(
          "soak %s: %,d deaths by %d threads in %,d ms; destructor calls expected %,d (java %,d,"
              + " native %,d), made %,d, lost %d, duplicated %d, unregistered but run %d, wrong"
              + " value %d; live threads %d before, %d after; C heap growth beyond bare deaths:"
              + " %s%n",
          backend,
          pairs * ROUND,
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
          heapFigures);
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
                checker.get().liveBlocks(), deaths, blocksBefore)
            .isTrue();
      }
      assertThat(median)
          .as(
              "%s: the C heap grew by %,d bytes a death more over weave deaths than over the bare"
                  + " deaths just before them, in the median pair of rounds: a leak; %s",
              backend, median, heapFigures)
          .isLessThan(HEAP_LIMIT_PER_DEATH);
    } finally {
      slots.forEach(ThreadLocalSlot::close);
    }
  }

  /**
   * {@code deaths} thread deaths, by {@link #CHURNERS} threads that each start a thread, join it
   * and start the next; each dying thread runs {@code body.apply(death)}. Returns once every one of
   * these threads, churners included, has exited (its OS thread is gone, so every destructor it
   * will ever run has run, and glibc has taken back its thread cache), and rethrows what a body
   * threw.
   */
  static void deaths(int deaths, IntFunction<Runnable> body) throws InterruptedException {
    AtomicInteger nextDeath = new AtomicInteger();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    long[] osThreads = new long[deaths + CHURNERS];
    Runnable churnerBody =
        () -> {
          int death;
          while ((death = nextDeath.getAndIncrement()) < deaths && failure.get() == null) {
            int id = death;
            Runnable work = body.apply(id);
            Thread dying =
                new Thread(
                    () -> {
                      try {
                        osThreads[id] = NativeFixtures.osThreadId();
                        work.run();
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
      int index = deaths + i;
      Thread churner =
          new Thread(
              () -> {
                osThreads[index] = NativeFixtures.osThreadId();
                churnerBody.run();
              },
              "weave-soak-churner-" + i);
      churner.start();
      churners.add(churner);
    }
    for (Thread churner : churners) {
      churner.join();
    }
    if (failure.get() != null) {
      throw new AssertionError("a dying thread failed: " + failure.get(), failure.get());
    }
    for (long osThread : osThreads) {
      if (osThread != 0 && !NativeFixtures.awaitThreadExit(osThread, TIMEOUT)) {
        throw new AssertionError(
            "OS thread " + osThread + " has not exited " + TIMEOUT + " after its join");
      }
    }
  }

  /** {@code deaths} bare thread deaths (no weave), by {@link #CHURNERS} threads. */
  static void bareChurn(int deaths) throws InterruptedException {
    deaths(deaths, death -> () -> {});
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
   * {@code deaths} thread deaths with registrations, by {@link #CHURNERS} threads (see {@link
   * #deaths}), and the count of the destructor calls they made.
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
      long semPost = NativeFixtures.SEM_POST;
      long semBase = Pointer.nativeValue(semaphores);
      deaths(
          deaths,
          death ->
              () -> {
                int first = death * MAX_REGISTRATIONS;
                SplittableRandom random = new SplittableRandom(seed * 1_000_003L + death);
                for (int s = 0; s < SLOTS; s += 8) {
                  slots.get(s).set(s); // cells in both chunks, registrations or not
                }
                slots.get(SLOTS - 1).set(1);
                int registrations = random.nextInt(MAX_REGISTRATIONS + 1);
                for (int r = 0; r < registrations; r++) {
                  int id = first + r;
                  ThreadLocalSlot slot = slots.get(r); // one registration per slot: its own value
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
              });
      // every dying thread has exited: each destructor it will ever run has run
      Tally tally = new Tally();
      try (Memory value = new Memory(4)) {
        for (int id = 0; id < capacity; id++) {
          int calls = 0;
          if (used[id] && isNative[id]) {
            SEM_GETVALUE.invokeInt(
                new Object[] {new Pointer(semBase + (long) id * SEM_BYTES), value});
            calls = value.getInt(0);
          } else if (used[id]) {
            calls = javaCalls.get(id);
          }
          tally.made += calls;
          if (kept[id]) {
            tally.expected++;
            if (isNative[id]) {
              tally.expectedNative++;
            } else {
              tally.expectedJava++;
            }
            if (calls == 0) {
              tally.lost++;
            } else if (calls > 1) {
              tally.duplicated += calls - 1;
            }
          } else if (calls > 0) {
            tally.unexpected += calls;
          }
        }
      }
      tally.wrongValue = wrongValue.get();
      return tally;
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
