package dev.weave.spi;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Chunk arithmetic: every index has one cell, chunks double, the last index fits. */
class ChunksTest {
  @Test
  void chunksDoubleAndFollowEachOther() {
    assertThat(Chunks.chunkOf(0)).isZero();
    assertThat(Chunks.chunkOf(63)).isZero();
    assertThat(Chunks.chunkOf(64)).isEqualTo(1);
    assertThat(Chunks.chunkOf(191)).isEqualTo(1);
    assertThat(Chunks.chunkOf(192)).isEqualTo(2);
    for (int chunk = 0; chunk < Chunks.MAX_CHUNKS - 1; chunk++) {
      assertThat(Chunks.firstIndex(chunk + 1))
          .isEqualTo(Chunks.firstIndex(chunk) + Chunks.cellsIn(chunk));
      assertThat(Chunks.chunkOf(Chunks.firstIndex(chunk))).isEqualTo(chunk);
      assertThat(Chunks.chunkOf(Chunks.firstIndex(chunk + 1) - 1)).isEqualTo(chunk);
    }
  }

  @Test
  void theCapacityIsWhatTheChunksHold() {
    int last = Chunks.CAPACITY - 1;
    assertThat(Chunks.CAPACITY).isEqualTo(64 * ((1 << 24) - 1));
    assertThat(Chunks.chunkOf(last)).isEqualTo(Chunks.MAX_CHUNKS - 1);
    assertThat(Chunks.cellOffset(last))
        .isEqualTo((Chunks.cellsIn(Chunks.MAX_CHUNKS - 1) - 1L) * Long.BYTES);
    assertThat(Chunks.ownerOffset(last) + Long.BYTES)
        .isEqualTo(Chunks.bytesOf(Chunks.MAX_CHUNKS - 1));
  }

  @Test
  void ownerWordsFollowTheCells() {
    assertThat(Chunks.cellOffset(65)).isEqualTo(8);
    assertThat(Chunks.ownerOffset(65)).isEqualTo((128 + 1) * 8L);
    assertThat(Chunks.bytesOf(1)).isEqualTo(2 * 128 * 8L);
  }
}
