package org.example;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;

/**
 * A zstd compression context per pool thread ({@link ZstdContexts}), with libzstd and glibc bound
 * through JNA (Java 17+).
 *
 * <p>Needs {@code libzstd.so.1} (Debian and Ubuntu: package {@code libzstd1}). Run, optionally with
 * the number of pool threads as {@code -Dexample.args=N} (default 2,000), and with weave's own JNA
 * backend as a JNA user would take it: {@code mvn -B -q -Pexample -Dexample=ZstdJna
 * -Dweave.backend=jna -pl weave-examples -am -DskipTests verify}
 */
public final class ZstdJna implements ZstdBinding {
  /** libzstd's calls, mapped by JNA; {@code size_t} is a {@code long} on 64-bit Linux. */
  public interface Zstd extends Library {
    Pointer ZSTD_createCCtx();

    long ZSTD_sizeof_CCtx(Pointer cctx);

    long ZSTD_compressBound(long srcSize);

    long ZSTD_compressCCtx(
        Pointer cctx, byte[] dst, long dstCapacity, byte[] src, long srcSize, int compressionLevel);

    int ZSTD_isError(long code);

    String ZSTD_getErrorName(long code);

    String ZSTD_versionString();
  }

  private static final String LIBRARY = "libzstd.so.1";
  private static final Zstd ZSTD = Native.load(LIBRARY, Zstd.class);
  private static final long FREE_CCTX =
      Pointer.nativeValue(NativeLibrary.getInstance(LIBRARY).getFunction("ZSTD_freeCCtx"));

  public static void main(String[] args) throws Exception {
    ZstdContexts.main(new ZstdJna(), args, false);
  }

  @Override
  public String describe() {
    return "libzstd " + ZSTD.ZSTD_versionString() + " through JNA";
  }

  @Override
  public long createCCtx() {
    long cctx = Pointer.nativeValue(ZSTD.ZSTD_createCCtx());
    if (cctx == 0) {
      throw new OutOfMemoryError("ZSTD_createCCtx returned NULL");
    }
    return cctx;
  }

  @Override
  public long freeCCtxFunction() {
    return FREE_CCTX;
  }

  @Override
  public long compress(long cctx, byte[] input, int level) {
    byte[] compressed = new byte[Math.toIntExact(ZSTD.ZSTD_compressBound(input.length))];
    long result =
        ZSTD.ZSTD_compressCCtx(
            new Pointer(cctx), compressed, compressed.length, input, input.length, level);
    if (ZSTD.ZSTD_isError(result) != 0) {
      throw new IllegalStateException("ZSTD_compressCCtx: " + ZSTD.ZSTD_getErrorName(result));
    }
    return result;
  }

  @Override
  public long sizeOf(long cctx) {
    return ZSTD.ZSTD_sizeof_CCtx(new Pointer(cctx));
  }

  @Override
  public long heapInUse() {
    return MallocJna.heapInUse();
  }
}
