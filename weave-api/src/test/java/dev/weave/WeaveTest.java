package dev.weave;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class WeaveTest {
  @AfterEach
  void clearProperty() {
    System.clearProperty(Weave.BACKEND_PROPERTY);
  }

  private static Map<String, Backend> byName() {
    return Weave.backends().stream().collect(Collectors.toMap(Backend::name, Function.identity()));
  }

  @Test
  void listsEveryProviderUsableOrNotWithItsReason() {
    Map<String, Backend> backends = byName();
    assertThat(backends.get("test-usable")).isEqualTo(new Backend("test-usable", 5, true, null));
    assertThat(backends.get("test-unusable").available()).isFalse();
    assertThat(backends.get("test-unusable").unavailabilityReason()).contains("needs a machine that does not exist");
  }

  @Test
  void aProviderThatFailsToLoadIsListedAndHidesNothing() {
    Backend failing = byName().get("dev.weave.spi.TestBackends$Failing");
    assertThat(failing).isNotNull();
    assertThat(failing.available()).isFalse();
    assertThat(failing.unavailabilityReason()).contains("failed to load").contains("libmissing.so");
    assertThat(Weave.registry().backendName()).isEqualTo("test-usable");
  }

  @Test
  void aSecondProviderWithTheSameNameIsUnusable() {
    List<Backend> duplicates =
        Weave.backends().stream().filter(b -> b.name().startsWith("test-usable (")).toList();
    assertThat(duplicates).hasSize(1);
    assertThat(duplicates.get(0).available()).isFalse();
    assertThat(duplicates.get(0).unavailabilityReason()).contains("another backend named 'test-usable'");
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
    assertThatThrownBy(Weave::registry).isInstanceOf(WeaveException.class).hasMessageContaining("'nope'");
  }

  @Test
  void aNullNameIsRefused() {
    assertThatThrownBy(() -> Weave.registry(null)).isInstanceOf(NullPointerException.class).hasMessageContaining("name");
  }
}
