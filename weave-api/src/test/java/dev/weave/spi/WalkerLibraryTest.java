package dev.weave.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.function.LongUnaryOperator;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 20: every way the native walker can fail to load leaves the Java walker, with one DEBUG
 * line that says why, and no extracted file behind. The extraction is real; the jar's resources,
 * the backend's loader and the mount table are the test's.
 */
class WalkerLibraryTest {
  private static final String LIBRARY = "META-INF/native/linux-x86_64/libweave_walker.so";
  private static final byte[] LIBRARY_BYTES =
      "stands in for an ELF file: the fake loader checks these bytes"
          .getBytes(StandardCharsets.US_ASCII);

  @TempDir Path temp;
  private Path jar;
  private Path work;
  private Path mountTable;

  /** What the loader does with the extracted file; the default loads a library of ABI 1. */
  private Load loader;

  /** {@link SharedLibrary.Loader#load}, as a lambda. */
  @FunctionalInterface
  interface Load {
    SharedLibrary load(Path file) throws Exception;
  }

  private final List<Path> loaded = new ArrayList<>();
  private final Logger logger = Logger.getLogger("dev.weave");
  private final List<LogRecord> records = new ArrayList<>();
  private final Handler capture =
      new Handler() {
        @Override
        public void publish(LogRecord record) {
          synchronized (records) {
            records.add(record);
          }
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
      };
  private Level previousLevel;

  @BeforeEach
  void setUp() throws Exception {
    jar = Files.createDirectories(temp.resolve("jar"));
    Files.createDirectories(jar.resolve(LIBRARY).getParent());
    Files.write(jar.resolve(LIBRARY), LIBRARY_BYTES);
    writeManifest(sha256(LIBRARY_BYTES) + "  linux-x86_64/libweave_walker.so\n");
    work = temp.resolve("work"); // made by the extraction
    mountTable = temp.resolve("mountinfo");
    Files.writeString(mountTable, "22 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n");
    loader = file -> library(WalkerLibrary.ABI_VERSION);
    previousLevel = logger.getLevel();
    logger.setLevel(Level.ALL);
    logger.addHandler(capture);
  }

  @AfterEach
  void tearDown() {
    logger.removeHandler(capture);
    logger.setLevel(previousLevel);
  }

  @Test
  void theLibraryIsExtractedIntoAFreshPrivateDirectoryLoadedAndDeleted() throws Exception {
    List<String> seen = new ArrayList<>();
    loader =
        file -> {
          seen.add(Files.readString(file, StandardCharsets.US_ASCII));
          seen.add(PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
          seen.add(PosixFilePermissions.toString(Files.getPosixFilePermissions(file.getParent())));
          return library(WalkerLibrary.ABI_VERSION);
        };
    WalkerChoice choice = choose(walker("Linux", "amd64", null));

    assertThat(choice.isNative()).as(choice.toString()).isTrue();
    assertThat(choice).hasToString("native walker");
    assertThat(choice.javaWalkerReason()).isEmpty();
    assertThat(choice.library()).isPresent();
    assertThat(seen)
        .containsExactly(
            new String(LIBRARY_BYTES, StandardCharsets.US_ASCII), "rw-------", "rwx------");
    assertThat(loaded)
        .singleElement()
        .satisfies(
            file -> {
              assertThat(file.getFileName()).hasToString("libweave_walker.so");
              assertThat(file.getParent().getParent()).isEqualTo(work);
              assertThat(file.getParent().getFileName().toString()).startsWith("weave-walker-");
            });
    assertThat(debugLines()).containsExactly("weave test: native walker");
    assertWorkdirEmpty();
  }

  @Test
  void eachLoadExtractsIntoADirectoryOfItsOwn() {
    choose(walker("Linux", "amd64", null));
    choose(walker("Linux", "x86_64", "native"));
    assertThat(loaded).hasSize(2);
    assertThat(loaded.get(0).getParent()).isNotEqualTo(loaded.get(1).getParent());
  }

  @Test
  void weaveWalkerJavaChoosesTheJavaWalkerWithoutExtracting() {
    assertJavaWalker(choose(walker("Linux", "amd64", "java")), "-Dweave.walker=java");
    assertThat(loaded).isEmpty();
    assertThat(work).doesNotExist();
  }

  @Test
  void theSystemPropertyIsReadByLoad() {
    String before = System.getProperty(WalkerLibrary.WALKER_PROPERTY);
    System.setProperty(WalkerLibrary.WALKER_PROPERTY, "java");
    try {
      assertJavaWalker(WalkerLibrary.load("test", primitives()), "-Dweave.walker=java");
    } finally {
      restore(WalkerLibrary.WALKER_PROPERTY, before);
    }
  }

  @Test
  void anUnknownWeaveWalkerSettingChoosesTheJavaWalkerAndSaysSo() {
    assertJavaWalker(
        choose(walker("Linux", "amd64", "c")), "-Dweave.walker=c is neither 'native' nor 'java'");
    assertThat(loaded).isEmpty();
  }

  @Test
  void aBackendThatLoadsNoLibraryGetsTheJavaWalker() {
    WalkerChoice choice =
        walker("Linux", "amd64", null).choose("test", primitives(Optional.empty()));
    assertJavaWalker(choice, "the backend loads no native library");
    assertThat(work).doesNotExist();
  }

  @Test
  void aPlatformWithoutAWalkerGetsTheJavaWalker() {
    assertJavaWalker(
        choose(walker(Platform.of("Mac OS X", "aarch64", Platform.CLibrary.LIBSYSTEM), null)),
        "weave has no native walker for macOS aarch64 with libSystem");
    records.clear();
    assertJavaWalker(
        choose(walker("Linux", "riscv64", null)),
        "weave has no native walker for Linux riscv64 with glibc");
    records.clear();
    assertJavaWalker(
        choose(walker(Platform.of("Linux", "amd64", Platform.CLibrary.MUSL), null)),
        "weave has no native walker for Linux x86-64 with musl");
    assertThat(WalkerLibrary.directory(platform("Linux", "amd64"))).isEqualTo("linux-x86_64");
    assertThat(WalkerLibrary.directory(platform("Linux", "x86_64"))).isEqualTo("linux-x86_64");
    assertThat(WalkerLibrary.directory(platform("Linux", "aarch64"))).isEqualTo("linux-aarch64");
    assertThat(WalkerLibrary.directory(platform("Windows 11", "amd64"))).isNull();
  }

  private static Platform platform(String osName, String osArch) {
    return Platform.of(osName, osArch, Platform.CLibrary.GLIBC);
  }

  @Test
  void aPlatformTheJarWasBuiltWithoutGetsTheJavaWalker() {
    assertJavaWalker(
        choose(walker("Linux", "aarch64", null)),
        "this weave-api has no native walker for linux-aarch64 (it was built without a C compiler"
            + " for it)");
    assertThat(work).doesNotExist();
  }

  @Test
  void aMissingManifestGetsTheJavaWalker() throws IOException {
    Files.delete(jar.resolve(WalkerLibrary.MANIFEST));
    assertJavaWalker(
        choose(walker("Linux", "amd64", null)),
        "META-INF/native/libweave_walker.sha256 is missing");
  }

  @Test
  void aMissingLibraryResourceGetsTheJavaWalker() throws IOException {
    Files.delete(jar.resolve(LIBRARY));
    assertJavaWalker(
        choose(walker("Linux", "amd64", null)),
        LIBRARY + " is missing, though META-INF/native/libweave_walker.sha256 lists it");
    assertThat(work).doesNotExist();
  }

  @Test
  void aHashThatDoesNotMatchGetsTheJavaWalkerAndTheCopyIsDeleted() throws Exception {
    String wrong = sha256("something else".getBytes(StandardCharsets.US_ASCII));
    writeManifest(wrong.toUpperCase(java.util.Locale.ROOT) + " *linux-x86_64/libweave_walker.so\n");
    assertJavaWalker(
        choose(walker("Linux", "amd64", null)),
        "the SHA-256 of "
            + LIBRARY
            + " as extracted is "
            + sha256(LIBRARY_BYTES)
            + ", not the "
            + wrong
            + " that META-INF/native/libweave_walker.sha256 lists");
    assertThat(loaded).isEmpty();
  }

  @Test
  void aWorkdirThatIsAFileGetsTheJavaWalker() throws IOException {
    Files.writeString(work, "a file, not a directory");
    assertJavaWalker(
        choose(walker("Linux", "amd64", null)),
        "cannot extract "
            + LIBRARY
            + " into "
            + work
            + " (set -Dweave.native.workdir to a writable directory): ");
    assertThat(Files.readString(work)).isEqualTo("a file, not a directory");
  }

  @Test
  void anUnwritableWorkdirGetsTheJavaWalker() throws IOException {
    Files.createDirectories(work);
    Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("r-x------"));
    try {
      assumeFalse(Files.isWritable(work), "this user writes into read-only directories (root)");
      assertJavaWalker(
          choose(walker("Linux", "amd64", null)), "cannot extract " + LIBRARY + " into " + work);
    } finally {
      Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwx------"));
    }
  }

  @Test
  void aNoexecWorkdirGetsTheJavaWalkerNamingTheMount() throws IOException {
    Files.createDirectories(work);
    Files.writeString(
        mountTable,
        "22 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
            + "45 22 0:40 / "
            + work.toRealPath().toString().replace(" ", "\\040")
            + " rw,nosuid,noexec,relatime - tmpfs tmpfs rw\n");
    loader =
        file -> {
          throw new UnsatisfiedLinkError(
              file + ": failed to map segment from shared object: Operation not permitted");
        };
    assertJavaWalker(
        choose(walker("Linux", "amd64", null)),
        work
            + " is on a noexec mount ("
            + work.toRealPath()
            + "): set -Dweave.native.workdir to a directory that allows executable mappings"
            + " [UnsatisfiedLinkError: ");
  }

  @Test
  void aLoadingFailureGetsTheJavaWalkerWithTheFfiLibrarysWords() {
    loader =
        file -> {
          throw new IllegalArgumentException("Cannot open library: " + file);
        };
    WalkerChoice choice = choose(walker("Linux", "amd64", null));
    assertJavaWalker(choice, "loading " + work + "/weave-walker-");
    assertThat(choice.javaWalkerReason().orElseThrow())
        .contains("/libweave_walker.so failed: IllegalArgumentException: Cannot open library: ");
  }

  @Test
  void aLibraryOfAnotherAbiVersionGetsTheJavaWalker() {
    loader = file -> library(1);
    assertJavaWalker(
        choose(walker("Linux", "amd64", null)), "its ABI version is 1, and this weave-api's is 2");
  }

  @Test
  void aLibraryWithoutTheAbiFunctionGetsTheJavaWalker() {
    loader =
        file ->
            new SharedLibrary() {
              @Override
              public long address(String symbol) {
                throw new UnsatisfiedLinkError("no symbol " + symbol);
              }

              @Override
              public LongUnaryOperator function(String symbol) {
                throw new UnsatisfiedLinkError("no symbol " + symbol);
              }
            };
    assertJavaWalker(
        choose(walker("Linux", "amd64", null)),
        "its ABI version cannot be read (weave_walker_abi_version): UnsatisfiedLinkError: no symbol"
            + " weave_walker_abi_version");
  }

  @Test
  void aLibraryOfAnotherRecordLayoutGetsTheJavaWalker() {
    long[] other = WalkerLibrary.LAYOUT.clone();
    other[2] += 8;
    loader = file -> library(WalkerLibrary.ABI_VERSION, other);
    assertJavaWalker(
        choose(walker("Linux", "amd64", null)),
        "its record layout differs from this weave-api's: weave_walker_layout(2) is "
            + other[2]
            + ", not "
            + WalkerLibrary.LAYOUT[2]);
  }

  @Test
  void aWalkerThatCannotBeStartedGetsTheJavaWalkerWithOneLine() {
    WalkerChoice choice =
        walker("Linux", "amd64", null)
            .choose(
                "test",
                primitives(),
                (library, loader) -> {
                  throw new UnsupportedOperationException("no callback function here");
                });
    assertJavaWalker(
        choice, "starting it failed: UnsupportedOperationException: no callback function here");
  }

  @Test
  void theMountTableNamesTheInnermostMountAndReadsEscapes() throws IOException {
    Path base = temp.toRealPath();
    Path spaced = Files.createDirectories(base.resolve("a b"));
    Path inner = Files.createDirectories(spaced.resolve("inner"));
    Path remounted = Files.createDirectories(base.resolve("c"));
    String escaped = spaced.toString().replace(" ", "\\040");
    Path table = temp.resolve("table");
    Files.writeString(
        table,
        String.join(
            "\n",
            "1 0 8:1 / / rw - ext4 /dev/sda rw",
            "2 1 0:1 / " + escaped + " rw,noexec - tmpfs tmpfs rw",
            "3 2 0:2 / " + escaped + "/inner rw shared:5 - tmpfs tmpfs rw",
            "4 1 0:3 / " + remounted + " rw - tmpfs tmpfs rw",
            "5 1 0:4 / " + remounted + " ro,noexec,nosuid - tmpfs tmpfs rw",
            "bad line"));
    assertThat(Mounts.unescape("/mnt/a\\040b\\134c\\0")).isEqualTo("/mnt/a b\\c\\0");
    assertThat(Mounts.noexecMountOf(table, spaced)).contains(spaced.toString());
    assertThat(Mounts.noexecMountOf(table, inner)).isEmpty();
    assertThat(Mounts.noexecMountOf(table, remounted)).contains(remounted.toString());
    assertThat(Mounts.noexecMountOf(table, base)).isEmpty();
    assertThat(Mounts.noexecMountOf(temp.resolve("no such table"), spaced)).isEmpty();
    assertThat(Mounts.noexecMountOf(table, temp.resolve("no such directory"))).isEmpty();
  }

  @Test
  void theJarShipsTheHostsLibraryUnderItsListedHash() throws Exception {
    String host = WalkerLibrary.directory(Platform.current());
    List<String> listed = new ArrayList<>();
    try (InputStream manifest = resource(WalkerLibrary.MANIFEST)) {
      assertThat(manifest).as(WalkerLibrary.MANIFEST).isNotNull();
      for (String line : new String(manifest.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
        String[] fields = line.split("  ");
        byte[] library;
        try (InputStream in = resource("META-INF/native/" + fields[1])) {
          assertThat(in).as(fields[1]).isNotNull();
          library = in.readAllBytes();
        }
        assertThat(sha256(library)).as(fields[1]).isEqualTo(fields[0]);
        // ELF e_machine, little-endian at offset 18: 62 is x86-64, 183 is aarch64
        int machine = (library[18] & 0xff) | (library[19] & 0xff) << 8;
        assertThat(machine)
            .as(fields[1])
            .isEqualTo(fields[1].startsWith("linux-x86_64") ? 62 : 183);
        listed.add(fields[1]);
      }
    }
    assertThat(listed).contains(host + "/libweave_walker.so");
  }

  private WalkerLibrary walker(String osName, String osArch, String walkerSetting) {
    return walker(Platform.of(osName, osArch, Platform.CLibrary.GLIBC), walkerSetting);
  }

  private WalkerLibrary walker(Platform platform, String walkerSetting) {
    return new WalkerLibrary(
        platform,
        walkerSetting,
        work.toString(),
        name -> Files.exists(jar.resolve(name)) ? Files.newInputStream(jar.resolve(name)) : null,
        mountTable);
  }

  private WalkerChoice choose(WalkerLibrary walker) {
    return walker.choose("test", primitives());
  }

  /** Primitives that only load libraries, with {@link #loader}, recording each file. */
  private NativePrimitives primitives() {
    return primitives(
        Optional.of(
            loader(
                file -> {
                  loaded.add(file);
                  assertThat(file).exists();
                  return loader.load(file);
                })));
  }

  /** A loader that loads with {@code load} and finds no C library function. */
  static SharedLibrary.Loader loader(Load load) {
    return new SharedLibrary.Loader() {
      @Override
      public SharedLibrary load(Path file) throws Exception {
        return load.load(file);
      }

      @Override
      public long libcFunction(String name) {
        throw new UnsupportedOperationException(name);
      }
    };
  }

  /** Primitives whose only working method is {@link NativePrimitives#libraryLoader()}. */
  static NativePrimitives primitives(Optional<SharedLibrary.Loader> libraryLoader) {
    InvocationHandler handler =
        (proxy, method, arguments) -> {
          if (method.getName().equals("libraryLoader")) {
            return libraryLoader.isPresent()
                ? libraryLoader
                : InvocationHandler.invokeDefault(proxy, method, arguments);
          }
          throw new UnsupportedOperationException(method.getName());
        };
    return (NativePrimitives)
        Proxy.newProxyInstance(
            NativePrimitives.class.getClassLoader(),
            new Class<?>[] {NativePrimitives.class},
            handler);
  }

  /**
   * A library whose {@code weave_walker_abi_version} returns {@code abiVersion}, and whose layout
   * is this weave-api's.
   */
  static SharedLibrary library(long abiVersion) {
    return library(abiVersion, WalkerLibrary.LAYOUT);
  }

  static SharedLibrary library(long abiVersion, long[] layout) {
    return new SharedLibrary() {
      @Override
      public long address(String symbol) {
        return 0x1000;
      }

      @Override
      public LongUnaryOperator function(String symbol) {
        assertThat(symbol).isIn("weave_walker_abi_version", "weave_walker_layout");
        return symbol.equals("weave_walker_layout")
            ? i -> i < layout.length ? layout[(int) i] : -1
            : argument -> abiVersion;
      }
    };
  }

  private void assertJavaWalker(WalkerChoice choice, String reason) {
    assertThat(choice.isNative()).as(choice.toString()).isFalse();
    assertThat(choice.library()).isEmpty();
    assertThat(choice.javaWalkerReason()).hasValueSatisfying(r -> assertThat(r).contains(reason));
    assertThat(choice.toString()).isEqualTo("java walker: " + choice.javaWalkerReason().get());
    assertThat(debugLines()).containsExactly("weave test: " + choice);
    assertWorkdirEmpty();
  }

  private List<String> debugLines() {
    synchronized (records) {
      assertThat(records).allSatisfy(r -> assertThat(r.getLevel()).isEqualTo(Level.FINE));
      return records.stream().map(LogRecord::getMessage).toList();
    }
  }

  private void assertWorkdirEmpty() {
    if (!Files.isDirectory(work)) {
      return;
    }
    try (Stream<Path> left = Files.list(work)) {
      assertThat(left).as("what extraction left in " + work).isEmpty();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  private void writeManifest(String text) throws IOException {
    Files.writeString(jar.resolve(WalkerLibrary.MANIFEST), text);
  }

  private static InputStream resource(String name) {
    return WalkerLibrary.class.getResourceAsStream("/" + name);
  }

  private static String sha256(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }

  private static void restore(String property, String value) {
    if (value == null) {
      System.clearProperty(property);
    } else {
      System.setProperty(property, value);
    }
  }
}
