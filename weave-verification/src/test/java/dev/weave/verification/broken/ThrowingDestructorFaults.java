package dev.weave.verification.broken;

import static dev.weave.verification.broken.Broken.broken;

import dev.weave.DestructorRegistry;
import dev.weave.tck.Rule;
import java.util.List;

/** Rule 6, a throwing Java destructor: its broken backends, and the cases each must fail. */
public final class ThrowingDestructorFaults {
  private ThrowingDestructorFaults() {}

  static List<Broken> expected() {
    return List.of(
        broken("broken-throw-stops-the-rest", Rule.R6)
            .fails(
                "r06-throwing-destructor",
                "the thread's destructors did not all run: the sentinel registered last did not")
            .fails("r13-error-isolation", "but was: <[returned, posted=0]>"),
        broken("broken-skips-after-throw", Rule.R6)
            .fails(
                "r06-throwing-destructor",
                "but was: <[the next one, after the native one: posted=0]>")
            .fails(
                "r13-error-isolation",
                "but was: <[the next one, after the native one: posted=0, returned, posted=0]>"));
  }

  /**
   * Rule 6: after a destructor throws, the rest of the walk's destructors, Java and native, do not
   * run.
   */
  public static final class ThrowStopsTheRest extends TestBackend {
    public ThrowStopsTheRest() {
      super("broken-throw-stops-the-rest", -3);
    }

    @Override
    DestructorRegistry build(String name) {
      ThreadLocal<boolean[]> stopped = ThreadLocal.withInitial(() -> new boolean[1]);
      return Intercepting.registry(
          name,
          new Intercepting.Walk() {
            @Override
            public void starts() {
              stopped.get()[0] = false;
            }

            @Override
            public void call(Runnable destructor) {
              if (!stopped.get()[0]) {
                try {
                  destructor.run();
                } catch (RuntimeException | Error e) {
                  stopped.get()[0] = true;
                  throw e;
                }
              }
            }
          });
    }
  }

  /**
   * Rule 6: the destructor after a throwing one, Java or native, is skipped; the walk goes on after
   * it.
   */
  public static final class SkipsAfterThrow extends TestBackend {
    public SkipsAfterThrow() {
      super("broken-skips-after-throw", -31);
    }

    @Override
    DestructorRegistry build(String name) {
      ThreadLocal<boolean[]> skipNext = ThreadLocal.withInitial(() -> new boolean[1]);
      return Intercepting.registry(
          name,
          new Intercepting.Walk() {
            @Override
            public void starts() {
              skipNext.get()[0] = false;
            }

            @Override
            public void call(Runnable destructor) {
              if (skipNext.get()[0]) {
                skipNext.get()[0] = false;
                return;
              }
              try {
                destructor.run();
              } catch (RuntimeException | Error e) {
                skipNext.get()[0] = true;
                throw e;
              }
            }
          });
    }
  }
}
