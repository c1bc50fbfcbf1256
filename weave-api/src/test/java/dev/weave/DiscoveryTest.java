package dev.weave;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weave.Discovery.Found;
import dev.weave.spi.CapturedLog;
import dev.weave.spi.TestBackends;
import dev.weave.spi.WeaveBackend;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Issue 19 §3: a provider that cannot be loaded is listed with its failure quoted (no name is
 * guessed from the message), logged at WARNING as a defect, and hides nothing. Discovery asks a
 * backend whether it is usable (which loads its native side) only when that is needed, once.
 */
class DiscoveryTest {
  /** What {@link ServiceLoader#stream()} yields: a provider, or a failure to find the next one. */
  private static Iterator<ServiceLoader.Provider<WeaveBackend>> providers(Object... steps) {
    Deque<Object> left = new ArrayDeque<>(List.of(steps));
    return new Iterator<>() {
      @Override
      public boolean hasNext() {
        if (left.peekFirst() instanceof Error) {
          throw (Error) left.removeFirst();
        }
        return !left.isEmpty();
      }

      @Override
      @SuppressWarnings("unchecked")
      public ServiceLoader.Provider<WeaveBackend> next() {
        return (ServiceLoader.Provider<WeaveBackend>) left.removeFirst();
      }
    };
  }

  private static ServiceLoader.Provider<WeaveBackend> provider(
      Class<? extends WeaveBackend> type, Supplier<WeaveBackend> make) {
    return new ServiceLoader.Provider<>() {
      @Override
      public Class<? extends WeaveBackend> type() {
        return type;
      }

      @Override
      public WeaveBackend get() {
        return make.get();
      }
    };
  }

  @Test
  void brokenProvidersAreListedWithTheirFailureQuotedAndLoggedAtWarning() {
    ServiceConfigurationError notFound =
        new ServiceConfigurationError(
            "dev.weave.spi.WeaveBackend: Provider org.example.Gone not found");
    ServiceConfigurationError notMade =
        new ServiceConfigurationError(
            "dev.weave.spi.WeaveBackend: Provider dev.weave.spi.TestBackends$Failing could not be"
                + " instantiated",
            new UnsatisfiedLinkError("simulated: libmissing.so not found"));
    List<Found> found;
    try (CapturedLog log = new CapturedLog()) {
      found =
          Discovery.discover(
              providers(
                  notFound,
                  provider(
                      TestBackends.Failing.class,
                      () -> {
                        throw notMade;
                      }),
                  provider(TestBackends.Usable.class, TestBackends.Usable::new),
                  provider(TestBackends.Duplicate.class, TestBackends.Duplicate::new)));
      List<LogRecord> warnings = log.records(Level.WARNING);
      assertThat(warnings).hasSize(3);
      assertThat(warnings.get(0).getThrown()).isSameAs(notFound);
      assertThat(warnings.get(0).getMessage())
          .isEqualTo(
              "weave backend 'unloadable provider 1' is unusable here: packaging defect: failed"
                  + " to load:"
                  + " ServiceConfigurationError: dev.weave.spi.WeaveBackend: Provider"
                  + " org.example.Gone not found");
      assertThat(warnings.get(1).getThrown()).isSameAs(notMade);
      assertThat(warnings.get(2).getMessage()).contains("another backend named 'test-usable'");
    }
    Map<String, Found> byName =
        found.stream().collect(Collectors.toMap(Found::name, Function.identity()));
    assertThat(byName.get("test-usable").usable()).isTrue();
    assertThat(byName.get("unloadable provider 1").reason())
        .isEqualTo(
            "packaging defect: failed to load: ServiceConfigurationError:"
                + " dev.weave.spi.WeaveBackend: Provider org.example.Gone not found");
    assertThat(byName.get("unloadable provider 1").cause()).isSameAs(notFound);
    Found failing = byName.get(TestBackends.Failing.class.getName());
    assertThat(failing.reason())
        .startsWith("packaging defect: failed to load: ServiceConfigurationError:")
        .endsWith("<- UnsatisfiedLinkError: simulated: libmissing.so not found");
    assertThat(failing.cause()).isSameAs(notMade);
    assertThat(byName.get("test-usable (" + TestBackends.Duplicate.class.getName() + ")").reason())
        .isEqualTo(
            "packaging defect: another backend named 'test-usable' was found first: "
                + TestBackends.Usable.class.getName());
  }

  @Test
  void aBackendThatCallsWeaveDuringDiscoveryIsToldSo() {
    Backend calling =
        Weave.backends().stream()
            .filter(b -> b.name().equals(TestBackends.CallsWeave.class.getName()))
            .findFirst()
            .orElseThrow();
    assertThat(calling.available()).isFalse();
    assertThat(calling.unavailabilityReason())
        .contains("IllegalStateException: Weave was called while it discovers its backends");
    assertThat(calling.unavailabilityCause()).isInstanceOf(IllegalStateException.class);
  }

  /** Counts the times it is asked whether it is usable. */
  private static final class Counting implements WeaveBackend {
    final AtomicInteger asked = new AtomicInteger();
    private final String name;

    Counting(String name) {
      this.name = name;
    }

    @Override
    public String name() {
      return name;
    }

    @Override
    public int priority() {
      return 1;
    }

    @Override
    public java.util.Optional<String> unavailabilityReason() {
      asked.incrementAndGet();
      return java.util.Optional.of("simulated: its native library is missing");
    }

    @Override
    public dev.weave.DestructorRegistry registry() {
      throw new AssertionError("registry() of an unusable backend");
    }
  }

  @Test
  void aBackendIsAskedWhetherItIsUsableOnFirstNeedAndOnce() {
    Counting counting = new Counting("test-counting");
    List<Found> found = Discovery.discover(providers(provider(Counting.class, () -> counting)));
    assertThat(found).extracting(Found::name).containsExactly("test-counting");
    assertThat(counting.asked).as("asked by discovery").hasValue(0);
    assertThat(found.get(0).usable()).isFalse();
    assertThat(found.get(0).reason()).isEqualTo("simulated: its native library is missing");
    assertThat(found.get(0).toBackend().available()).isFalse();
    assertThat(counting.asked).as("asked on first need, then kept").hasValue(1);
  }
}
