package dev.weave.spi;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.stream.Stream;

/**
 * The platform weave runs on, and the facts about it that backends, {@link Diagnostics} and tests
 * need instead of literals: the OS, the CPU, the C library, its pthread keys, the JVM library's
 * file name, errno names and the {@code gettid} system call. {@link #current()} reads it once per
 * JVM; {@link #of} builds another, for tests that ask what a backend would say there.
 *
 * <p>Contract rule 16: a backend is usable only where weave's CI runs the TCK, Linux x86-64 and
 * Linux aarch64 with glibc ({@link #verified()}). Elsewhere {@link #refusal(boolean)} says why not,
 * naming the platform, unless {@value #UNVERIFIED_PROPERTY} lets a POSIX platform whose pthread
 * keys weave knows through. Windows is always refused: it has no pthreads.
 */
public final class Platform {
  /** The system property that lets an unverified POSIX platform through (rule 16). */
  public static final String UNVERIFIED_PROPERTY = "weave.platform.unverified";

  /** The operating systems weave tells apart. */
  public enum Os {
    LINUX,
    MACOS,
    WINDOWS,
    /** Any other: its {@code os.name} is kept for messages. */
    OTHER
  }

  /** The CPUs weave tells apart. */
  public enum Cpu {
    X86_64,
    AARCH64,
    RISCV64,
    /** Any other: its {@code os.arch} is kept for messages. */
    OTHER
  }

  /** The C library whose pthread keys weave's engine runs on. */
  public enum CLibrary {
    GLIBC("glibc"),
    MUSL("musl"),
    /** macOS's libSystem (its pthreads are Apple's libpthread). */
    LIBSYSTEM("libSystem"),
    WINDOWS_CRT("the Windows C runtime"),
    UNKNOWN("an unknown C library");

    private final String displayName;

    CLibrary(String displayName) {
      this.displayName = displayName;
    }

    @Override
    public String toString() {
      return displayName;
    }
  }

  /**
   * A C library's pthread keys, as its headers and source say, and as measured where a machine was
   * at hand.
   *
   * @param keyBytes {@code sizeof(pthread_key_t)}: 4 on glibc and musl, 8 on macOS
   * @param keyLimit {@code PTHREAD_KEYS_MAX}: keys a process may hold at once
   * @param reusesLowestFreeKey whether {@code pthread_key_create} gives the lowest free index
   *     (glibc, macOS) rather than the next one round from the last it gave (musl)
   * @param destructorPasses {@code PTHREAD_DESTRUCTOR_ITERATIONS}: passes over the keys at a
   *     thread's exit, each in index order
   */
  public record PthreadKeys(
      int keyBytes, int keyLimit, boolean reusesLowestFreeKey, int destructorPasses) {
    /**
     * @param key a key as weave passes it, a {@code long}
     * @return the key as a 4-byte {@code pthread_key_t} holds it
     * @throws IllegalArgumentException if the key does not fit in 4 bytes, or keys here are wider
     */
    public int narrow(long key) {
      if (keyBytes != Integer.BYTES || (key >>> Integer.SIZE) != 0) {
        throw new IllegalArgumentException(
            "pthread key "
                + key
                + " is not a "
                + keyBytes
                + "-byte pthread_key_t that fits an int");
      }
      return (int) key;
    }
  }

  /**
   * glibc: {@code typedef unsigned int pthread_key_t}, {@code PTHREAD_KEYS_MAX} 1024, {@code
   * pthread_key_create} takes the lowest unused index, 4 passes ({@code
   * PTHREAD_DESTRUCTOR_ITERATIONS}) in index order; measured the same on x86-64 and aarch64.
   */
  private static final PthreadKeys GLIBC_KEYS = new PthreadKeys(4, 1024, true, 4);

  /**
   * musl 1.2.3, measured: 4-byte keys, 128 of them, a freed index not reused lowest-first ({@code
   * pthread_key_create} searches on from the last key it gave), 4 passes in index order.
   */
  private static final PthreadKeys MUSL_KEYS = new PthreadKeys(4, 128, false, 4);

  /**
   * macOS, from Apple's libpthread: {@code pthread_key_t} is {@code unsigned long}, dynamic keys
   * 256 to 767 ({@code PTHREAD_KEYS_MAX} 512), taken lowest unused first, 4 passes in index order.
   */
  private static final PthreadKeys LIBSYSTEM_KEYS = new PthreadKeys(8, 512, true, 4);

  /** errno names by number: Linux's generic numbers (x86-64, aarch64 and riscv64 alike). */
  private static final Map<Integer, String> LINUX_ERRNO =
      Map.of(11, "EAGAIN", 12, "ENOMEM", 22, "EINVAL");

  /** errno names by number: macOS's, from BSD. */
  private static final Map<Integer, String> MACOS_ERRNO =
      Map.of(35, "EAGAIN", 12, "ENOMEM", 22, "EINVAL");

  private static final Path MAPS = Path.of("/proc/self/maps");

  private final Os os;
  private final String osName;
  private final Cpu cpu;
  private final String cpuName;
  private final CLibrary cLibrary;

  private Platform(Os os, String osName, Cpu cpu, String cpuName, CLibrary cLibrary) {
    this.os = os;
    this.osName = osName;
    this.cpu = cpu;
    this.cpuName = cpuName;
    this.cLibrary = cLibrary;
  }

  /**
   * @return the platform this JVM runs on: the OS and CPU from {@code os.name} and {@code os.arch},
   *     the C library on Linux from the files mapped into this process ({@code /proc/self/maps}),
   *     on macOS and Windows the system's own; read once
   */
  public static Platform current() {
    return Current.PLATFORM;
  }

  /**
   * @param osName an {@code os.name}, such as {@code "Linux"}, {@code "Mac OS X"} or {@code
   *     "Windows 11"}
   * @param osArch an {@code os.arch}, such as {@code "amd64"}, {@code "aarch64"} or {@code
   *     "riscv64"}
   * @param cLibrary the C library
   * @return that platform, as a JVM there would see it
   */
  public static Platform of(String osName, String osArch, CLibrary cLibrary) {
    Objects.requireNonNull(osName, "osName");
    Objects.requireNonNull(osArch, "osArch");
    Objects.requireNonNull(cLibrary, "cLibrary");
    Os os = os(osName);
    Cpu cpu = cpu(osArch);
    return new Platform(
        os, os == Os.OTHER ? osName : displayName(os), cpu, cpuName(cpu, osArch), cLibrary);
  }

  /**
   * @return the C library of a Linux process, from the file names mapped into it: musl's loader
   *     ({@code ld-musl-ARCH.so.1}, which is musl's libc) or glibc's {@code libc.so.6} (before 2.34
   *     {@code libc-2.NN.so}); musl wins where both are mapped, as under gcompat
   */
  static CLibrary linuxCLibrary(Stream<String> mappings) {
    boolean glibc = false;
    for (String line : (Iterable<String>) mappings::iterator) {
      String file = line.substring(line.lastIndexOf('/') + 1).strip();
      if (file.startsWith("ld-musl-") || file.startsWith("libc.musl-")) {
        return CLibrary.MUSL;
      }
      glibc |= file.equals("libc.so.6") || (file.startsWith("libc-2.") && file.endsWith(".so"));
    }
    return glibc ? CLibrary.GLIBC : CLibrary.UNKNOWN;
  }

  public Os os() {
    return os;
  }

  public Cpu cpu() {
    return cpu;
  }

  public CLibrary cLibrary() {
    return cLibrary;
  }

  /**
   * @return whether weave's CI runs the TCK here: Linux x86-64 or Linux aarch64, with glibc
   */
  public boolean verified() {
    return os == Os.LINUX
        && (cpu == Cpu.X86_64 || cpu == Cpu.AARCH64)
        && cLibrary == CLibrary.GLIBC;
  }

  /**
   * @return the C library's pthread keys, or empty where weave knows none (Windows, an unknown OS
   *     or C library)
   */
  public Optional<PthreadKeys> pthreadKeys() {
    if (os == Os.WINDOWS) {
      return Optional.empty();
    }
    switch (cLibrary) {
      case GLIBC:
        return Optional.of(GLIBC_KEYS);
      case MUSL:
        return Optional.of(MUSL_KEYS);
      case LIBSYSTEM:
        return Optional.of(LIBSYSTEM_KEYS);
      default:
        return Optional.empty();
    }
  }

  /**
   * @return the C library's pthread keys
   * @throws UnsupportedOperationException naming this platform, where weave knows none
   */
  public PthreadKeys requirePthreadKeys() {
    return pthreadKeys()
        .orElseThrow(
            () -> new UnsupportedOperationException("weave knows no pthread keys on " + this));
  }

  /**
   * @return the JVM library's file name: {@code libjvm.so}, {@code libjvm.dylib} on macOS, {@code
   *     jvm.dll} on Windows
   */
  public String libjvmFileName() {
    switch (os) {
      case MACOS:
        return "libjvm.dylib";
      case WINDOWS:
        return "jvm.dll";
      default:
        return "libjvm.so";
    }
  }

  /**
   * @param error an errno value
   * @return its name ({@code EAGAIN}, {@code ENOMEM} or {@code EINVAL}, the ones the pthread key
   *     functions return), or empty
   */
  public Optional<String> errnoName(int error) {
    switch (os) {
      case LINUX:
        return Optional.ofNullable(LINUX_ERRNO.get(error));
      case MACOS:
        return Optional.ofNullable(MACOS_ERRNO.get(error));
      default:
        return Optional.empty();
    }
  }

  /**
   * @return the number of Linux's {@code gettid} system call on this CPU (186 on x86-64, 178 on
   *     aarch64 and riscv64), or empty off Linux or on another CPU
   */
  public OptionalInt gettidSyscall() {
    if (os != Os.LINUX) {
      return OptionalInt.empty();
    }
    switch (cpu) {
      case X86_64:
        return OptionalInt.of(186);
      case AARCH64:
      case RISCV64:
        return OptionalInt.of(178);
      default:
        return OptionalInt.empty();
    }
  }

  /**
   * Contract rule 16.
   *
   * @param unverifiedAllowed whether {@value #UNVERIFIED_PROPERTY} is set
   * @return why weave's backends may not run here, naming this platform; empty if they may
   */
  public Optional<String> refusal(boolean unverifiedAllowed) {
    if (verified()) {
      return Optional.empty();
    }
    if (os == Os.WINDOWS) {
      return Optional.of(
          "weave needs POSIX threads, which "
              + this
              + " does not have (a backend on Windows fiber-local storage is later work);"
              + " -D"
              + UNVERIFIED_PROPERTY
              + "=true does not change that");
    }
    if (pthreadKeys().isEmpty()) {
      return Optional.of(
          "weave does not know the pthread keys of "
              + this
              + " (their width, limit and destructor passes), so it cannot run there, even with -D"
              + UNVERIFIED_PROPERTY
              + "=true");
    }
    if (unverifiedAllowed) {
      return Optional.empty();
    }
    return Optional.of(
        "not verified on "
            + this
            + ": weave's CI runs the TCK on Linux x86-64 and Linux aarch64 with glibc; -D"
            + UNVERIFIED_PROPERTY
            + "=true lets it run here, at your own risk (run the TCK here first)");
  }

  /**
   * @return the OS, CPU and C library, such as {@code "Linux x86-64 with glibc"}
   */
  @Override
  public String toString() {
    return osName + " " + cpuName + " with " + cLibrary;
  }

  private static Os os(String osName) {
    if (osName.startsWith("Linux")) {
      return Os.LINUX;
    }
    if (osName.startsWith("Mac") || osName.startsWith("Darwin")) {
      return Os.MACOS;
    }
    return osName.startsWith("Windows") ? Os.WINDOWS : Os.OTHER;
  }

  private static Cpu cpu(String osArch) {
    switch (osArch) {
      case "amd64":
      case "x86_64":
        return Cpu.X86_64;
      case "aarch64":
      case "arm64":
        return Cpu.AARCH64;
      case "riscv64":
        return Cpu.RISCV64;
      default:
        return Cpu.OTHER;
    }
  }

  private static String displayName(Os os) {
    switch (os) {
      case LINUX:
        return "Linux";
      case MACOS:
        return "macOS";
      default:
        return "Windows";
    }
  }

  private static String cpuName(Cpu cpu, String osArch) {
    switch (cpu) {
      case X86_64:
        return "x86-64";
      case AARCH64:
        return "aarch64";
      case RISCV64:
        return "riscv64";
      default:
        return osArch;
    }
  }

  /** Read on first use, once. */
  private static final class Current {
    static final Platform PLATFORM = detect();

    private static Platform detect() {
      String osName = System.getProperty("os.name", "");
      String osArch = System.getProperty("os.arch", "");
      CLibrary cLibrary;
      switch (os(osName)) {
        case LINUX:
          cLibrary = mappedCLibrary();
          break;
        case MACOS:
          cLibrary = CLibrary.LIBSYSTEM;
          break;
        case WINDOWS:
          cLibrary = CLibrary.WINDOWS_CRT;
          break;
        default:
          cLibrary = CLibrary.UNKNOWN;
      }
      return of(osName, osArch, cLibrary);
    }

    private static CLibrary mappedCLibrary() {
      try (Stream<String> lines = Files.lines(MAPS)) {
        return linuxCLibrary(lines);
      } catch (IOException | UncheckedIOException | SecurityException e) {
        return CLibrary.UNKNOWN;
      }
    }
  }
}
