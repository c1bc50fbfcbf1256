package org.example;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

/**
 * A zstd compression context per pool thread ({@link ZstdContexts}), with libzstd and glibc bound
 * through FFM (Java 22+).
 *
 * <p>Needs {@code libzstd.so.1} (Debian and Ubuntu: package {@code libzstd1}). Run, optionally with
 * the number of pool threads as {@code -Dexample.args=N} (default 2,000): {@code mvn -B -q
 * -Pexample -Dexample=ZstdFfm -pl weave-examples -am -DskipTests verify}
 */
public final class ZstdFfm implements ZstdBinding {
  private static final Linker LINKER = Linker.nativeLinker();
  private static final SymbolLookup ZSTD =
      SymbolLookup.libraryLookup("libzstd.so.1", Arena.global());
  private static final MethodHandle CREATE_CCTX = zstd("ZSTD_createCCtx", ADDRESS);
  private static final MethodHandle SIZEOF_CCTX = zstd("ZSTD_sizeof_CCtx", JAVA_LONG, ADDRESS);
  private static final MethodHandle COMPRESS_BOUND =
      zstd("ZSTD_compressBound", JAVA_LONG, JAVA_LONG);
  private static final MethodHandle COMPRESS_CCTX =
      zstd(
          "ZSTD_compressCCtx",
          JAVA_LONG,
          ADDRESS,
          ADDRESS,
          JAVA_LONG,
          ADDRESS,
          JAVA_LONG,
          JAVA_INT);
  private static final MethodHandle IS_ERROR = zstd("ZSTD_isError", JAVA_INT, JAVA_LONG);
  private static final MethodHandle ERROR_NAME = zstd("ZSTD_getErrorName", ADDRESS, JAVA_LONG);
  private static final MethodHandle VERSION_STRING = zstd("ZSTD_versionString", ADDRESS);
  private static final MemorySegment FREE_CCTX = ZSTD.find("ZSTD_freeCCtx").orElseThrow();

  /** glibc's {@code struct mallinfo2}: ten {@code size_t}. */
  private static final StructLayout MALLINFO2 =
      MemoryLayout.structLayout(
          JAVA_LONG.withName("arena"),
          JAVA_LONG.withName("ordblks"),
          JAVA_LONG.withName("smblks"),
          JAVA_LONG.withName("hblks"),
          JAVA_LONG.withName("hblkhd"),
          JAVA_LONG.withName("usmblks"),
          JAVA_LONG.withName("fsmblks"),
          JAVA_LONG.withName("uordblks"),
          JAVA_LONG.withName("fordblks"),
          JAVA_LONG.withName("keepcost"));

  private static final MethodHandle MALLINFO2_CALL =
      LINKER.downcallHandle(
          LINKER.defaultLookup().find("mallinfo2").orElseThrow(), FunctionDescriptor.of(MALLINFO2));

  public static void main(String[] args) throws Exception {
    ZstdContexts.main(new ZstdFfm(), args, false);
  }

  @Override
  public String describe() {
    try {
      MemorySegment version = (MemorySegment) VERSION_STRING.invokeExact();
      return "libzstd " + version.reinterpret(64).getString(0) + " through FFM";
    } catch (Throwable t) {
      throw failed("ZSTD_versionString", t);
    }
  }

  @Override
  public long createCCtx() {
    MemorySegment cctx;
    try {
      cctx = (MemorySegment) CREATE_CCTX.invokeExact();
    } catch (Throwable t) {
      throw failed("ZSTD_createCCtx", t);
    }
    if (cctx.equals(MemorySegment.NULL)) {
      throw new OutOfMemoryError("ZSTD_createCCtx returned NULL");
    }
    return cctx.address();
  }

  @Override
  public long freeCCtxFunction() {
    return FREE_CCTX.address();
  }

  @Override
  public long compress(long cctx, byte[] input, int level) {
    long result;
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment source = arena.allocateFrom(JAVA_BYTE, input);
      long bound = (long) COMPRESS_BOUND.invokeExact(source.byteSize());
      MemorySegment compressed = arena.allocate(bound);
      result =
          (long)
              COMPRESS_CCTX.invokeExact(
                  MemorySegment.ofAddress(cctx),
                  compressed,
                  compressed.byteSize(),
                  source,
                  source.byteSize(),
                  level);
      if ((int) IS_ERROR.invokeExact(result) != 0) {
        MemorySegment name = (MemorySegment) ERROR_NAME.invokeExact(result);
        throw new IllegalStateException("ZSTD_compressCCtx: " + name.reinterpret(256).getString(0));
      }
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw failed("ZSTD_compressCCtx", t);
    }
    return result;
  }

  @Override
  public long sizeOf(long cctx) {
    try {
      return (long) SIZEOF_CCTX.invokeExact(MemorySegment.ofAddress(cctx));
    } catch (Throwable t) {
      throw failed("ZSTD_sizeof_CCtx", t);
    }
  }

  @Override
  public long heapInUse() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment info = (MemorySegment) MALLINFO2_CALL.invokeExact((SegmentAllocator) arena);
      return info.get(JAVA_LONG, MALLINFO2.byteOffset(PathElement.groupElement("uordblks")))
          + info.get(JAVA_LONG, MALLINFO2.byteOffset(PathElement.groupElement("hblkhd")));
    } catch (Throwable t) {
      throw failed("mallinfo2", t);
    }
  }

  private static MethodHandle zstd(String name, MemoryLayout returns, MemoryLayout... arguments) {
    return LINKER.downcallHandle(
        ZSTD.find(name).orElseThrow(), FunctionDescriptor.of(returns, arguments));
  }

  /** invokeExact declares Throwable; a downcall with the right types throws nothing else. */
  private static IllegalStateException failed(String call, Throwable t) {
    return new IllegalStateException(call + " failed", t);
  }
}
