package dev.weave.spi;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Optional;
import org.junit.jupiter.api.Test;

class NativeAccessTest {
  private static final Module UNNAMED = NativeAccessTest.class.getModule();
  private static final Module NAMED = Object.class.getModule();

  @Test
  void flagNamesTheModuleOrAllUnnamed() {
    assertThat(UNNAMED.isNamed()).isFalse();
    assertThat(NativeAccess.enableFlag(UNNAMED)).isEqualTo("--enable-native-access=ALL-UNNAMED");
    assertThat(NativeAccess.enableFlag(NAMED)).isEqualTo("--enable-native-access=java.base");
  }

  @Test
  void aDenialDeepInTheCausesIsReportedWithTheFlag() {
    // As FFM and JNA fail: the JDK's IllegalCallerException under a class initialization error.
    Throwable denied =
        new IllegalCallerException("Illegal native access from module java.base (jrt:/java.base)");
    Optional<String> reason = NativeAccess.denial(NAMED, new ExceptionInInitializerError(denied));
    assertThat(reason)
        .hasValueSatisfying(
            text ->
                assertThat(text)
                    .startsWith("the JVM denies native access to module java.base (")
                    .contains("run with --enable-native-access=java.base")
                    .endsWith("[Illegal native access from module java.base (jrt:/java.base)]"));
  }

  @Test
  void aDenialQuotedInAnotherErrorsMessageIsReportedToo() {
    // As jffi fails: the denial's text, stack trace and all, inside an UnsatisfiedLinkError.
    Throwable wrapped =
        new UnsatisfiedLinkError(
            "java.lang.IllegalCallerException: Illegal native access from an unnamed module (file:/x/jffi.jar)\n"
                + "\tat java.base/java.lang.Module.ensureNativeAccess(Module.java:1)");
    assertThat(NativeAccess.denial(UNNAMED, wrapped))
        .hasValueSatisfying(
            text ->
                assertThat(text)
                    .startsWith("the JVM denies native access to the class path (")
                    .contains("run with --enable-native-access=ALL-UNNAMED")
                    .endsWith("[Illegal native access from an unnamed module (file:/x/jffi.jar)]"));
  }

  @Test
  void otherFailuresAreNotDenials() {
    assertThat(
            NativeAccess.denial(
                UNNAMED,
                new UnsatisfiedLinkError("libjffi-1.2.so: cannot open shared object file")))
        .isEmpty();
    assertThat(
            NativeAccess.denial(UNNAMED, new IllegalCallerException("not the caller we expected")))
        .isEmpty();
    assertThat(NativeAccess.denial(UNNAMED, new RuntimeException((String) null))).isEmpty();
  }

  @Test
  void aCycleOfCausesEnds() {
    RuntimeException first = new RuntimeException("first");
    RuntimeException second = new RuntimeException("second", first);
    first.initCause(second);
    assertThat(NativeAccess.denial(UNNAMED, first)).isEmpty();
  }
}
