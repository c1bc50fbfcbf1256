package dev.weave.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weave.WeaveException;
import java.lang.reflect.InvocationTargetException;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.logging.Level;
import org.junit.jupiter.api.Test;

/** Issue 11, defect 7: whatever a provider throws becomes its reason, on every later call too. */
class LoadingBackendTest {
  /** A backend whose three hooks do what the test says, counting the loads. */
  private static class Scripted extends LoadingBackend {
    final AtomicInteger loads = new AtomicInteger();
    private final Optional<String> precondition;
    private final LoadAction load;
    private final Function<Throwable, String> explain;

    Scripted(Optional<String> precondition, LoadAction load, Function<Throwable, String> explain) {
      this(null, precondition, load, explain);
    }

    Scripted(
        Platform platform,
        Optional<String> precondition,
        LoadAction load,
        Function<Throwable, String> explain) {
      super("scripted", 1, platform);
      this.precondition = precondition;
      this.load = load;
      this.explain = explain;
    }

    @Override
    protected Optional<String> precondition() {
      return precondition;
    }

    @Override
    protected NativePrimitives loadPrimitives() throws Exception {
      loads.incrementAndGet();
      return load.load();
    }

    @Override
    protected String explain(Throwable failure) {
      return explain.apply(failure);
    }
  }

  @FunctionalInterface
  private interface LoadAction {
    NativePrimitives load() throws Exception;
  }

  private static void assertUnusableOnEveryCall(Scripted backend, String reason, Throwable cause) {
    for (int call = 0; call < 3; call++) {
      assertThat(backend.unavailabilityReason())
          .hasValueSatisfying(r -> assertThat(r).contains(reason));
      if (cause == null) {
        assertThat(backend.unavailabilityCause()).isEmpty();
      } else {
        assertThat(backend.unavailabilityCause()).containsSame(cause);
      }
      assertThatThrownBy(backend::registry)
          .isInstanceOf(WeaveException.class)
          .hasMessageContaining("'scripted' is unusable here")
          .hasMessageContaining(reason)
          .satisfies(e -> assertThat(e.getCause()).isSameAs(cause));
    }
  }

  @Test
  void aLoadedBackendSaysWhichWalkerItsEngineRuns() {
    Scripted java = new Scripted(Optional.empty(), SimulatedPrimitives::new, Throwable::toString);
    assertThat(java.walker())
        .hasValueSatisfying(
            walker ->
                assertThat(walker)
                    .startsWith("java walker: ")
                    .contains("the backend loads no native library"));
    Scripted nativeWalker =
        new Scripted(
            Optional.empty(),
            () -> new SimulatedPrimitives().withNativeWalker(),
            Throwable::toString);
    assertThat(nativeWalker.walker()).contains("native walker");
    Scripted unusable =
        new Scripted(Optional.of("not here"), SimulatedPrimitives::new, Throwable::toString);
    assertThat(unusable.walker()).isEmpty();
  }

  @Test
  void anErrorThatIsNotALinkageErrorIsTheReason() {
    InternalError error = new InternalError("simulated: the native side is broken");
    Scripted backend =
        new Scripted(
            Optional.empty(),
            () -> {
              throw error;
            },
            failure -> "explained: " + failure.getMessage());
    assertUnusableOnEveryCall(backend, "explained: simulated: the native side is broken", error);
    assertThat(backend.loads).hasValue(1);
  }

  @Test
  void aLinkageErrorIsTheReasonAsBefore() {
    UnsatisfiedLinkError error = new UnsatisfiedLinkError("simulated: libmissing.so");
    Scripted backend =
        new Scripted(
            Optional.empty(),
            () -> {
              throw error;
            },
            failure -> "explained: " + failure.getMessage());
    assertUnusableOnEveryCall(backend, "explained: simulated: libmissing.so", error);
  }

  @Test
  void aReflectiveConstructorsOwnExceptionIsExplainedNotItsWrapper() {
    IllegalStateException error = new IllegalStateException("simulated: no 64-bit JVM");
    Scripted backend =
        new Scripted(
            Optional.empty(),
            () -> {
              throw new InvocationTargetException(error);
            },
            failure -> "explained: " + failure);
    assertUnusableOnEveryCall(
        backend, "explained: java.lang.IllegalStateException: simulated: no 64-bit JVM", error);
  }

  @Test
  void aThrowingPreconditionIsTheReason() {
    IllegalStateException error =
        new IllegalStateException("simulated: cannot tell which CPU this is");
    Scripted backend =
        new Scripted(
            null,
            () -> {
              throw new AssertionError("loaded after a failed precondition");
            },
            failure -> "explained: " + failure.getMessage()) {
          @Override
          protected Optional<String> precondition() {
            throw error;
          }
        };
    assertUnusableOnEveryCall(
        backend, "explained: simulated: cannot tell which CPU this is", error);
    assertThat(backend.loads).hasValue(0);
  }

  @Test
  void aPreconditionThatAnswersNullIsAReasonNotACrash() {
    Scripted backend =
        new Scripted(null, () -> new SimulatedPrimitives(), failure -> "explained: " + failure);
    assertThat(backend.unavailabilityReason())
        .hasValueSatisfying(r -> assertThat(r).contains("NullPointerException"));
    assertThat(backend.unavailabilityCause()).containsInstanceOf(NullPointerException.class);
    assertThat(backend.loads).hasValue(0);
  }

  @Test
  void anUnmetPreconditionIsTheReasonWithNoCause() {
    Scripted backend =
        new Scripted(
            Optional.of("needs a machine that does not exist"),
            () -> {
              throw new AssertionError("loaded");
            },
            String::valueOf);
    assertUnusableOnEveryCall(backend, "needs a machine that does not exist", null);
    assertThat(backend.loads).hasValue(0);
  }

  @Test
  void anExplanationThatThrowsStillGivesAReason() {
    UnsatisfiedLinkError error = new UnsatisfiedLinkError("simulated: libmissing.so");
    Scripted backend =
        new Scripted(
            Optional.empty(),
            () -> {
              throw error;
            },
            failure -> {
              throw new InternalError("simulated: explain crashed");
            });
    assertUnusableOnEveryCall(
        backend, "failed to load: UnsatisfiedLinkError: simulated: libmissing.so", error);
    assertThat(backend.unavailabilityReason().orElseThrow())
        .contains("InternalError: simulated: explain crashed");
    assertThat(error.getSuppressed()).hasSize(1);
  }

  @Test
  void anExplanationThatSaysNothingGivesTheFailure() {
    UnsatisfiedLinkError error = new UnsatisfiedLinkError("simulated: libmissing.so");
    Scripted backend =
        new Scripted(
            Optional.empty(),
            () -> {
              throw error;
            },
            failure -> null);
    assertUnusableOnEveryCall(
        backend, "failed to load: UnsatisfiedLinkError: simulated: libmissing.so", error);
  }

  @Test
  void aUsableBackendLoadsOnce() {
    Scripted backend = new Scripted(Optional.empty(), SimulatedPrimitives::new, String::valueOf);
    assertThat(backend.unavailabilityReason()).isEmpty();
    assertThat(backend.unavailabilityCause()).isEmpty();
    assertThat(backend.registry()).isSameAs(backend.registry());
    assertThat(backend.registry().backendName()).isEqualTo("scripted");
    assertThat(backend.loads).hasValue(1);
  }

  /** Contract rule 16: a platform weave's CI does not run on is refused by name, before loading. */
  @Test
  void anUnverifiedPlatformIsRefusedByNameBeforeAnythingLoads() {
    for (Platform platform :
        List.of(
            PlatformTest.MACOS, PlatformTest.WINDOWS, PlatformTest.MUSL, PlatformTest.RISCV64)) {
      Scripted backend =
          new Scripted(platform, Optional.empty(), SimulatedPrimitives::new, String::valueOf);
      assertUnusableOnEveryCall(backend, platform.toString(), null);
      assertThat(backend.loads).hasValue(0);
    }
  }

  @Test
  void theUnverifiedFlagLetsPosixPlatformsThroughButNeverWindows() {
    System.setProperty(Platform.UNVERIFIED_PROPERTY, "true");
    try (CapturedLog log = new CapturedLog()) {
      for (Platform platform :
          List.of(PlatformTest.MACOS, PlatformTest.MUSL, PlatformTest.RISCV64)) {
        Scripted backend =
            new Scripted(platform, Optional.empty(), SimulatedPrimitives::new, String::valueOf);
        assertThat(backend.unavailabilityReason()).as(platform.toString()).isEmpty();
        assertThat(backend.loads).hasValue(1);
      }
      Scripted windows =
          new Scripted(
              PlatformTest.WINDOWS, Optional.empty(), SimulatedPrimitives::new, String::valueOf);
      assertUnusableOnEveryCall(windows, "Windows x86-64", null);
      assertThat(windows.loads).hasValue(0);
    } finally {
      System.clearProperty(Platform.UNVERIFIED_PROPERTY);
    }
  }

  /** STYLE.md section 3: availability is proved by use, the same way for every backend. */
  @Test
  void primitivesThatFailTheProbeMakeTheBackendUnusable() {
    Scripted wrongWord =
        new Scripted(
            Optional.empty(),
            () ->
                new BrokenPrimitives(new SimulatedPrimitives()) {
                  @Override
                  public long getWord(long address) {
                    return super.getWord(address) ^ 1; // one bit off
                  }
                },
            failure -> "explained: " + failure.getMessage());
    assertThat(wrongWord.unavailabilityReason())
        .hasValueSatisfying(
            r -> assertThat(r).contains("failed their probe").contains("calloc'd memory"));
    assertThat(wrongWord.unavailabilityCause()).containsInstanceOf(IllegalStateException.class);

    SimulatedPrimitives keyKeeper = new SimulatedPrimitives();
    Scripted lostKeyValue =
        new Scripted(
            Optional.empty(),
            () ->
                new BrokenPrimitives(keyKeeper) {
                  @Override
                  public void setKey(long key, long value) {} // drops every value
                },
            failure -> "explained: " + failure.getMessage());
    assertThat(lostKeyValue.unavailabilityReason())
        .hasValueSatisfying(r -> assertThat(r).contains("after setKey"));
    assertThat(keyKeeper.liveBlocks()).as("the probe frees its block").isZero();
  }

  /** Issue 19 §3: a packaging defect is logged at WARNING and said to be one; the rest is not. */
  @Test
  void aPackagingDefectIsLoggedAtWarningAndNamedAsOne() {
    NoClassDefFoundError missing = new NoClassDefFoundError("dev/weave/scripted/Primitives");
    try (CapturedLog log = new CapturedLog()) {
      Scripted backend =
          new Scripted(
              Optional.empty(),
              () -> {
                throw missing;
              },
              failure -> "explained: " + failure.getMessage());
      assertUnusableOnEveryCall(
          backend, "packaging defect: explained: dev/weave/scripted/Primitives", missing);
      assertThat(log.records(Level.WARNING))
          .singleElement()
          .satisfies(
              r -> {
                assertThat(r.getMessage())
                    .isEqualTo(
                        "weave backend 'scripted' is unusable here: packaging defect: explained:"
                            + " dev/weave/scripted/Primitives");
                assertThat(r.getThrown()).isSameAs(missing);
              });
    }
  }

  @Test
  void aProblemOfTheMachineIsLoggedAtDebugOnly() {
    UnsatisfiedLinkError error = new UnsatisfiedLinkError("simulated: libmissing.so");
    try (CapturedLog log = new CapturedLog()) {
      Scripted backend =
          new Scripted(
              Optional.empty(),
              () -> {
                throw error;
              },
              failure -> "explained: " + failure.getMessage());
      assertThat(backend.unavailabilityReason()).contains("explained: simulated: libmissing.so");
      assertThat(log.records(Level.WARNING)).isEmpty();
      assertThat(log.records(Level.FINE))
          .singleElement()
          .satisfies(r -> assertThat(r.getThrown()).isSameAs(error));
    }
  }
}
