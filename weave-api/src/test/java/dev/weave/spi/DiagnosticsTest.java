package dev.weave.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class DiagnosticsTest {
  @Test
  void checkNamesTheErrnoAndItsLikelyCause() {
    assertThatCode(() -> Diagnostics.check(0, "pthread_key_create")).doesNotThrowAnyException();
    assertThatThrownBy(() -> Diagnostics.check(Diagnostics.EAGAIN, "pthread_key_create"))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage(
            "pthread_key_create failed: EAGAIN (11): the process has used up its pthread keys"
                + " (PTHREAD_KEYS_MAX, 1024 on glibc)");
    assertThatThrownBy(() -> Diagnostics.check(Diagnostics.ENOMEM, "pthread_setspecific"))
        .hasMessage("pthread_setspecific failed: ENOMEM (12): out of memory");
    assertThatThrownBy(() -> Diagnostics.check(Diagnostics.EINVAL, "pthread_key_delete"))
        .hasMessage(
            "pthread_key_delete failed: EINVAL (22): the pthread key is invalid or was deleted");
    assertThatThrownBy(() -> Diagnostics.check(99, "pthread_key_delete"))
        .hasMessage("pthread_key_delete failed: error 99");
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
