package dev.weave.verification.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.quicktheories.QuickTheory.qt;

import dev.weave.Backend;
import dev.weave.DestructorRegistry;
import dev.weave.Weave;
import dev.weave.spi.CheckedPrimitives;
import dev.weave.spi.Engine;
import dev.weave.verification.broken.BrokenBackends;
import dev.weave.verification.model.Program.Close;
import dev.weave.verification.model.Program.Effect;
import dev.weave.verification.model.Program.Get;
import dev.weave.verification.model.Program.Kind;
import dev.weave.verification.model.Program.NewSlot;
import dev.weave.verification.model.Program.None;
import dev.weave.verification.model.Program.Op;
import dev.weave.verification.model.Program.Register;
import dev.weave.verification.model.Program.RegisterEffect;
import dev.weave.verification.model.Program.RegisterNative;
import dev.weave.verification.model.Program.RegisterNativeEffect;
import dev.weave.verification.model.Program.Set;
import dev.weave.verification.model.Program.SetSlotEffect;
import dev.weave.verification.model.Program.SetVariable;
import dev.weave.verification.model.Program.SetVariableEffect;
import dev.weave.verification.model.Program.Target;
import dev.weave.verification.model.Program.Unregister;
import dev.weave.verification.model.Program.UnregisterEffect;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.quicktheories.api.Pair;
import org.quicktheories.core.Configuration;
import org.quicktheories.core.ExceptionReporter;
import org.quicktheories.core.Gen;
import org.quicktheories.core.Reporter;
import org.quicktheories.generators.Generate;

/**
 * Generated programs ({@link Program}) run on a thread of every usable real backend, which then
 * dies; what each call returned and which destructors ran, with what value and in what order, must
 * equal what the {@link Model} predicts. QuickTheories generates the programs, in one plain JUnit
 * test per backend, and shrinks a failing one: its {@link AssertionError} names the smallest
 * failing program it found, then what the backend did and what the model expected.
 *
 * <p>Programs per backend: the {@value #TRIES_PROPERTY} system property (set from the pom's
 * property of that name), {@value #DEFAULT_TRIES} without it; each is one thread death. The seed is
 * printed, and a failure starts with the properties that replay it: {@code -D}{@value
 * #SEED_PROPERTY}{@code =n} with the same backend ({@value #BACKEND_PROPERTY}). Where the engine
 * runs in checked mode ({@code -Dweave.checked=true}), it must own exactly the blocks it owned
 * before the programs, with no violation reported.
 */
class ReferenceModelTest {
  /**
   * System property: a regular expression; the backends whose name matches it are checked. Unset:
   * every usable real backend (not this module's broken ones).
   */
  static final String BACKEND_PROPERTY = "weave.model.backend";

  /**
   * System property: the seed of the generated programs; a run with the same seed and backend makes
   * the same ones.
   */
  static final String SEED_PROPERTY = "weave.model.seed";

  /** System property: how many programs each backend runs. */
  static final String TRIES_PROPERTY = "weave.model.tries";

  static final int DEFAULT_TRIES = 2000;

  /**
   * Shrinking steps after a failure. Each one that QuickTheories has not tried before is one more
   * thread death; a failing program is small long before this many.
   */
  static final int SHRINK_CYCLES = 5000;

  /** At most this many calls after the program's first {@code newSlot}. */
  static final int MAX_CALLS = 30;

  private static final long[] VALUES = {0, 1, 2, 7, -1, 0x5eed_0000_0000_0001L};
  private static final Map<String, Tally> TALLIES = new LinkedHashMap<>();
  private static final Logger WEAVE_LOG = Logger.getLogger("dev.weave");
  private static long started;

  @BeforeAll
  static void start() {
    started = System.nanoTime();
    TALLIES.clear();
  }

  @AfterAll
  static void report() {
    long millis = (System.nanoTime() - started) / 1_000_000;
    Map<String, Integer> programs = new LinkedHashMap<>();
    TALLIES.forEach((backend, tally) -> programs.put(backend, tally.programs));
    System.out.println(
        "reference model: programs checked per backend " + programs + " in " + millis + " ms");
  }

  static Stream<String> backends() {
    String pattern = System.getProperty(BACKEND_PROPERTY);
    List<String> backends =
        Weave.backends().stream()
            .filter(Backend::available)
            .filter(
                b -> pattern == null ? !BrokenBackends.isTestBackend(b) : b.name().matches(pattern))
            .map(Backend::name)
            .toList();
    if (backends.isEmpty()) {
      throw new IllegalStateException(
          "no usable backend to check" + (pattern == null ? "" : " matches " + pattern));
    }
    return backends.stream();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("backends")
  void everyBackendDoesWhatTheModelSays(String backend) throws InterruptedException {
    long start = System.nanoTime();
    Optional<CheckedPrimitives> checker =
        Weave.registry(backend) instanceof Engine engine ? engine.checked() : Optional.empty();
    long blocksBefore = checker.map(CheckedPrimitives::liveBlocks).orElse(0L);
    long violationsBefore = checker.map(CheckedPrimitives::violationCount).orElse(0L);
    Tally tally =
        check(
            backend,
            Integer.getInteger(TRIES_PROPERTY, DEFAULT_TRIES),
            SHRINK_CYCLES,
            new ExceptionReporter());
    TALLIES.put(backend, tally);
    if (checker.isPresent()) {
      CheckedPrimitives checked = checker.get();
      assertThat(
              checked.violations().subList((int) violationsBefore, (int) checked.violationCount()))
          .as(
              backend
                  + ": violations reported by checked mode over "
                  + tally.programs
                  + " programs")
          .isEmpty();
      assertThat(checked.awaitLiveBlocks(blocksBefore, java.time.Duration.ofSeconds(20)))
          .as(
              backend
                  + ": the engine owns %d blocks after the programs, %d before them (checked mode: an exact count); %s",
              checked.liveBlocks(),
              blocksBefore,
              checked.describeLiveBlocks())
          .isTrue();
    }
    System.out.println(
        "reference model, "
            + backend
            + ": "
            + tally.programs
            + " programs in "
            + (System.nanoTime() - start) / 1_000_000
            + " ms, "
            + tally);
  }

  /**
   * Runs {@code tries} generated programs on the backend, each on a thread that then dies, and
   * compares each outcome with the model's.
   *
   * @param reporter QuickTheories' {@link ExceptionReporter}, or a subclass of it
   * @return what the programs were like
   * @throws AssertionError from QuickTheories, when a program's outcome is not the model's: the
   *     smallest failing program it shrank to, and what the backend did
   */
  static Tally check(String backend, int tries, int shrinkCycles, Reporter reporter) {
    DestructorRegistry registry = Weave.registry(backend);
    Gen<Program> programs = programs();
    Tally tally =
        new Tally(Long.getLong(SEED_PROPERTY, Long.getLong(Configuration.SEED, System.nanoTime())));
    // programs that register in the 4th round make the engine warn about the dropped destructors
    Level level = WEAVE_LOG.getLevel();
    WEAVE_LOG.setLevel(Level.SEVERE);
    try {
      // QuickTheories counts a program it has already generated in a run (the bare newSlot, mostly)
      // among its examples, without running it again: the next run, with the next seed, makes up
      for (int run = 0; tally.programs < tries; run++) {
        qt().withFixedSeed(tally.seed + run)
            .withExamples(tries - tally.programs)
            .withShrinkCycles(shrinkCycles)
            .withReporter(reporter)
            .forAll(programs)
            .checkAssert(
                program -> {
                  tally.count(program);
                  assertTheModelsOutcome(registry, backend, program);
                });
      }
    } catch (AssertionError failure) {
      AssertionError replayable =
          new AssertionError(
              "replay with -D"
                  + SEED_PROPERTY
                  + "="
                  + tally.seed
                  + " -D"
                  + BACKEND_PROPERTY
                  + "="
                  + backend
                  + " -D"
                  + TRIES_PROPERTY
                  + "="
                  + tries
                  + "\n"
                  + failure.getMessage(),
              failure);
      throw replayable;
    } finally {
      WEAVE_LOG.setLevel(level);
    }
    return tally;
  }

  private static void assertTheModelsOutcome(
      DestructorRegistry registry, String backend, Program program) {
    Model.Outcome expected = Model.predict(program);
    Model.Outcome actual;
    try {
      actual = ProgramRunner.run(registry, program);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
    if (!actual.equals(expected)) {
      throw new AssertionError(
          "program "
              + program
              + "\n"
              + backend
              + ":\n  results  "
              + actual.results()
              + "\n  expected "
              + expected.results()
              + "\n  calls    "
              + actual.calls()
              + "\n  expected "
              + expected.calls());
    }
  }

  /**
   * How many programs a backend ran, how many destructor calls they made, how many dropped one
   * after round 4.
   */
  static final class Tally {
    final long seed;
    int programs;
    long ops;
    int dropped;
    final Map<String, Integer> calls = new LinkedHashMap<>();

    Tally(long seed) {
      this.seed = seed;
      for (String bucket : List.of("0", "1-3", "4-8", "9+")) {
        calls.put(bucket, 0);
      }
    }

    void count(Program program) {
      programs++;
      ops += program.ops().size() - 1;
      calls.merge(bucket(Model.predict(program).calls().size()), 1, Integer::sum);
      if (Model.dropped(program) > 0) {
        dropped++;
      }
    }

    private static String bucket(int calls) {
      return calls == 0 ? "0" : calls <= 3 ? "1-3" : calls <= 8 ? "4-8" : "9+";
    }

    @Override
    public String toString() {
      return String.format(
              Locale.ROOT,
              "seed %d; %.1f calls per program on average; destructor calls per program %s; %d",
              seed,
              (double) ops / programs,
              calls,
              dropped)
          + " with registrations dropped after 4 rounds";
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Generators

  /**
   * A slot first, so that most programs have something to register on; then up to {@value
   * #MAX_CALLS} calls, more often few than many (the smaller of two uniform draws: about 9.5 on
   * average, with those left out). Each call has a draw of its own that leaves it out when 0 (1 in
   * 16 when generated): QuickTheories shrinks every draw towards its simplest value, so it can drop
   * a call from the middle of a program without changing the draws of those after it.
   */
  static Gen<Program> programs() {
    Gen<Integer> size =
        Generate.range(0, MAX_CALLS).zip(Generate.range(0, MAX_CALLS), (a, b) -> Math.min(a, b));
    Gen<Integer> leftOut = Generate.range(0, 15);
    Gen<Op> op = op();
    return random -> {
      List<Op> program = new ArrayList<>();
      program.add(new NewSlot());
      for (int i = size.generate(random); i > 0; i--) {
        boolean made = leftOut.generate(random) != 0;
        Op call = op.generate(random);
        if (made) {
          program.add(call);
        }
      }
      return new Program(program);
    };
  }

  /** One call; QuickTheories shrinks the choice towards the first, {@code newSlot}. */
  static Gen<Op> op() {
    Gen<Integer> slot = slot();
    return Generate.frequency(
        List.of(
            weight(4, Generate.constant(new NewSlot())),
            weight(3, slot.zip(value(), Set::new)),
            weight(1, slot.map(Get::new)),
            weight(2, variable().zip(value(), SetVariable::new)),
            weight(6, slot.zip(javaDestructor(), effect(3), Register::new)),
            weight(1, slot.zip(javaDestructor(), chain(), Register::new)),
            weight(4, target().zip(nativeFunction(), RegisterNative::new)),
            weight(3, target().map(Unregister::new)),
            weight(1, slot.map(Close::new))));
  }

  /**
   * What a Java destructor does when it runs (shrinks towards nothing); registrations nest up to
   * {@code depth} deep.
   */
  static Gen<Effect> effect(int depth) {
    Gen<Integer> slot = slot();
    List<Pair<Integer, Gen<Effect>>> choices = new ArrayList<>();
    choices.add(weight(5, Generate.constant(new None())));
    choices.add(weight(2, slot.zip(value(), SetSlotEffect::new)));
    choices.add(weight(1, variable().zip(value(), SetVariableEffect::new)));
    choices.add(weight(1, target().map(UnregisterEffect::new)));
    choices.add(weight(1, target().zip(nativeFunction(), RegisterNativeEffect::new)));
    if (depth > 0) {
      choices.add(weight(5, slot.zip(javaDestructor(), effect(depth - 1), RegisterEffect::new)));
    }
    return Generate.frequency(choices);
  }

  /** Registrations that each register the next while dying, 3 to 5 deep: into and past round 4. */
  static Gen<Effect> chain() {
    return Generate.range(3, 5).flatMap(ReferenceModelTest::chain);
  }

  private static Gen<Effect> chain(int depth) {
    if (depth == 0) {
      return Generate.constant(new None());
    }
    return slot().zip(javaDestructor(), chain(depth - 1), RegisterEffect::new);
  }

  @SuppressWarnings("unchecked") // a Gen only produces values: one of a subtype is one of the type
  private static <T> Pair<Integer, Gen<T>> weight(int weight, Gen<? extends T> gen) {
    return Pair.of(weight, (Gen<T>) gen);
  }

  static Gen<Target> target() {
    return Generate.enumValues(Kind.class)
        .zip(
            slot(),
            (kind, index) ->
                new Target(kind, kind == Kind.VARIABLE ? index % Program.VARIABLES : index));
  }

  static Gen<Integer> slot() {
    return Generate.range(0, Program.MAX_SLOTS - 1);
  }

  static Gen<Long> value() {
    return Generate.pick(List.of(VALUES[0], VALUES[1], VALUES[2], VALUES[3], VALUES[4], VALUES[5]));
  }

  static Gen<Integer> variable() {
    return Generate.range(0, Program.VARIABLES - 1);
  }

  static Gen<Integer> javaDestructor() {
    return Generate.range(0, Program.JAVA_DESTRUCTORS - 1);
  }

  static Gen<Integer> nativeFunction() {
    return Generate.range(0, Program.NATIVE_DESTRUCTORS - 1);
  }
}
