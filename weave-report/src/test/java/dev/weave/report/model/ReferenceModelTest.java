package dev.weave.report.model;

import dev.weave.Backend;
import dev.weave.Weave;
import dev.weave.report.BrokenBackends;
import dev.weave.report.model.Program.Close;
import dev.weave.report.model.Program.Effect;
import dev.weave.report.model.Program.Get;
import dev.weave.report.model.Program.Kind;
import dev.weave.report.model.Program.NewSlot;
import dev.weave.report.model.Program.None;
import dev.weave.report.model.Program.Op;
import dev.weave.report.model.Program.Register;
import dev.weave.report.model.Program.RegisterEffect;
import dev.weave.report.model.Program.RegisterNative;
import dev.weave.report.model.Program.RegisterNativeEffect;
import dev.weave.report.model.Program.Set;
import dev.weave.report.model.Program.SetSlotEffect;
import dev.weave.report.model.Program.SetVariable;
import dev.weave.report.model.Program.SetVariableEffect;
import dev.weave.report.model.Program.Target;
import dev.weave.report.model.Program.Unregister;
import dev.weave.report.model.Program.UnregisterEffect;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.Tuple.Tuple2;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import net.jqwik.api.statistics.Statistics;

/**
 * Generated programs ({@link Program}) run on a thread of every usable real backend, which then
 * dies; what each call returned and which destructors ran, with what value and in what order, must
 * equal what the {@link Model} predicts. jqwik shrinks a failing program to a small one.
 *
 * <p>Tries per property: {@code jqwik.tries.default} (set from {@code weave.model.tries} in the
 * pom); each try is one program, run once on each backend.
 */
class ReferenceModelTest {
  private static final long[] VALUES = {0, 1, 2, 7, -1, 0x5eed_0000_0000_0001L};
  private static final Map<String, AtomicLong> PROGRAMS = new LinkedHashMap<>();
  private static final Logger WEAVE_LOG = Logger.getLogger("dev.weave");
  private static long started;
  private static Level level;

  @BeforeContainer
  static void quiet() {
    started = System.nanoTime();
    PROGRAMS.clear();
    // programs that register in the 4th round make the engine warn about the dropped destructors
    level = WEAVE_LOG.getLevel();
    WEAVE_LOG.setLevel(Level.SEVERE);
  }

  @AfterContainer
  static void report() {
    WEAVE_LOG.setLevel(level);
    long millis = (System.nanoTime() - started) / 1_000_000;
    System.out.println("reference model: programs checked per backend " + PROGRAMS + " in " + millis + " ms");
  }

  /**
   * System property: a regular expression; the backends whose name matches it are checked. Unset:
   * every usable real backend (not this module's broken ones).
   */
  static final String BACKEND_PROPERTY = "weave.model.backend";

  static List<Backend> backends() {
    String pattern = System.getProperty(BACKEND_PROPERTY);
    List<Backend> backends = Weave.backends().stream()
        .filter(Backend::available)
        .filter(b -> pattern == null ? !BrokenBackends.isTestBackend(b) : b.name().matches(pattern))
        .toList();
    if (backends.isEmpty()) {
      throw new IllegalStateException("no usable backend to check" + (pattern == null ? "" : " matches " + pattern));
    }
    return backends;
  }

  @Property
  void everyBackendDoesWhatTheModelSays(@ForAll("programs") Program program) throws Exception {
    Model.Outcome expected = Model.predict(program);
    Statistics.label("destructor calls").collect(bucket(expected.calls().size()));
    Statistics.label("dropped after 4 rounds").collect(Model.dropped(program) > 0);
    List<String> failures = new ArrayList<>();
    for (Backend backend : backends()) {
      Model.Outcome actual = ProgramRunner.run(Weave.registry(backend.name()), program);
      PROGRAMS.computeIfAbsent(backend.name(), n -> new AtomicLong()).incrementAndGet();
      if (!actual.equals(expected)) {
        failures.add(backend.name() + ":\n  results  " + actual.results() + "\n  expected " + expected.results()
            + "\n  calls    " + actual.calls() + "\n  expected " + expected.calls());
      }
    }
    if (!failures.isEmpty()) {
      throw new AssertionError("program " + program + "\n" + String.join("\n", failures));
    }
  }

  private static String bucket(int calls) {
    return calls == 0 ? "0" : calls <= 3 ? "1-3" : calls <= 8 ? "4-8" : "9+";
  }

  // ---------------------------------------------------------------------------------------------
  // Generators

  /** A slot first, so that most programs have something to register on; then up to 30 calls. */
  @Provide
  Arbitrary<Program> programs() {
    return op().list().ofMaxSize(30).map(ops -> {
      List<Op> program = new ArrayList<>();
      program.add(new NewSlot());
      program.addAll(ops);
      return new Program(program);
    });
  }

  static Arbitrary<Op> op() {
    Arbitrary<Integer> slot = Arbitraries.integers().between(0, Program.MAX_SLOTS - 1);
    return Arbitraries.frequencyOf(List.of(
        weight(4, Arbitraries.just(new NewSlot())),
        weight(3, Combinators.combine(slot, value()).as(Set::new)),
        weight(1, slot.map(Get::new)),
        weight(2, Combinators.combine(variable(), value()).as(SetVariable::new)),
        weight(6, Combinators.combine(slot, javaDestructor(), effect(3)).as(Register::new)),
        weight(1, Combinators.combine(slot, javaDestructor(), chain()).as(Register::new)),
        weight(4, Combinators.combine(target(), nativeFunction()).as(RegisterNative::new)),
        weight(3, target().map(Unregister::new)),
        weight(1, slot.map(Close::new))));
  }

  /** What a Java destructor does when it runs; registrations nest up to {@code depth} deep. */
  static Arbitrary<Effect> effect(int depth) {
    Arbitrary<Integer> slot = Arbitraries.integers().between(0, Program.MAX_SLOTS - 1);
    List<Tuple2<Integer, Arbitrary<Effect>>> choices = new ArrayList<>();
    choices.add(weight(5, Arbitraries.just(new None())));
    choices.add(weight(2, Combinators.combine(slot, value()).as(SetSlotEffect::new)));
    choices.add(weight(1, Combinators.combine(variable(), value()).as(SetVariableEffect::new)));
    choices.add(weight(1, target().map(UnregisterEffect::new)));
    choices.add(weight(1, Combinators.combine(target(), nativeFunction()).as(RegisterNativeEffect::new)));
    if (depth > 0) {
      choices.add(weight(5,
          Arbitraries.lazy(() -> Combinators.combine(slot, javaDestructor(), effect(depth - 1)).as(RegisterEffect::new))));
    }
    return Arbitraries.frequencyOf(choices);
  }

  /** Registrations that each register the next while dying, 3 to 5 deep: into and past round 4. */
  static Arbitrary<Effect> chain() {
    Arbitrary<Integer> slot = Arbitraries.integers().between(0, Program.MAX_SLOTS - 1);
    return Arbitraries.integers().between(3, 5).flatMap(depth -> chain(slot, depth));
  }

  private static Arbitrary<Effect> chain(Arbitrary<Integer> slot, int depth) {
    if (depth == 0) {
      return Arbitraries.just(new None());
    }
    return Combinators.combine(slot, javaDestructor(), chain(slot, depth - 1)).as(RegisterEffect::new);
  }

  @SuppressWarnings("unchecked") // an Arbitrary only produces values: one of a subtype is one of the type
  private static <T> Tuple2<Integer, Arbitrary<T>> weight(int weight, Arbitrary<? extends T> arbitrary) {
    return Tuple.of(weight, (Arbitrary<T>) arbitrary);
  }

  static Arbitrary<Target> target() {
    return Combinators.combine(Arbitraries.of(Kind.class), Arbitraries.integers().between(0, Program.MAX_SLOTS - 1))
        .as((kind, index) -> new Target(kind, kind == Kind.VARIABLE ? index % Program.VARIABLES : index));
  }

  static Arbitrary<Long> value() {
    return Arbitraries.of(VALUES[0], VALUES[1], VALUES[2], VALUES[3], VALUES[4], VALUES[5]);
  }

  static Arbitrary<Integer> variable() {
    return Arbitraries.integers().between(0, Program.VARIABLES - 1);
  }

  static Arbitrary<Integer> javaDestructor() {
    return Arbitraries.integers().between(0, Program.JAVA_DESTRUCTORS - 1);
  }

  static Arbitrary<Integer> nativeFunction() {
    return Arbitraries.integers().between(0, Program.NATIVE_DESTRUCTORS - 1);
  }
}
