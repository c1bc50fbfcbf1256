package dev.weave.jnr;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weave.spi.NativePrimitives;
import dev.weave.spi.SharedLibrary;
import dev.weave.spi.WalkerChoice;
import dev.weave.spi.WalkerLibrary;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.LongUnaryOperator;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issue 20: this backend loads weave's native walker through its FFI library and calls it. */
class JnrLibraryTest {
  @TempDir Path work;

  @Test
  void theNativeWalkerLoadsAndItsFunctionsAnswer() throws IOException {
    WalkerChoice choice = loadInto(work);

    assertTrue(choice.isNative(), choice::toString);
    SharedLibrary library = choice.library().orElseThrow();
    assertEquals(
        WalkerLibrary.ABI_VERSION, library.function("weave_walker_abi_version").applyAsLong(0));
    LongUnaryOperator probe = library.function("weave_walker_probe");
    for (long word : new long[] {0, 1, -1, Long.MIN_VALUE, Long.MAX_VALUE, 0x0123456789abcdefL}) {
      assertEquals(~word, probe.applyAsLong(word), () -> "probe of " + Long.toHexString(word));
    }
    assertNotEquals(0, library.address("weave_walker_probe"));
    assertThrows(UnsatisfiedLinkError.class, () -> library.address("weave_walker_no_such"));
    assertThrows(UnsatisfiedLinkError.class, () -> library.function("weave_walker_no_such"));
    assertEquals(List.of(), entries(work), "what the extraction left");
  }

  /**
   * A file the dynamic linker refuses (as it refuses one on a noexec mount) makes this FFI library
   * throw what {@link WalkerLibrary} turns into the Java walker's reason: an exception or a linkage
   * error, never anything else.
   */
  @Test
  void aFileThatIsNoLibraryFailsWithAnExceptionOrALinkageError() throws IOException {
    Path notALibrary = Files.writeString(work.resolve("libnot_elf.so"), "not an ELF file");
    Throwable thrown =
        assertThrows(
            Throwable.class,
            () -> new JnrPrimitives().libraryLoader().orElseThrow().load(notALibrary));
    assertTrue(
        thrown instanceof Exception || thrown instanceof LinkageError, () -> thrown.toString());
  }

  /** What weave's libraries may not call themselves (glibc 2.34 symbols), Java finds for them. */
  @Test
  void theLoaderFindsTheCLibrarysFunctions() {
    NativePrimitives primitives = new JnrPrimitives();
    SharedLibrary.Loader loader = primitives.libraryLoader().orElseThrow();
    assertEquals(primitives.freeFunction(), loader.libcFunction("free"));
    for (String name : new String[] {"pthread_setspecific", "pthread_getspecific", "sem_post"}) {
      assertNotEquals(0, loader.libcFunction(name), name);
    }
    assertThrows(UnsatisfiedLinkError.class, () -> loader.libcFunction("weave_no_such_function"));
  }

  private static WalkerChoice loadInto(Path workdir) {
    String before = System.getProperty(WalkerLibrary.WORKDIR_PROPERTY);
    System.setProperty(WalkerLibrary.WORKDIR_PROPERTY, workdir.toString());
    try {
      return WalkerLibrary.load("jnr", new JnrPrimitives());
    } finally {
      if (before == null) {
        System.clearProperty(WalkerLibrary.WORKDIR_PROPERTY);
      } else {
        System.setProperty(WalkerLibrary.WORKDIR_PROPERTY, before);
      }
    }
  }

  private static List<Path> entries(Path directory) throws IOException {
    try (Stream<Path> entries = Files.list(directory)) {
      return entries.collect(Collectors.toList());
    }
  }
}
