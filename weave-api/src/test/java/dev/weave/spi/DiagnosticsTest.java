package dev.weave.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.reflect.InvocationTargetException;
import java.util.ServiceConfigurationError;
import org.junit.jupiter.api.Test;

class DiagnosticsTest {
  @Test
  void checkNamesTheErrnoAndItsLikelyCause() {
    assertThatCode(() -> Diagnostics.check(0, "pthread_key_create")).doesNotThrowAnyException();
    assertThatThrownBy(() -> Diagnostics.check(99, "pthread_key_delete"))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("pthread_key_delete failed: error 99");
    // this machine is Linux (the build runs on no other): glibc's or musl's numbers
    assertThatThrownBy(() -> Diagnostics.check(11, "pthread_key_create"))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageStartingWith(
            "pthread_key_create failed: EAGAIN (11): the process has used up its pthread keys");
  }

  /** Issue 18: the errno numbers and the key limit are the platform's, not Linux glibc's. */
  @Test
  void errnoNamesAndTheKeyLimitAreThePlatforms() {
    Platform glibc = Platform.of("Linux", "amd64", Platform.CLibrary.GLIBC);
    assertThat(Diagnostics.errnoName(glibc, 11))
        .isEqualTo(
            "EAGAIN (11): the process has used up its pthread keys"
                + " (PTHREAD_KEYS_MAX is 1024 with glibc)");
    assertThat(Diagnostics.errnoName(glibc, 12)).isEqualTo("ENOMEM (12): out of memory");
    assertThat(Diagnostics.errnoName(glibc, 22))
        .isEqualTo("EINVAL (22): the pthread key is invalid or was deleted");
    assertThat(Diagnostics.errnoName(glibc, 35)).isEqualTo("error 35");

    Platform musl = Platform.of("Linux", "aarch64", Platform.CLibrary.MUSL);
    assertThat(Diagnostics.errnoName(musl, 11)).endsWith("(PTHREAD_KEYS_MAX is 128 with musl)");

    Platform macos = Platform.of("Mac OS X", "aarch64", Platform.CLibrary.LIBSYSTEM);
    assertThat(Diagnostics.errnoName(macos, 35))
        .isEqualTo(
            "EAGAIN (35): the process has used up its pthread keys"
                + " (PTHREAD_KEYS_MAX is 512 with libSystem)");
    assertThat(Diagnostics.errnoName(macos, 11)).isEqualTo("error 11");

    Platform freebsd = Platform.of("FreeBSD", "amd64", Platform.CLibrary.UNKNOWN);
    assertThat(Diagnostics.errnoName(freebsd, 35)).isEqualTo("error 35");
  }

  /** Issue 19 §3: a packaging defect is told apart from a problem of the machine. */
  @Test
  void packagingDefectsAreToldApartFromTheMachinesProblems() {
    assertThat(Diagnostics.isPackagingDefect(new NoClassDefFoundError("com/sun/jna/Native")))
        .isTrue();
    assertThat(Diagnostics.isPackagingDefect(new ClassNotFoundException("dev.weave.ffm.X")))
        .isTrue();
    assertThat(Diagnostics.isPackagingDefect(new NoSuchMethodException("X.<init>()"))).isTrue();
    assertThat(Diagnostics.isPackagingDefect(new NoSuchMethodError("X.y()V"))).isTrue();
    assertThat(
            Diagnostics.isPackagingDefect(
                new ServiceConfigurationError(
                    "dev.weave.spi.WeaveBackend: Provider x.Y could not be instantiated",
                    new UnsatisfiedLinkError("libx.so"))))
        .as("a provider that cannot be made is broken, whatever the cause")
        .isTrue();
    assertThat(
            Diagnostics.isPackagingDefect(
                new ExceptionInInitializerError(new NoClassDefFoundError("jnr/ffi/Runtime"))))
        .isTrue();

    assertThat(Diagnostics.isPackagingDefect(new UnsatisfiedLinkError("libjnidispatch.so")))
        .isFalse();
    assertThat(
            Diagnostics.isPackagingDefect(
                new ExceptionInInitializerError(new UnsatisfiedLinkError("jffi stub"))))
        .isFalse();
    assertThat(
            Diagnostics.isPackagingDefect(
                new UnsupportedClassVersionError("class file version 66.0")))
        .isFalse();
    assertThat(Diagnostics.isPackagingDefect(new IllegalCallerException("Illegal native access")))
        .isFalse();
    assertThat(
            Diagnostics.isPackagingDefect(
                new NoClassDefFoundError("Could not initialize class dev.weave.jnr.JnrPrimitives")))
        .as("an initializer that failed before; that failure was the cause")
        .isFalse();
    assertThat(Diagnostics.isPackagingDefect(new IllegalStateException("no 64-bit JVM"))).isFalse();
    assertThat(
            Diagnostics.isPackagingDefect(
                new InvocationTargetException(new UnsupportedOperationException("x"))))
        .isFalse();
  }

  @Test
  void causesAreOneLineInnermostLastWithoutWrappersThatAddNothing() {
    UnsatisfiedLinkError inner =
        new UnsatisfiedLinkError(
            "java.lang.UnsatisfiedLinkError: could not locate stub library in jar file.  Tried [jni/x]\n\tat com.kenai.jffi.internal.StubLoader.load(StubLoader.java:338)");
    Throwable outer =
        new IllegalStateException("loading jffi", new ExceptionInInitializerError(inner));
    assertThat(Diagnostics.causes(outer))
        .isEqualTo(
            "IllegalStateException: loading jffi <- UnsatisfiedLinkError: could not locate stub library in jar file.  Tried [jni/x]");
    assertThat(Diagnostics.causes(new RuntimeException(inner)))
        .startsWith("UnsatisfiedLinkError: could not locate");
    assertThat(Diagnostics.causes(new NullPointerException())).isEqualTo("NullPointerException");
  }

  @Test
  void causesEndsOnACycleAndIsCut() {
    IllegalStateException first = new IllegalStateException("first");
    IllegalArgumentException second = new IllegalArgumentException("second", first);
    first.initCause(second);
    assertThat(Diagnostics.causes(first))
        .isEqualTo("IllegalStateException: first <- IllegalArgumentException: second");
    assertThat(Diagnostics.causes(new IllegalStateException("x".repeat(5000))))
        .hasSize(Diagnostics.MAX_CAUSES_LENGTH + 3);
  }
}
