package dev.weave.spi;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weave.ThreadLocalSlot;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.logging.Level;
import org.junit.jupiter.api.Test;

/**
 * The engine with its native walker, played step by step in Java ({@link SimulatedWalker}): what
 * the walk runs itself and what it calls Java for, who frees what, checked mode, shutdown, and the
 * fallback to the Java walker when the walker cannot start.
 */
class NativeWalkerTest {
  private final SimulatedPrimitives simulation = new SimulatedPrimitives().withNativeWalker();
  private final List<Thread> hooks = new ArrayList<>();
  private final Seam seam =
      Seam.NONE.startedByJava(simulation::startedByJava).addShutdownHook(hooks::add);

  private Thread run(Runnable body) throws InterruptedException {
    Thread thread = new Thread(body);
    thread.start();
    thread.join();
    return thread;
  }

  @Test
  void theNativeWalkerRunsNativeDestructorsAndFreesTheCellsThenTheEngineTheRecord()
      throws Exception {
    Engine engine = new Engine("native", simulation, seam);
    assertThat(engine.walker().isNative()).as(engine.walker().toString()).isTrue();
    ThreadLocalSlot slot = engine.newSlot();
    long blocksBefore = simulation.liveBlocks(); // the walker's configuration among them
    Thread thread =
        run(
            () -> {
              slot.set(7);
              engine.registerNative(slot, 0xabc);
              engine.registerNative(slot, 0xdef);
            });
    assertThat(simulation.liveBlocks()).isEqualTo(blocksBefore + 2); // its chunk and its record
    simulation.die(thread);
    assertThat(simulation.nativeCalls()).containsExactly("abc(7)", "def(7)");
    assertThat(simulation.liveBlocks())
        .as("the walk freed the chunk; the record waits for the engine")
        .isEqualTo(blocksBefore + 1);
    assertThat(engine.threadsWithRegistrations()).isZero(); // it takes the walked records first
    assertThat(simulation.liveBlocks()).isEqualTo(blocksBefore);
    assertThat(simulation.violations()).isEmpty();
  }

  /**
   * With the native walker a state whose last registration is unregistered stays armed: its next
   * registration arms nothing (no block allocated, no key set), and its death walks the empty
   * record in C, which runs nothing and frees everything.
   */
  @Test
  void aStateEmptiedByUnregisterStaysArmedAndItsDeathRunsNothingAndFreesAll() throws Exception {
    Engine engine = new Engine("native", simulation, seam);
    ThreadLocalSlot slot = engine.newSlot();
    long blocksBefore = simulation.liveBlocks();
    List<Long> blocksWhileAlive = Collections.synchronizedList(new ArrayList<>());
    Thread thread =
        run(
            () -> {
              slot.set(7);
              engine.registerNative(slot, 0xabc);
              engine.unregister(slot);
              blocksWhileAlive.add((long) simulation.liveBlocks());
              engine.registerNative(slot, 0xdef);
              engine.unregister(slot);
              blocksWhileAlive.add((long) simulation.liveBlocks());
            });
    assertThat(blocksWhileAlive)
        .as("its chunk and its record, kept")
        .containsExactly(blocksBefore + 2, blocksBefore + 2);
    assertThat(engine.threadsWithRegistrations()).isZero();
    simulation.die(thread);
    assertThat(simulation.nativeCalls()).isEmpty();
    assertThat(engine.threadsWithRegistrations()).isZero(); // it takes the walked records first
    assertThat(simulation.liveBlocks()).isEqualTo(blocksBefore);
    assertThat(simulation.violations()).isEmpty();
  }

  @Test
  void aJavaDestructorRunsThroughTheCallbackWithTheDyingThreadsStateBound() throws Exception {
    Engine engine = new Engine("native", simulation, seam);
    ThreadLocalSlot slot = engine.newSlot();
    ThreadLocalSlot other = engine.newSlot();
    List<String> calls = Collections.synchronizedList(new ArrayList<>());
    Thread thread =
        run(
            () -> {
              slot.set(7);
              engine.registerNative(slot, 0xabc);
              engine.register(
                  slot,
                  value -> {
                    calls.add("java " + value + ", reads " + slot.get());
                    other.set(9);
                    engine.register(other, later -> calls.add("next round " + later));
                    engine.registerNative(other, 0xdef);
                  });
            });
    simulation.die(thread);
    assertThat(calls).containsExactly("java 7, reads 7", "next round 9");
    assertThat(simulation.nativeCalls()).containsExactly("abc(7)", "def(9)");
    assertThat(engine.threadsWithRegistrations()).isZero();
    assertThat(simulation.violations()).isEmpty();
  }

  @Test
  void inCheckedModeTheEngineFreesTheCellsOfAWalkedThreadAndEveryCountComesBack() throws Exception {
    CheckedPrimitives checked = new CheckedPrimitives(simulation);
    Engine engine = new Engine("native-checked", checked, seam);
    assertThat(engine.walker().isNative()).isTrue();
    ThreadLocalSlot slot = engine.newSlot();
    long before = checked.liveBlocks();
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      threads.add(
          run(
              () -> {
                slot.set(3);
                engine.registerNative(slot, 0xabc);
                engine.register(slot, value -> {});
              }));
    }
    assertThat(checked.liveBlocks()).isEqualTo(before + 5 * 2); // a chunk and a record each
    int simulated = simulation.liveBlocks();
    for (Thread thread : threads) {
      simulation.die(thread);
    }
    assertThat(simulation.liveBlocks())
        .as("the walk frees nothing in checked mode: the checker must see every free")
        .isEqualTo(simulated);
    assertThat(checked.awaitLiveBlocks(before, Duration.ofSeconds(20))).isTrue();
    assertThat(checked.violations()).isEmpty();
    assertThat(simulation.nativeCalls()).hasSize(5);
  }

  @Test
  void onceShutdownBeganADyingThreadRunsNothing() throws Exception {
    Engine engine = new Engine("native", simulation, seam);
    ThreadLocalSlot slot = engine.newSlot();
    Thread thread = run(() -> engine.registerNative(slot, 0xabc));
    hooks.get(0).run();
    simulation.dieOnCallingThread(thread); // the key is deleted: as if glibc called it anyway
    assertThat(simulation.nativeCalls()).isEmpty();
  }

  @Test
  void aWalkerThatCannotStartLeavesTheJavaWalkerSayingWhyInOneDebugLine() throws Exception {
    NativePrimitives noCallbacks =
        new BrokenPrimitives(simulation) {
          @Override
          public java.util.Optional<SharedLibrary.Loader> libraryLoader() {
            return simulation.libraryLoader();
          }
        };
    try (CapturedLog log = new CapturedLog()) {
      Engine engine = new Engine("no-callbacks", noCallbacks, seam);
      assertThat(engine.walker().isNative()).isFalse();
      assertThat(engine.walker().javaWalkerReason().orElseThrow())
          .startsWith("starting it failed: UnsupportedOperationException: ")
          .contains("makes no callback function");
      assertThat(log.messages(Level.FINE))
          .filteredOn(line -> line.startsWith("weave no-callbacks: "))
          .containsExactly("weave no-callbacks: " + engine.walker());
      ThreadLocalSlot slot = engine.newSlot();
      Thread thread = run(() -> engine.registerNative(slot, 0xabc));
      simulation.die(thread);
      assertThat(simulation.nativeCalls()).containsExactly("abc(0)");
    }
  }
}
