package dev.weave.spi;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.lang.System.Logger.Level;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.function.LongUnaryOperator;

/**
 * Finds weave's native walker for the running platform in weave-api's jar and has a backend load
 * it, or says why its engine must run the Java walker. One DEBUG line on the {@code System.Logger}
 * {@code dev.weave} tells the outcome, and why.
 *
 * <p>The library is the resource {@code META-INF/native/<platform>/libweave_walker.so}, platform
 * {@code linux-x86_64} or {@code linux-aarch64}, and {@code META-INF/native/libweave_walker.sha256}
 * holds the SHA-256 the build recorded for each, in {@code sha256sum}'s format. {@link #load}
 * copies the library into a fresh directory that only this user may enter, under {@value
 * #WORKDIR_PROPERTY} (else {@code java.io.tmpdir}), checks the copy's SHA-256, has the backend load
 * it through its FFI library ({@link NativePrimitives#libraryLoader()}), deletes the copy and its
 * directory whatever happened, and checks the library's ABI version and the layout of its records
 * ({@link Record}, {@link NativeWalker}). The platform is {@link Platform#current()}: the walker is
 * built for Linux with glibc, on x86-64 and aarch64.
 */
public final class WalkerLibrary {
  /**
   * {@code -Dweave.walker=java} makes every engine run the Java walker; {@code native} (the
   * default) tries the native one first.
   */
  public static final String WALKER_PROPERTY = "weave.walker";

  /** The directory under which the library is extracted; {@code java.io.tmpdir} if unset. */
  public static final String WORKDIR_PROPERTY = "weave.native.workdir";

  /** What the library's {@code weave_walker_abi_version} must return (walker/weave_walker.h). */
  public static final int ABI_VERSION = 2;

  static final String ABI_VERSION_FUNCTION = "weave_walker_abi_version";
  static final String LAYOUT_FUNCTION = "weave_walker_layout";

  /**
   * What {@code weave_walker_layout(i)} must return for each i: the sizes and offsets this
   * weave-api writes records and the configuration with (walker/weave_walker.h's
   * WEAVE_WALKER_LAYOUT_*).
   */
  static final long[] LAYOUT = {
    Record.BYTES,
    Record.ENTRY_BYTES,
    Record.CHUNKS,
    Record.INLINE,
    Record.NEXT_WALKED,
    NativeWalker.CONFIG_BYTES,
    NativeWalker.WALKED
  };

  /** Sets the native walker up for an engine, once its library is loaded and checked. */
  @FunctionalInterface
  interface Starter {
    /**
     * @throws Exception anything: the engine then runs its Java walker, with this as the reason
     */
    void start(SharedLibrary library, SharedLibrary.Loader loader) throws Exception;
  }

  static final String FILE_NAME = "libweave_walker.so";
  static final String RESOURCE_DIRECTORY = "META-INF/native/";
  static final String MANIFEST = RESOURCE_DIRECTORY + "libweave_walker.sha256";

  private static final System.Logger LOG = System.getLogger("dev.weave");
  private static final Path MOUNT_TABLE = Path.of("/proc/self/mountinfo");
  private static final FileAttribute<Set<PosixFilePermission>> OWNER_ONLY_DIRECTORY =
      PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"));
  private static final FileAttribute<Set<PosixFilePermission>> OWNER_ONLY_FILE =
      PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));

  /** Opens one of weave-api's resources by name, or returns null if there is none. */
  @FunctionalInterface
  interface Resources {
    InputStream open(String name) throws IOException;
  }

  private final Platform platform;
  private final String walkerSetting;
  private final String workdir;
  private final Resources resources;
  private final Path mountTable;

  /**
   * @param platform the platform to find a library for
   * @param walkerSetting what {@value #WALKER_PROPERTY} says, or null
   * @param workdir where to extract, as {@value #WORKDIR_PROPERTY} would say it
   * @param mountTable the mounts in {@code /proc/self/mountinfo}'s format, to tell a {@code noexec}
   *     directory by
   */
  WalkerLibrary(
      Platform platform,
      String walkerSetting,
      String workdir,
      Resources resources,
      Path mountTable) {
    this.platform = platform;
    this.walkerSetting = walkerSetting;
    this.workdir = workdir;
    this.resources = resources;
    this.mountTable = mountTable;
  }

  /**
   * Loads the native walker through a backend's FFI library, as this JVM's system properties say.
   * Never throws: whatever fails, the choice is the Java walker, with the reason.
   *
   * @param backendName the backend's name, for the DEBUG line
   * @param primitives the backend's primitives, whose {@link NativePrimitives#libraryLoader()}
   *     loads the library
   * @return the native walker with its library, or the Java walker with the reason
   */
  public static WalkerChoice load(String backendName, NativePrimitives primitives) {
    return load(backendName, primitives, (library, loader) -> {});
  }

  /**
   * As {@link #load(String, NativePrimitives)}, then has {@code starter} set the walker up: if it
   * throws, the choice is the Java walker, with that as the reason, in the one DEBUG line.
   */
  static WalkerChoice load(String backendName, NativePrimitives primitives, Starter starter) {
    return new WalkerLibrary(
            Platform.current(),
            System.getProperty(WALKER_PROPERTY),
            System.getProperty(WORKDIR_PROPERTY, System.getProperty("java.io.tmpdir")),
            name -> WalkerLibrary.class.getResourceAsStream("/" + name),
            MOUNT_TABLE)
        .choose(backendName, primitives, starter);
  }

  WalkerChoice choose(String backendName, NativePrimitives primitives) {
    return choose(backendName, primitives, (library, loader) -> {});
  }

  WalkerChoice choose(String backendName, NativePrimitives primitives, Starter starter) {
    WalkerChoice choice;
    try {
      SharedLibrary library = loadLibrary(primitives);
      try {
        starter.start(library, primitives.libraryLoader().orElseThrow());
      } catch (Exception | LinkageError e) {
        throw new Fallback("starting it failed: " + Diagnostics.causes(e));
      }
      choice = WalkerChoice.nativeWalker(library);
    } catch (Fallback fallback) {
      choice = WalkerChoice.javaWalker(fallback.getMessage());
    } catch (RuntimeException | LinkageError unexpected) {
      choice = WalkerChoice.javaWalker("loading it failed: " + Diagnostics.causes(unexpected));
    }
    LOG.log(Level.DEBUG, "weave " + backendName + ": " + choice);
    return choice;
  }

  /** Why the Java walker runs: thrown inside this class only, its message is the reason. */
  private static final class Fallback extends Exception {
    private static final long serialVersionUID = 1L;

    Fallback(String reason) {
      super(reason, null, false, false);
    }
  }

  private SharedLibrary loadLibrary(NativePrimitives primitives) throws Fallback {
    if ("java".equals(walkerSetting)) {
      throw new Fallback("-D" + WALKER_PROPERTY + "=java");
    }
    if (walkerSetting != null && !"native".equals(walkerSetting)) {
      throw new Fallback(
          "-D" + WALKER_PROPERTY + "=" + walkerSetting + " is neither 'native' nor 'java'");
    }
    Optional<SharedLibrary.Loader> loader = primitives.libraryLoader();
    if (loader.isEmpty()) {
      throw new Fallback("the backend loads no native library (NativePrimitives.libraryLoader)");
    }
    String directory = directory(platform);
    if (directory == null) {
      throw new Fallback("weave has no native walker for " + platform);
    }
    SharedLibrary library = extractAndLoad(directory, loader.get());
    checkAbiVersion(library);
    checkLayout(library);
    return library;
  }

  /**
   * @return {@code linux-x86_64}, {@code linux-aarch64}, or null for a platform weave ships no
   *     walker for
   */
  static String directory(Platform platform) {
    if (platform.os() != Platform.Os.LINUX || platform.cLibrary() != Platform.CLibrary.GLIBC) {
      return null;
    }
    switch (platform.cpu()) {
      case X86_64:
        return "linux-x86_64";
      case AARCH64:
        return "linux-aarch64";
      default:
        return null;
    }
  }

  private SharedLibrary extractAndLoad(String platform, SharedLibrary.Loader loader)
      throws Fallback {
    String relative = platform + "/" + FILE_NAME;
    String resource = RESOURCE_DIRECTORY + relative;
    String listedHash = listedHash(relative);
    Path directory = null;
    try (InputStream library = open(resource)) {
      if (library == null) {
        throw new Fallback(resource + " is missing, though " + MANIFEST + " lists it");
      }
      directory = privateDirectory();
      Path file = directory.resolve(FILE_NAME);
      copy(library, file);
      String hash = sha256(file);
      if (!hash.equals(listedHash)) {
        throw new Fallback(
            "the SHA-256 of "
                + resource
                + " as extracted is "
                + hash
                + ", not the "
                + listedHash
                + " that "
                + MANIFEST
                + " lists");
      }
      try {
        return loader.load(file);
      } catch (Exception | LinkageError e) {
        throw new Fallback(loadingFailure(directory, file, e));
      }
    } catch (IOException | UnsupportedOperationException | InvalidPathException e) {
      throw new Fallback(
          "cannot extract "
              + resource
              + " into "
              + workdir
              + " (set -D"
              + WORKDIR_PROPERTY
              + " to a writable directory): "
              + Diagnostics.causes(e));
    } finally {
      if (directory != null) {
        delete(directory.resolve(FILE_NAME));
        delete(directory);
      }
    }
  }

  private InputStream open(String resource) throws Fallback {
    try {
      return resources.open(resource);
    } catch (IOException e) {
      throw new Fallback("cannot read " + resource + ": " + Diagnostics.causes(e));
    }
  }

  /** The hash the build recorded for the library at {@code relative}, in lower-case hex. */
  private String listedHash(String relative) throws Fallback {
    try (InputStream manifest = open(MANIFEST)) {
      if (manifest == null) {
        throw new Fallback(MANIFEST + " is missing: this weave-api was built without its walker");
      }
      BufferedReader lines =
          new BufferedReader(new InputStreamReader(manifest, StandardCharsets.UTF_8));
      for (String line = lines.readLine(); line != null; line = lines.readLine()) {
        String[] fields = line.trim().split("\\s+", 2);
        // sha256sum marks a file it read in binary mode with '*'
        if (fields.length == 2 && fields[1].replaceFirst("^\\*", "").equals(relative)) {
          return fields[0].toLowerCase(Locale.ROOT);
        }
      }
    } catch (IOException e) {
      throw new Fallback("cannot read " + MANIFEST + ": " + Diagnostics.causes(e));
    }
    throw new Fallback(
        "this weave-api has no native walker for "
            + relative.substring(0, relative.indexOf('/'))
            + " (it was built without a C compiler for it)");
  }

  private Path privateDirectory() throws IOException {
    Path parent = Path.of(workdir);
    Files.createDirectories(parent);
    return Files.createTempDirectory(parent, "weave-walker-", OWNER_ONLY_DIRECTORY);
  }

  private static void copy(InputStream library, Path file) throws IOException {
    try (OutputStream out =
        Channels.newOutputStream(
            Files.newByteChannel(
                file,
                EnumSet.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                OWNER_ONLY_FILE))) {
      library.transferTo(out);
    }
  }

  /** The SHA-256 of the file as it is on disk, which is what gets loaded. */
  private static String sha256(Path file) throws IOException {
    MessageDigest digest;
    try {
      digest = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java platform has SHA-256", e);
    }
    try (InputStream in = Files.newInputStream(file)) {
      byte[] buffer = new byte[16 * 1024];
      for (int read = in.read(buffer); read >= 0; read = in.read(buffer)) {
        digest.update(buffer, 0, read);
      }
    }
    return HexFormat.of().formatHex(digest.digest());
  }

  private String loadingFailure(Path directory, Path file, Throwable failure) {
    String causes = Diagnostics.causes(failure);
    Optional<String> mount = Mounts.noexecMountOf(mountTable, directory);
    if (mount.isPresent()) {
      return directory.getParent()
          + " is on a noexec mount ("
          + mount.get()
          + "): set -D"
          + WORKDIR_PROPERTY
          + " to a directory that allows executable mappings ["
          + causes
          + "]";
    }
    return "loading " + file + " failed: " + causes;
  }

  private static void checkAbiVersion(SharedLibrary library) throws Fallback {
    long version;
    try {
      version = library.function(ABI_VERSION_FUNCTION).applyAsLong(0);
    } catch (RuntimeException | LinkageError e) {
      throw new Fallback(
          "its ABI version cannot be read ("
              + ABI_VERSION_FUNCTION
              + "): "
              + Diagnostics.causes(e));
    }
    if (version != ABI_VERSION) {
      throw new Fallback(
          "its ABI version is " + version + ", and this weave-api's is " + ABI_VERSION);
    }
  }

  private static void checkLayout(SharedLibrary library) throws Fallback {
    try {
      LongUnaryOperator layout = library.function(LAYOUT_FUNCTION);
      for (int i = 0; i < LAYOUT.length; i++) {
        long reported = layout.applyAsLong(i);
        if (reported != LAYOUT[i]) {
          throw new Fallback(
              "its record layout differs from this weave-api's: "
                  + LAYOUT_FUNCTION
                  + "("
                  + i
                  + ") is "
                  + reported
                  + ", not "
                  + LAYOUT[i]);
        }
      }
    } catch (RuntimeException | LinkageError e) {
      throw new Fallback(
          "its record layout cannot be read (" + LAYOUT_FUNCTION + "): " + Diagnostics.causes(e));
    }
  }

  /** Deletes what extraction made; a failure to is a WARNING, and no reason to fall back. */
  private static void delete(Path path) {
    try {
      Files.deleteIfExists(path);
    } catch (IOException e) {
      LOG.log(
          Level.WARNING,
          "weave: cannot delete " + path + " (the native walker's extracted copy): " + e);
    }
  }
}
