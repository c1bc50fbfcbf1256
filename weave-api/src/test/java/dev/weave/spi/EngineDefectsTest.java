package dev.weave.spi;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weave.ThreadLocalSlot;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The defects found by reading the engine as it was at 8330ea9 (issue "memory-safe engine", §3),
 * each shown by a test that failed there, over simulated primitives in checked mode.
 */
class EngineDefectsTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(20);

  private final SimulatedPrimitives simulation = new SimulatedPrimitives();
  private final CheckedPrimitives checked = new CheckedPrimitives(simulation);
  private final Engine engine = new Engine("simulated", checked);
  private final List<Thread> parked = new ArrayList<>();
  private final CountDownLatch unpark = new CountDownLatch(1);

  @AfterEach
  void noViolations() throws InterruptedException {
    simulation.hook = (operation, argument) -> {};
    unpark.countDown();
    for (Thread thread : parked) {
      thread.join();
    }
    assertThat(checked.violations()).isEmpty();
    assertThat(simulation.violations()).isEmpty();
  }

  private static Thread run(Runnable body) throws InterruptedException {
    Thread thread = new Thread(body);
    thread.start();
    thread.join();
    return thread;
  }

  /** Starts a thread that runs {@code body} and then waits until the test ends. */
  private void runAndPark(Runnable body) throws InterruptedException {
    CountDownLatch ran = new CountDownLatch(1);
    Thread thread =
        new Thread(
            () -> {
              body.run();
              ran.countDown();
              await(unpark);
            });
    parked.add(thread);
    thread.start();
    await(ran);
  }

  private static void await(CountDownLatch latch) {
    try {
      if (!latch.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
        throw new AssertionError("timed out after " + TIMEOUT);
      }
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  private static void awaitCondition(String what, BooleanSupplier condition)
      throws InterruptedException {
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what);
      }
      Thread.sleep(1);
    }
  }

  /**
   * Starts a thread that registers on {@code slot}, then holds its own state's monitor until the
   * test ends: a close sweeping it blocks there.
   */
  private void registerAndHoldState(ThreadLocalSlot slot, List<String> ran)
      throws InterruptedException {
    Thread thread =
        new Thread(
            () -> {
              engine.register(slot, value -> ran.add("parked"));
              ThreadState own = engine.currentState();
              synchronized (own) {
                heldState.countDown();
                await(unpark);
              }
            });
    parked.add(thread);
    thread.start();
    await(heldState);
  }

  private final CountDownLatch heldState = new CountDownLatch(1);

  private static void awaitBlocked(Thread thread) throws InterruptedException {
    awaitCondition(
        thread.getName() + " to block or wait",
        () ->
            thread.getState() == Thread.State.BLOCKED
                || thread.getState() == Thread.State.WAITING
                || !thread.isAlive());
  }

  @Test
  void defect1CloseDoesNotReadTheChunksOfAThreadWhoseWalkFreedThem() throws Exception {
    ThreadLocalSlot slot = engine.newSlot();
    List<String> ran = Collections.synchronizedList(new ArrayList<>());
    registerAndHoldState(slot, ran); // armed first: swept first
    long[] cell = new long[1];
    Thread dying =
        run(
            () -> {
              engine.register(slot, value -> ran.add("dying"));
              cell[0] = slot.cellAddress();
            });
    long chunk = cell[0] - Chunks.cellOffset(((Slot) slot).index);
    long record =
        simulation.keyValues(dying).values().stream()
            .filter(value -> value >= 0x10000) // an address, not the identity key's token
            .filter(value -> engine.ledger().armedAt(value) != null)
            .findFirst()
            .orElseThrow();

    // The closer copies the armed threads, then blocks on the parked one's state...
    Thread closer = new Thread(slot::close, "closer");
    List<Long> closerReads = Collections.synchronizedList(new ArrayList<>());
    simulation.hook =
        (op, argument) -> {
          if (Thread.currentThread() == closer) {
            closerReads.add(argument);
          }
        };
    closer.start();
    awaitBlocked(closer);

    // ...while the other thread dies, its walk freeing its chunks...
    simulation.die(dying);
    assertThat(ran).isSubsetOf("dying"); // close had begun and not returned: run or dropped

    // ...and then sweeps the dead thread: it must not read the freed chunk.
    unpark.countDown();
    closer.join();
    // It reads the parked thread's record, which the engine frees under the state's monitor only.
    assertThat(closerReads)
        .as("the dead thread's memory read by close()")
        .noneMatch(address -> address >= chunk && address < chunk + Chunks.bytesOf(0))
        .noneMatch(address -> address >= record && address < record + Record.BYTES);
    assertThat(checked.liveBlocks()).isEqualTo(2); // the parked thread's chunk and record
  }

  @Test
  void defect2AThreadStillAttachedAtExitRegistersAgainFromALaterKeyDestructor() throws Exception {
    ThreadLocalSlot slot = engine.newSlot();
    List<String> ran = Collections.synchronizedList(new ArrayList<>());
    run(
        () -> {
          slot.set(1);
          engine.register(slot, value -> ran.add("first " + value));
          // Another library's key, made after weave's: its destructor comes later in glibc's pass.
          long later =
              simulation.createKey(
                  (ThreadDeathHandler)
                      value -> {
                        slot.set(2);
                        engine.register(slot, v -> ran.add("later " + v));
                      });
          simulation.setKey(later, 1);
          simulation.exitWhileAttached();
        });
    assertThat(ran).containsExactly("first 1", "later 2");
    assertThat(checked.liveBlocks()).isZero();
    assertThat(engine.threadsWithRegistrations()).isZero();
  }

  @Test
  void defect3AnotherEnginesCellIsRefusedAsAVariable() throws Exception {
    Engine other = new Engine("other", new CheckedPrimitives(simulation));
    ThreadLocalSlot slot = other.newSlot();
    AtomicReference<Throwable> refused = new AtomicReference<>();
    run(
        () -> {
          long cell = slot.cellAddress();
          try {
            engine.registerNative(cell, 0xabc);
          } catch (Throwable t) {
            refused.set(t);
          }
          other.registerNative(cell, 0xabc); // its own engine takes it
        });
    assertThat(refused.get())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("cell of a slot of the other backend")
        .hasMessageContaining("Weave.registry(\"other\")");
    assertThat(engine.threadsWithRegistrations()).isZero();
  }

  @Test
  void defect4ASecondCloseReturnsOnlyWhenTheFirstHasDroppedEverything() throws Exception {
    ThreadLocalSlot slot = engine.newSlot();
    List<String> ran = Collections.synchronizedList(new ArrayList<>());
    registerAndHoldState(slot, ran);

    Thread first = new Thread(slot::close, "first closer");
    first.start();
    awaitBlocked(first); // in the sweep, before the registration is dropped

    Thread second = new Thread(slot::close, "second closer");
    second.start();
    awaitBlocked(second);
    assertThat(second.isAlive())
        .as("the second close returned while the first was still dropping")
        .isTrue();

    unpark.countDown();
    first.join();
    second.join();
    for (Thread thread : parked) {
      thread.join();
      simulation.die(thread);
    }
    assertThat(ran).isEmpty();
  }

  /**
   * Found by the interleaving harness: a walk had taken a registration, close() found none and
   * returned.
   */
  @Test
  void closeReturnsOnlyAfterADestructorTheWalkHasAlreadyTaken() throws Exception {
    ThreadLocalSlot slot = engine.newSlot();
    List<String> events = Collections.synchronizedList(new ArrayList<>());
    AtomicLong cell = new AtomicLong();
    Thread owner =
        run(
            () -> {
              slot.set(7);
              cell.set(slot.cellAddress());
              engine.register(slot, value -> events.add("destructor ran"));
            });
    AtomicReference<Thread> walker = new AtomicReference<>();
    CountDownLatch paused = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    simulation.hook =
        (op, argument) -> {
          if (op.equals("getWord")
              && argument == cell.get()
              && Thread.currentThread().getName().startsWith("re-attached")) {
            walker.set(Thread.currentThread());
            paused.countDown();
            await(release); // the walk has taken the registration and reads its value
          }
        };
    Thread death =
        new Thread(
            () -> {
              try {
                simulation.die(owner);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            });
    death.start();
    await(paused);
    Thread closer =
        new Thread(
            () -> {
              slot.close();
              events.add("close returned");
            });
    closer.start();
    awaitCondition(
        "close to wait for the running destructor, or to return",
        () -> closer.getState() == Thread.State.WAITING || !closer.isAlive());
    assertThat(closer.isAlive())
        .as("close returned while a destructor on its slot was about to start")
        .isTrue();
    release.countDown();
    closer.join();
    death.join();
    assertThat(events).containsExactly("destructor ran", "close returned");
  }

  @Test
  void aDestructorThatClosesItsOwnSlotDoesNotWaitForAnotherCloserWaitingForIt() throws Exception {
    ThreadLocalSlot slot = engine.newSlot();
    List<String> events = Collections.synchronizedList(new ArrayList<>());
    AtomicLong cell = new AtomicLong();
    Thread owner =
        run(
            () -> {
              slot.set(7);
              cell.set(slot.cellAddress());
              engine.register(
                  slot,
                  value -> {
                    slot.close();
                    events.add("destructor closed its slot");
                  });
            });
    CountDownLatch paused = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    simulation.hook =
        (op, argument) -> {
          if (op.equals("getWord")
              && argument == cell.get()
              && Thread.currentThread().getName().startsWith("re-attached")
              && paused.getCount() > 0) {
            paused.countDown();
            await(release);
          }
        };
    Thread death =
        new Thread(
            () -> {
              try {
                simulation.die(owner);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            });
    death.start();
    await(paused);
    Thread closer = new Thread(slot::close);
    closer.start();
    awaitCondition(
        "the other close to wait for the destructor",
        () -> closer.getState() == Thread.State.WAITING);
    release.countDown();
    closer.join(TIMEOUT.toMillis());
    death.join(TIMEOUT.toMillis());
    assertThat(closer.isAlive() || death.isAlive()).as("deadlock between the two closes").isFalse();
    assertThat(events).containsExactly("destructor closed its slot");
  }

  @Test
  void defect5AFailingLoggerDoesNotEndTheWalk() throws Exception {
    Logger logger = Logger.getLogger("dev.weave");
    Handler throwing =
        new Handler() {
          @Override
          public void publish(LogRecord record) {
            throw new IllegalStateException("the logger is broken");
          }

          @Override
          public void flush() {}

          @Override
          public void close() {}
        };
    boolean parentHandlers = logger.getUseParentHandlers();
    logger.addHandler(throwing);
    logger.setUseParentHandlers(false);
    try {
      ThreadLocalSlot slot = engine.newSlot();
      AtomicLong ran = new AtomicLong();
      Thread thread =
          run(
              () -> {
                engine.register(
                    slot,
                    value -> {
                      throw new RuntimeException() {
                        @Override
                        public String getMessage() {
                          throw new IllegalStateException("so is this exception");
                        }
                      };
                    });
                engine.register(slot, value -> ran.incrementAndGet());
              });
      simulation.die(thread);
      assertThat(ran).hasValue(1);
      assertThat(checked.liveBlocks()).isZero();
    } finally {
      logger.removeHandler(throwing);
      logger.setUseParentHandlers(parentHandlers);
    }
  }

  @Test
  void defect6AChunkIsNotLeakedWhenItsKeyCannotBeSet() throws Exception {
    ThreadLocalSlot slot = engine.newSlot();
    simulation.hook = failing("setKey");
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread thread =
        run(
            () -> {
              try {
                slot.set(1);
              } catch (Throwable t) {
                failure.set(t);
              }
              simulation.hook = (operation, argument) -> {};
              slot.set(2);
            });
    assertThat(failure.get()).hasMessageContaining("pthread_setspecific failed");
    assertThat(checked.liveBlocks()).isEqualTo(1);
    simulation.die(thread);
    assertThat(checked.liveBlocks()).isZero();
  }

  @Test
  void defect6ARegistrationThatCannotSetTheWalkerKeyLeavesNothingArmed() throws Exception {
    ThreadLocalSlot slot = engine.newSlot();
    List<String> ran = Collections.synchronizedList(new ArrayList<>());
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread thread =
        run(
            () -> {
              slot.set(1);
              simulation.hook = failing("setKey");
              try {
                engine.register(slot, value -> ran.add("ran"));
              } catch (Throwable t) {
                failure.set(t);
              }
              simulation.hook = (operation, argument) -> {};
            });
    assertThat(failure.get()).hasMessageContaining("pthread_setspecific failed");
    assertThat(engine.threadsWithRegistrations()).isZero();
    simulation.die(thread);
    assertThat(ran).isEmpty();
    assertThat(checked.liveBlocks()).isZero();
  }

  private static SimulatedPrimitives.Hook failing(String operation) {
    return (op, argument) -> {
      if (op.equals(operation)) {
        throw new IllegalStateException(
            op + " failed: pthread_setspecific failed with ENOMEM (simulated)");
      }
    };
  }

  @Test
  void defect8AUserLockingTheRegistryDoesNotStallDyingThreads() throws Exception {
    ThreadLocalSlot slot = engine.newSlot();
    CountDownLatch ran = new CountDownLatch(1);
    Thread thread = run(() -> engine.register(slot, value -> ran.countDown()));
    synchronized (engine) {
      Thread death =
          new Thread(
              () -> {
                try {
                  simulation.die(thread);
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              });
      death.start();
      death.join(TIMEOUT.toMillis());
      assertThat(death.isAlive())
          .as("a thread's death waited for a lock a user held on the registry")
          .isFalse();
    }
    await(ran);
  }

  @Test
  void checkedModeCountsEveryBlockBackToZero() throws Exception {
    List<ThreadLocalSlot> slots = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      slots.add(engine.newSlot());
    }
    long before = checked.liveBlocks();
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      boolean registers = i % 2 == 0;
      threads.add(
          run(
              () -> {
                slots.forEach(slot -> slot.set(1));
                if (registers) {
                  engine.registerNative(slots.get(199), 0xabc);
                }
              }));
    }
    // 64 + 128 + 256 cells each, and a record of registrations on every other one
    assertThat(checked.liveBlocks()).isEqualTo(before + 10 * 3 + 5);
    for (Thread thread : threads) {
      simulation.die(thread);
    }
    assertThat(checked.awaitLiveBlocks(before, TIMEOUT)).isTrue();
    assertThat(simulation.nativeCalls()).hasSize(5);
  }
}
