package dev.weave.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weave.spi.Platform.CLibrary;
import dev.weave.spi.Platform.Cpu;
import dev.weave.spi.Platform.Os;
import dev.weave.spi.Platform.PthreadKeys;
import java.util.List;
import java.util.OptionalInt;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** Issue 18 §1 and contract rule 16: the platform's facts, and where weave may run. */
class PlatformTest {
  static final Platform LINUX_X86_64_GLIBC = Platform.of("Linux", "amd64", CLibrary.GLIBC);
  static final Platform LINUX_AARCH64_GLIBC = Platform.of("Linux", "aarch64", CLibrary.GLIBC);
  static final Platform MACOS = Platform.of("Mac OS X", "aarch64", CLibrary.LIBSYSTEM);
  static final Platform WINDOWS = Platform.of("Windows 11", "amd64", CLibrary.WINDOWS_CRT);
  static final Platform MUSL = Platform.of("Linux", "amd64", CLibrary.MUSL);
  static final Platform RISCV64 = Platform.of("Linux", "riscv64", CLibrary.GLIBC);

  @Test
  void thisMachineIsAVerifiedPlatformWithItsCLibraryReadFromTheProcess() {
    Platform here = Platform.current();
    assertThat(here).isSameAs(Platform.current());
    assertThat(here.os()).isEqualTo(Os.LINUX);
    assertThat(here.cLibrary())
        .as("the build runs on glibc; /proc/self/maps must show libc.so.6")
        .isEqualTo(CLibrary.GLIBC);
    String arch = System.getProperty("os.arch");
    assertThat(here.cpu()).isEqualTo(arch.equals("aarch64") ? Cpu.AARCH64 : Cpu.X86_64);
    assertThat(here.verified()).isTrue();
    assertThat(here.refusal(false)).isEmpty();
  }

  @Test
  void theCLibraryIsTheOneMappedIntoTheProcess() {
    assertThat(
            Platform.linuxCLibrary(
                maps(
                    "7f1c2a000000-7f1c2a028000 r--p 00000000 08:01 1311 /usr/lib/x86_64-linux-gnu/libc.so.6")))
        .isEqualTo(CLibrary.GLIBC);
    assertThat(
            Platform.linuxCLibrary(
                maps(
                    "7f3b1c000000-7f3b1c025000 r--p 00000000 fd:01 2345 /lib/x86_64-linux-gnu/libc-2.31.so")))
        .as("glibc before 2.34 maps libc-2.NN.so")
        .isEqualTo(CLibrary.GLIBC);
    assertThat(
            Platform.linuxCLibrary(
                maps("7f0000000000-7f0000014000 r--p 00000000 08:01 99 /lib/ld-musl-x86_64.so.1")))
        .isEqualTo(CLibrary.MUSL);
    assertThat(
            Platform.linuxCLibrary(
                maps(
                    "7f0000000000-7f0000001000 r--p 00000000 08:01 98 /lib/libgcompat.so.0",
                    "7f0000100000-7f0000114000 r--p 00000000 08:01 99 /lib/ld-musl-aarch64.so.1",
                    "7f0000200000-7f0000201000 r--p 00000000 08:01 97 /usr/glibc-compat/lib/libc.so.6")))
        .as("a glibc JVM on musl through gcompat runs on musl")
        .isEqualTo(CLibrary.MUSL);
    assertThat(
            Platform.linuxCLibrary(
                maps(
                    "00400000-00401000 r-xp 00000000 08:01 1 /usr/bin/java",
                    "7ffd1000-7ffd2000 rw-p 00000000 00:00 0 [stack]",
                    "7f0000000000-7f0000001000 r--p 00000000 08:01 2 /system/lib64/libc.so")))
        .isEqualTo(CLibrary.UNKNOWN);
  }

  @Test
  void theFactsOfEachPlatform() {
    PthreadKeys glibc = new PthreadKeys(4, 1024, true, 4);
    assertThat(LINUX_X86_64_GLIBC.pthreadKeys()).contains(glibc);
    assertThat(LINUX_AARCH64_GLIBC.pthreadKeys()).contains(glibc);
    assertThat(RISCV64.pthreadKeys()).contains(glibc);
    assertThat(MUSL.pthreadKeys()).contains(new PthreadKeys(4, 128, false, 4));
    assertThat(MACOS.pthreadKeys()).contains(new PthreadKeys(8, 512, true, 4));
    assertThat(WINDOWS.pthreadKeys()).isEmpty();

    assertThat(LINUX_X86_64_GLIBC.gettidSyscall()).isEqualTo(OptionalInt.of(186));
    assertThat(LINUX_AARCH64_GLIBC.gettidSyscall()).isEqualTo(OptionalInt.of(178));
    assertThat(RISCV64.gettidSyscall()).isEqualTo(OptionalInt.of(178));
    assertThat(MUSL.gettidSyscall()).isEqualTo(OptionalInt.of(186));
    assertThat(Platform.of("Linux", "ppc64le", CLibrary.GLIBC).gettidSyscall())
        .as("no number is guessed for a CPU weave has no number for")
        .isEmpty();
    assertThat(MACOS.gettidSyscall()).isEmpty();

    assertThat(LINUX_X86_64_GLIBC.libjvmFileName()).isEqualTo("libjvm.so");
    assertThat(MUSL.libjvmFileName()).isEqualTo("libjvm.so");
    assertThat(MACOS.libjvmFileName()).isEqualTo("libjvm.dylib");
    assertThat(WINDOWS.libjvmFileName()).isEqualTo("jvm.dll");

    assertThat(LINUX_X86_64_GLIBC.errnoName(11)).contains("EAGAIN");
    assertThat(MUSL.errnoName(11)).contains("EAGAIN");
    assertThat(MACOS.errnoName(35)).contains("EAGAIN");
    assertThat(MACOS.errnoName(11)).isEmpty();
    assertThat(MACOS.errnoName(22)).contains("EINVAL");
  }

  @Test
  void platformsAreNamedByOsCpuAndCLibrary() {
    assertThat(LINUX_X86_64_GLIBC).hasToString("Linux x86-64 with glibc");
    assertThat(MACOS).hasToString("macOS aarch64 with libSystem");
    assertThat(WINDOWS).hasToString("Windows x86-64 with the Windows C runtime");
    assertThat(MUSL).hasToString("Linux x86-64 with musl");
    assertThat(RISCV64).hasToString("Linux riscv64 with glibc");
    assertThat(Platform.of("FreeBSD", "amd64", CLibrary.UNKNOWN))
        .hasToString("FreeBSD x86-64 with an unknown C library");
    assertThat(Platform.of("Linux", "s390x", CLibrary.GLIBC)).hasToString("Linux s390x with glibc");
  }

  @Test
  void onlyLinuxX8664AndAarch64WithGlibcAreVerified() {
    assertThat(LINUX_X86_64_GLIBC.verified()).isTrue();
    assertThat(LINUX_AARCH64_GLIBC.verified()).isTrue();
    assertThat(Platform.of("Linux", "x86_64", CLibrary.GLIBC).verified()).isTrue();
    for (Platform p : List.of(MACOS, WINDOWS, MUSL, RISCV64)) {
      assertThat(p.verified()).as(p.toString()).isFalse();
    }
  }

  @Test
  void anUnverifiedPlatformIsRefusedByNameAndTheFlagLetsPosixOnesThrough() {
    for (Platform p : List.of(MACOS, MUSL, RISCV64)) {
      assertThat(p.refusal(false))
          .hasValueSatisfying(
              reason ->
                  assertThat(reason)
                      .startsWith("not verified on " + p + ": ")
                      .contains("-D" + Platform.UNVERIFIED_PROPERTY + "=true"));
      assertThat(p.refusal(true)).as(p.toString()).isEmpty();
    }
    for (boolean flag : new boolean[] {false, true}) {
      assertThat(WINDOWS.refusal(flag))
          .hasValueSatisfying(
              reason ->
                  assertThat(reason)
                      .contains("Windows x86-64 with the Windows C runtime")
                      .contains("POSIX threads")
                      .contains("does not change that"));
    }
    Platform unknown = Platform.of("Linux", "amd64", CLibrary.UNKNOWN);
    assertThat(unknown.refusal(true))
        .as("a platform whose key width weave does not know cannot run, flag or not")
        .hasValueSatisfying(
            reason -> assertThat(reason).contains("Linux x86-64 with an unknown C library"));
  }

  @Test
  void keysAreNarrowedOnlyByThePlatformsWidth() {
    PthreadKeys four = LINUX_X86_64_GLIBC.requirePthreadKeys();
    assertThat(four.narrow(1023)).isEqualTo(1023);
    assertThat(four.narrow(0xFFFF_FFFFL)).isEqualTo(-1);
    assertThatThrownBy(() -> four.narrow(1L << 32))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(Long.toString(1L << 32));
    assertThatThrownBy(() -> MACOS.requirePthreadKeys().narrow(300))
        .as("8-byte keys are never narrowed")
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(WINDOWS::requirePthreadKeys)
        .isInstanceOf(UnsupportedOperationException.class)
        .hasMessageContaining("Windows x86-64");
  }

  private static Stream<String> maps(String... lines) {
    return Stream.of(lines);
  }
}
