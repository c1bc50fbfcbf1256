package dev.weave.jna;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/** The primitives on their own, below the engine. */
class JnaPrimitivesTest {
  private static final int WORDS = 16;
  private final JnaPrimitives primitives = new JnaPrimitives();

  /**
   * Issue 13 §3: the engine may read and write cells through the view instead of getWord/putWord.
   */
  @Test
  void aDirectBufferViewReadsAndWritesTheSameWordsAsGetWordAndPutWord() {
    long memory = primitives.allocateZeroed(WORDS * Long.BYTES);
    try {
      ByteBuffer view =
          primitives.directBuffer(memory, WORDS * Long.BYTES).order(ByteOrder.nativeOrder());
      assertTrue(view.isDirect());
      assertEquals(WORDS * Long.BYTES, view.capacity());
      for (int i = 0; i < WORDS; i++) {
        assertEquals(0, view.getLong(i * Long.BYTES), "calloc'd word " + i);
        primitives.putWord(memory + i * Long.BYTES, word(i));
      }
      for (int i = 0; i < WORDS; i++) {
        assertEquals(word(i), view.getLong(i * Long.BYTES), "word " + i + " written with putWord");
        view.putLong(i * Long.BYTES, ~word(i));
      }
      for (int i = 0; i < WORDS; i++) {
        assertEquals(
            ~word(i),
            primitives.getWord(memory + i * Long.BYTES),
            "word " + i + " written through the view");
      }
      ByteBuffer second =
          primitives.directBuffer(memory + Long.BYTES, Long.BYTES).order(ByteOrder.nativeOrder());
      assertEquals(~word(1), second.getLong(0), "a view at an offset");
    } finally {
      primitives.free(memory); // the views own nothing: this is the only free
    }
  }

  @Test
  void aDirectBufferOfNothingOrAtNullIsRefused() {
    assertThrows(IllegalArgumentException.class, () -> primitives.directBuffer(0, 8));
    long memory = primitives.allocateZeroed(8);
    try {
      assertThrows(IllegalArgumentException.class, () -> primitives.directBuffer(memory, -1));
      assertEquals(0, primitives.directBuffer(memory, 0).capacity());
    } finally {
      primitives.free(memory);
    }
  }

  private static long word(int i) {
    return 0x0123_4567_89ab_cdefL * (i + 1);
  }

  /**
   * Issue 18: keys travel as long and are narrowed only by the platform's width; a key that does
   * not fit glibc's 4-byte {@code pthread_key_t} is refused, not cut to one that does.
   */
  @Test
  void aKeyWiderThanThePlatformsPthreadKeyIsRefusedNotTruncated() {
    long key = primitives.createKey(0);
    try {
      primitives.setKey(key, 42);
      long wide = key | (1L << 32);
      assertThrows(IllegalArgumentException.class, () -> primitives.getKey(wide));
      assertThrows(IllegalArgumentException.class, () -> primitives.setKey(wide, 7));
      assertThrows(IllegalArgumentException.class, () -> primitives.deleteKey(wide));
      assertEquals(42, primitives.getKey(key));
      primitives.setKey(key, 0);
    } finally {
      primitives.deleteKey(key);
    }
  }
}
