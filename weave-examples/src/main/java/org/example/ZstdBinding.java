package org.example;

/**
 * The libzstd calls {@link ZstdContexts} makes, and glibc's heap figure, as one FFI binds them:
 * {@link ZstdFfm} (FFM, Java 22+) and {@link ZstdJna} (JNA, Java 17+). Pointers are addresses.
 */
interface ZstdBinding {
  /**
   * @return the FFI and libzstd's version, for the first line printed
   */
  String describe();

  /**
   * {@code ZSTD_createCCtx()}.
   *
   * @throws OutOfMemoryError if it returns NULL
   */
  long createCCtx();

  /**
   * The address of {@code size_t ZSTD_freeCCtx(ZSTD_CCtx*)}, which weave calls as a {@code void
   * (*)(void*)}: the size_t it returns is left in a register that nothing reads. It takes NULL too
   * (a slot's 0).
   */
  long freeCCtxFunction();

  /**
   * Compresses {@code input} with {@code ZSTD_compressCCtx} at {@code level}.
   *
   * @return the compressed size
   * @throws IllegalStateException with zstd's error name, if it fails
   */
  long compress(long cctx, byte[] input, int level);

  /**
   * @return {@code ZSTD_sizeof_CCtx(cctx)}: the bytes the context holds
   */
  long sizeOf(long cctx);

  /**
   * @return the bytes malloc has handed out and not had back, in every arena and in mmap'd blocks:
   *     {@code uordblks + hblkhd} of glibc's {@code mallinfo2()}
   */
  long heapInUse();
}
