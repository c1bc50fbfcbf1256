package dev.weave;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weave.spi.CapturedLog;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class WeaveTest {
  @AfterEach
  void clearProperty() {
    System.clearProperty(Weave.BACKEND_PROPERTY);
  }

  /** Every choice is logged once per JVM: forget them, so that a test sees the line it causes. */
  @BeforeEach
  void forgetTheChoicesLogged() {
    Weave.ANNOUNCED.clear();
  }

  private static Map<String, Backend> byName() {
    return Weave.backends().stream().collect(Collectors.toMap(Backend::name, Function.identity()));
  }

  @Test
  void listsEveryProviderUsableOrNotWithItsReason() {
    Map<String, Backend> backends = byName();
    assertThat(backends.get("test-usable")).isEqualTo(new Backend("test-usable", 5, true, null));
    assertThat(backends.get("test-unusable").available()).isFalse();
    assertThat(backends.get("test-unusable").unavailabilityReason())
        .contains("needs a machine that does not exist");
  }

  @Test
  void aProviderThatFailsToLoadIsListedAndHidesNothing() {
    Backend failing = byName().get("dev.weave.spi.TestBackends$Failing");
    assertThat(failing).isNotNull();
    assertThat(failing.available()).isFalse();
    assertThat(failing.unavailabilityReason())
        .isEqualTo(
            "packaging defect: failed to load: ServiceConfigurationError: dev.weave.spi.WeaveBackend:"
                + " Provider dev.weave.spi.TestBackends$Failing could not be instantiated"
                + " <- UnsatisfiedLinkError: simulated: libmissing.so not found");
    assertThat(failing.unavailabilityCause())
        .isInstanceOf(ServiceConfigurationError.class)
        .hasRootCauseInstanceOf(UnsatisfiedLinkError.class);
    assertThat(Weave.registry().backendName()).isEqualTo("test-usable");
  }

  /**
   * Issue 11, defect 7: an Error that is not a LinkageError, or any exception, never breaks
   * discovery.
   */
  @Test
  void whateverAProviderThrowsBecomesItsReasonOnEveryCall() {
    for (int call = 0; call < 2; call++) {
      Map<String, Backend> backends = byName();
      Backend loading = backends.get("test-error-while-loading");
      assertThat(loading).isNotNull();
      assertThat(loading.available()).isFalse();
      assertThat(loading.unavailabilityReason())
          .contains("explained: java.lang.InternalError: simulated: the native side is broken");

      Backend precondition = backends.get("test-throwing-precondition");
      assertThat(precondition).isNotNull();
      assertThat(precondition.available()).isFalse();
      assertThat(precondition.unavailabilityReason())
          .contains("IllegalStateException: simulated: cannot tell which CPU this is");

      Backend reason = backends.get("test-error-in-reason");
      assertThat(reason).isNotNull();
      assertThat(reason.available()).isFalse();
      assertThat(reason.unavailabilityReason())
          .contains("failed to load")
          .contains("InternalError: simulated: reason lookup crashed");
    }
    assertThat(Weave.registry().backendName()).isEqualTo("test-usable");
    assertThatThrownBy(() -> Weave.registry("test-error-while-loading"))
        .isInstanceOf(WeaveException.class)
        .hasMessageContaining("'test-error-while-loading' is unusable here")
        .hasMessageContaining("simulated: the native side is broken")
        .cause()
        .isInstanceOf(InternalError.class)
        .hasMessage("simulated: the native side is broken");
  }

  @Test
  void aSecondProviderWithTheSameNameIsUnusable() {
    List<Backend> duplicates =
        Weave.backends().stream().filter(b -> b.name().startsWith("test-usable (")).toList();
    assertThat(duplicates).hasSize(1);
    assertThat(duplicates.get(0).available()).isFalse();
    assertThat(duplicates.get(0).unavailabilityReason())
        .contains("another backend named 'test-usable'");
  }

  @Test
  void backendsAreListedHighestPriorityFirst() {
    List<Integer> priorities = Weave.backends().stream().map(Backend::priority).toList();
    assertThat(priorities).isSortedAccordingTo((a, b) -> Integer.compare(b, a));
  }

  @Test
  void picksTheHighestPriorityUsableBackend() {
    assertThat(Weave.registry().backendName()).isEqualTo("test-usable");
    assertThat(Weave.registry()).isSameAs(Weave.registry("test-usable"));
  }

  @Test
  void thePropertyNamesTheBackend() {
    System.setProperty(Weave.BACKEND_PROPERTY, "test-usable");
    assertThat(Weave.registry().backendName()).isEqualTo("test-usable");
  }

  @Test
  void anUnusableNamedBackendIsRefusedWithTheReasonAndTheUsableOnes() {
    System.setProperty(Weave.BACKEND_PROPERTY, "test-unusable");
    assertThatThrownBy(Weave::registry)
        .isInstanceOf(WeaveException.class)
        .hasMessageContaining("'test-unusable' is unusable here")
        .hasMessageContaining("needs a machine that does not exist")
        .hasMessageContaining("usable: test-usable");
  }

  @Test
  void anUnknownNameIsRefusedWithWhatWasFound() {
    assertThatThrownBy(() -> Weave.registry("nope"))
        .isInstanceOf(WeaveException.class)
        .hasMessageContaining("no weave backend named 'nope'")
        .hasMessageContaining("usable: test-usable")
        .hasMessageContaining("test-unusable (simulated")
        .hasMessageContaining("weave-ffm");
    System.setProperty(Weave.BACKEND_PROPERTY, "nope");
    assertThatThrownBy(Weave::registry)
        .isInstanceOf(WeaveException.class)
        .hasMessageContaining("'nope'");
  }

  @Test
  void aNullNameIsRefused() {
    assertThatThrownBy(() -> Weave.registry(null))
        .isInstanceOf(NullPointerException.class)
        .hasMessageContaining("name");
  }

  /** Issue 19 §3: the Throwable behind a reason is listed and chained, not only its words. */
  @Test
  void theCauseIsListedAndChained() {
    Backend loading = byName().get("test-error-while-loading");
    assertThat(loading.unavailabilityCause())
        .isInstanceOf(InternalError.class)
        .hasMessage("simulated: the native side is broken");
    assertThat(byName().get("test-usable").unavailabilityCause()).isNull();
    assertThat(byName().get("test-unusable").unavailabilityCause())
        .as("a backend written before unavailabilityCause() has none")
        .isNull();
    Backend reason = byName().get("test-error-in-reason");
    assertThat(reason.unavailabilityCause()).isInstanceOf(InternalError.class);
    assertThatThrownBy(() -> Weave.registry("test-error-in-reason"))
        .isInstanceOf(WeaveException.class)
        .hasCauseReference(reason.unavailabilityCause());
    assertThatThrownBy(() -> Weave.registry("test-unusable"))
        .isInstanceOf(WeaveException.class)
        .hasNoCause();
  }

  @Test
  void theBackendChosenIsLoggedAtDebugWithWhy() {
    try (CapturedLog log = new CapturedLog()) {
      Weave.registry();
      Weave.registry();
      System.setProperty(Weave.BACKEND_PROPERTY, "test-usable");
      Weave.registry();
      assertThat(log.messages(Level.FINE))
          .containsExactly(
              "using test-usable (priority 5, the highest usable); lower priority:"
                  + " test-without-run-destructors",
              "using test-usable: -Dweave.backend=test-usable");
    }
  }
}
