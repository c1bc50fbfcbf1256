package dev.weave.spi;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weave.ThreadLocalSlot;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Checked mode finds each kind of misuse, reports where the block was allocated and freed, and
 * touches nothing; and it finds the faults of engines that misuse memory.
 */
class CheckedPrimitivesTest {
  private final SimulatedPrimitives simulation = new SimulatedPrimitives();
  private final CheckedPrimitives checked = new CheckedPrimitives(simulation);

  private String onlyViolation() {
    assertThat(checked.violations()).hasSize(1);
    assertThat(checked.violationCount()).isEqualTo(1);
    assertThat(simulation.violations()).as("the misuse reached the memory").isEmpty();
    return checked.violations().get(0);
  }

  @Test
  void aReadOfAFreedBlockIsReportedWithWhereItWasAllocatedAndFreed() {
    long block = allocateInAMethodNamedAllocateHere();
    checked.free(block);
    assertThat(checked.getWord(block + 8)).isZero();
    assertThat(onlyViolation())
        .startsWith("read of freed memory at 0x" + Long.toHexString(block + 8))
        .contains("8 bytes into the block of 32 bytes at 0x" + Long.toHexString(block))
        .contains("allocated by thread \"" + Thread.currentThread().getName() + "\"")
        .contains("allocateInAMethodNamedAllocateHere")
        .contains("freed by thread")
        .contains("aReadOfAFreedBlockIsReportedWithWhereItWasAllocatedAndFreed")
        .contains("this access by");
  }

  private long allocateInAMethodNamedAllocateHere() {
    return checked.allocateZeroed(32);
  }

  @Test
  void defect2AReadOfABlockAnotherCheckerFreedIsReportedByTheReader() {
    CheckedPrimitives other = new CheckedPrimitives(simulation);
    long block = other.allocateZeroed(32);
    other.free(block);
    assertThat(checked.getWord(block + 8)).isZero();
    assertThat(onlyViolation())
        .startsWith("read of freed memory at 0x" + Long.toHexString(block + 8))
        .contains("freed by thread");
    assertThat(other.violations()).isEmpty();
  }

  @Test
  void aWriteOfAFreedBlockIsReportedAndNotDone() {
    long block = checked.allocateZeroed(16);
    checked.free(block);
    checked.putWord(block, 42);
    assertThat(onlyViolation()).startsWith("write of freed memory");
  }

  @Test
  void aDoubleFreeIsReportedAndNotDone() {
    long block = checked.allocateZeroed(16);
    checked.free(block);
    checked.free(block);
    assertThat(onlyViolation()).startsWith("double free").contains("freed by");
  }

  @Test
  void aFreeOfMemoryItNeverAllocatedIsReportedAndNotDone() {
    long foreign = simulation.allocateZeroed(16);
    checked.free(foreign);
    assertThat(onlyViolation()).startsWith("free of an address it never allocated");
    long block = checked.allocateZeroed(16);
    checked.free(block + 8);
    assertThat(checked.violations().get(1)).startsWith("free of an address inside a block");
    assertThat(checked.liveBlocks()).isEqualTo(1);
  }

  @Test
  void memoryItNeverAllocatedIsTheUsersAndPassesUnchecked() {
    long variable = simulation.allocateZeroed(8);
    checked.putWord(variable, 7);
    assertThat(checked.getWord(variable)).isEqualTo(7);
    assertThat(checked.violations()).isEmpty();
  }

  @Test
  void aKeyUsedAfterItWasDeletedIsReportedAndNotUsed() {
    long key = checked.createKey(0);
    checked.deleteKey(key);
    checked.setKey(key, 1);
    assertThat(checked.getKey(key)).isZero();
    checked.deleteKey(key);
    assertThat(checked.violations()).hasSize(3);
    assertThat(checked.violations().get(0))
        .startsWith("pthread_setspecific on key " + key + " after it was deleted");
    assertThat(checked.violations().get(2))
        .startsWith("pthread_key_delete on key " + key + " after it was deleted");
    assertThat(simulation.violations()).isEmpty();
  }

  @Test
  void aKeySetToAFreedBlockIsReportedAndNotSet() {
    long key = checked.createKey(0);
    long block = checked.allocateZeroed(16);
    checked.free(block);
    checked.setKey(key, block);
    assertThat(onlyViolation()).startsWith("pthread_setspecific(" + key + ") to freed memory");
    assertThat(checked.getKey(key)).isZero();
  }

  @Test
  void aKeyItNeverCreatedIsReported() {
    checked.getKey(12_345);
    assertThat(onlyViolation())
        .startsWith("pthread_getspecific on key 12345, which this engine never created");
  }

  @Test
  void liveBlocksAndKeysAreExactCounts() throws Exception {
    long first = checked.allocateZeroed(8);
    long second = checked.allocateZeroed(8);
    long key = checked.createKey(0);
    assertThat(checked.liveBlocks()).isEqualTo(2);
    assertThat(checked.liveKeys()).isEqualTo(1);
    assertThat(checked.describeLiveBlocks())
        .hasSize(2)
        .allMatch(text -> text.contains("allocated by"));
    checked.free(first);
    checked.deleteKey(key);
    assertThat(checked.liveBlocks()).isEqualTo(1);
    assertThat(checked.liveKeys()).isZero();
    assertThat(checked.awaitLiveBlocks(0, Duration.ofMillis(1))).isFalse();
    checked.free(second);
    assertThat(checked.awaitLiveBlocks(0, Duration.ofMillis(1))).isTrue();
  }

  @Test
  void freedBlocksGoBackToTheHeapOnlyAfterTheQuarantine() {
    List<Long> blocks = new ArrayList<>();
    for (int i = 0; i <= CheckedPrimitives.QUARANTINE_BLOCKS; i++) {
      blocks.add(checked.allocateZeroed(16));
    }
    blocks.forEach(checked::free);
    assertThat(simulation.liveBlocks()).isEqualTo(CheckedPrimitives.QUARANTINE_BLOCKS);
    assertThat(checked.liveBlocks()).isZero();
    assertThat(checked.violations()).isEmpty();
  }

  @Test
  void noDirectBuffersSoEveryCellAccessIsChecked() {
    long block = checked.allocateZeroed(16);
    assertThat(checked.directBuffer(block, 16)).isNull();
  }

  @Test
  void memoryKeysFreeThroughTheCheckerAtThreadDeath() throws Exception {
    Engine engine = new Engine("checked", checked);
    ThreadLocalSlot slot = engine.newSlot();
    Thread thread = new Thread(() -> slot.set(1));
    thread.start();
    thread.join();
    assertThat(checked.liveBlocks()).isEqualTo(1);
    simulation.die(thread);
    assertThat(checked.liveBlocks()).isZero();
    assertThat(checked.violations()).isEmpty();
  }

  // Engines that misuse memory, made by primitives that misbehave between the engine and the
  // checker.

  @Test
  void anEngineWhoseCellsAreFreedBeforeTheLastDestructorIsReported() throws Exception {
    NativePrimitives freesBeforeTheWalk =
        new BrokenPrimitives(checked) {
          final List<Long> allocated = new ArrayList<>();

          @Override
          public long allocateZeroed(long bytes) {
            long block = super.allocateZeroed(bytes);
            allocated.add(block);
            return block;
          }

          @Override
          public long createKey(ThreadDeathHandler handler) {
            return super.createKey(
                value -> {
                  allocated.forEach(checked::free);
                  handler.threadDied(value);
                });
          }
        };
    Engine engine = new Engine("frees-cells-early", freesBeforeTheWalk);
    ThreadLocalSlot slot = engine.newSlot();
    Thread thread =
        new Thread(
            () -> {
              slot.set(7);
              engine.register(slot, value -> {});
            });
    thread.start();
    thread.join();
    simulation.die(thread);
    assertThat(checked.violations())
        .anyMatch(report -> report.startsWith("read of freed memory"))
        .anyMatch(report -> report.startsWith("double free"));
  }

  @Test
  void anEngineThatFreesAChunkTwiceIsReported() throws Exception {
    Engine engine = new Engine("frees-twice", BrokenPrimitives.freeingTwice(checked));
    ThreadLocalSlot slot = engine.newSlot();
    Thread thread = new Thread(() -> engine.register(slot, value -> {}));
    thread.start();
    thread.join();
    simulation.die(thread);
    assertThat(checked.violations()).anyMatch(report -> report.startsWith("double free"));
  }
}
