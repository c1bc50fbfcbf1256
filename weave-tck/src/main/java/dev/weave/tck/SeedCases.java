package dev.weave.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weave.Destructor;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The seed's test cases (ft_utils {@code test_weave}), one for one, each in three flavours: Java
 * destructors on slots; native ones on slots' cells; and native ones on the seed's own form of
 * variable, a {@code void*} in memory the test owns, one per thread. d1 and d2 count the calls that
 * get their own variable's value; r1 sets d1's count to 100. Natively, a variable holds the address
 * of a {@code sem_t}, d1 and d2 are {@code sem_post} and r1 is {@code sigemptyset}, which zeroes
 * the semaphore, so the semaphore's count shows calls and order with no Java in the destructors.
 */
final class SeedCases {
  private SeedCases() {}

  /**
   * d1's count before seed 6, so that each place r1 can run in gives its own count, and so does
   * "none ran".
   */
  static final int SEED6_PRIMED = 5;

  static List<TckCase> all() {
    List<TckCase> cases = new ArrayList<>();
    for (Flavour flavour : Flavour.values()) {
      cases.add(
          flavour.test(
              1,
              Rule.R2,
              "a thread registers d1 and dies: d1 called once",
              f -> {
                f.die(() -> f.registerD1());
                assertEquals(1, f.d1Count());
              }));
      cases.add(
          flavour.test(
              2,
              Rule.R3,
              "register and unregister d1 on main and on a thread: no call",
              f -> {
                f.registerD1();
                assertTrue(f.unregisterD1(), "unregister after register");
                f.die(
                    () -> {
                      f.registerD1();
                      assertTrue(f.unregisterD1(), "unregister after register on the thread");
                    });
                assertEquals(0, f.d1Count());
              }));
      cases.add(
          flavour.test(
              3,
              Rule.R2,
              "a thread registers d2 and dies: d2 called once",
              f -> {
                f.die(() -> f.registerD2());
                assertEquals(1, f.d2Count());
              }));
      cases.add(
          flavour.test(
              4,
              Rule.R3,
              "unregister returns whether there was a registration",
              f -> {
                f.registerD2();
                f.registerD2();
                assertTrue(f.unregisterD2(), "first unregister of two registrations");
                assertFalse(f.unregisterD2(), "second unregister: the first removed both");
                assertFalse(f.unregisterD2(), "third unregister");
                f.registerD2();
                assertTrue(f.unregisterD2(), "unregister after registering again");
                assertFalse(f.unregisterD1(), "d1's variable has no registration");
                f.die(
                    () -> {
                      f.registerD2();
                      assertTrue(f.unregisterD2(), "unregister on the thread");
                    });
                assertEquals(0, f.d2Count());
              }));
      cases.add(
          flavour.test(
              5,
              Rule.R3,
              "d1, d2, d1, d2, unregister d1: d2 called twice, d1 never",
              f -> {
                f.die(
                    () -> {
                      f.registerD1();
                      f.registerD2();
                      f.registerD1();
                      f.registerD2();
                      assertTrue(f.unregisterD1());
                    });
                assertEquals(0, f.d1Count(), "d1 calls");
                assertEquals(2, f.d2Count(), "d2 calls");
              }));
      cases.add(
          flavour.test(
              6,
              Rule.R2,
              "d1, d1, r1: destructors run in registration order",
              f -> {
                f.primeD1(SEED6_PRIMED);
                f.die(
                    () -> {
                      f.registerD1();
                      f.registerD1();
                      f.registerR1();
                    });
                assertEquals(
                    flavour.afterD1D1R1,
                    f.d1Count(),
                    "d1's count, " + SEED6_PRIMED + " before d1, d1, r1 (" + flavour.orders + ")");
              }));
      cases.add(
          flavour.test(
              7,
              Rule.R1,
              "ten threads each register d1 and die, all at once: ten calls",
              f -> {
                f.dieTogether(10, () -> f.registerD1());
                assertEquals(10, f.d1Count());
              }));
      cases.add(
          flavour.test(
              "seed7-seq",
              Rule.R1,
              "ten threads each register d1 and die, one after another: ten calls",
              f -> {
                for (int i = 0; i < 10; i++) {
                  f.die(() -> f.registerD1());
                }
                assertEquals(10, f.d1Count());
              }));
    }
    return cases;
  }

  /** How the seed's destructors and variables are made. */
  enum Flavour {
    JAVA(100, "r1 last: 100; r1 between the d1s: 101; r1 first: 102; none ran: 5"),
    /** Two sem_posts then the zeroing r1; r1 earlier leaves 1 or 2; nothing at all leaves 5. */
    NATIVE(0, "r1 last: 0; r1 between the d1s: 1; r1 first: 2; none ran: 5"),
    PLAIN(0, "r1 last: 0; r1 between the d1s: 1; r1 first: 2; none ran: 5");

    final int afterD1D1R1;
    final String orders;

    Flavour(int afterD1D1R1, String orders) {
      this.afterD1D1R1 = afterD1D1R1;
      this.orders = orders;
    }

    String suffix() {
      return name().toLowerCase(Locale.ROOT);
    }

    TckCase test(int seed, Rule rule, String title, TckCase.Check<Fixture> check) {
      return test("seed" + seed, rule, title, check);
    }

    TckCase test(String id, Rule rule, String title, TckCase.Check<Fixture> check) {
      String how =
          switch (this) {
            case JAVA -> "Java destructors on slots";
            case NATIVE -> "native destructors on slots' cells";
            case PLAIN -> "native destructors on plain void* variables";
          };
      return TckCase.of(
          id + "-" + suffix(),
          rule,
          "seed "
              + id.substring("seed".length()).replace("-seq", " (sequential)")
              + ": "
              + title
              + " ("
              + how
              + ")",
          registry -> {
            try (Fixture fixture =
                switch (this) {
                  case JAVA -> new JavaFixture(registry);
                  case NATIVE -> new NativeFixture(registry);
                  case PLAIN -> new PlainFixture(registry);
                }) {
              check.run(fixture);
            }
          });
    }
  }

  abstract static class Fixture implements AutoCloseable {
    final DestructorRegistry registry;

    Fixture(DestructorRegistry registry) {
      this.registry = registry;
    }

    abstract void die(Deaths.Body body);

    abstract void dieTogether(int threads, Deaths.Body body);

    abstract void registerD1();

    abstract void registerD2();

    abstract void registerR1();

    abstract boolean unregisterD1();

    abstract boolean unregisterD2();

    abstract void primeD1(int count);

    abstract int d1Count();

    abstract int d2Count();

    @Override
    public abstract void close();
  }

  /**
   * d1 and d2 count calls that get their variable's value; the slots are the variables. As in the
   * seed, where d1 is one C function, each of d1, d2 and r1 is one {@link Destructor} object,
   * registered as often as the case says: two registrations of one object are two registrations.
   */
  static final class JavaFixture extends Fixture {
    static final long VALUE1 = 0x5eed_0001L;
    static final long VALUE2 = 0x5eed_0002L;
    final ThreadLocalSlot var1;
    final ThreadLocalSlot var2;
    final AtomicInteger d1 = new AtomicInteger();
    final AtomicInteger d2 = new AtomicInteger();
    final Destructor d1Destructor =
        value -> {
          if (value == VALUE1) {
            d1.incrementAndGet();
          }
        };
    final Destructor d2Destructor =
        value -> {
          if (value == VALUE2) {
            d2.incrementAndGet();
          }
        };
    final Destructor r1Destructor = value -> d1.set(100);

    JavaFixture(DestructorRegistry registry) {
      super(registry);
      var1 = registry.newSlot();
      var2 = registry.newSlot();
    }

    private void setValues() {
      var1.set(VALUE1);
      var2.set(VALUE2);
    }

    @Override
    void die(Deaths.Body body) {
      Deaths.die(registry, body);
    }

    @Override
    void dieTogether(int threads, Deaths.Body body) {
      Deaths.dieTogether(registry, threads, false, body);
    }

    @Override
    void registerD1() {
      setValues();
      registry.register(var1, d1Destructor);
    }

    @Override
    void registerD2() {
      setValues();
      registry.register(var2, d2Destructor);
    }

    @Override
    void registerR1() {
      setValues();
      registry.register(var1, r1Destructor);
    }

    @Override
    boolean unregisterD1() {
      return registry.unregister(var1);
    }

    @Override
    boolean unregisterD2() {
      return registry.unregister(var2);
    }

    @Override
    void primeD1(int count) {
      d1.addAndGet(count);
    }

    @Override
    int d1Count() {
      return d1.get();
    }

    @Override
    int d2Count() {
      return d2.get();
    }

    @Override
    public void close() {
      var1.close();
      var2.close();
    }
  }

  /**
   * Native destructors: each thread's two {@code void*} variables hold the addresses of two
   * semaphores; where the variables are is up to the subclass.
   */
  abstract static class SemaphoreFixture extends Fixture {
    final NativeFixtures.Semaphore sem1 = new NativeFixtures.Semaphore();
    final NativeFixtures.Semaphore sem2 = new NativeFixtures.Semaphore();

    SemaphoreFixture(DestructorRegistry registry) {
      super(registry);
    }

    /**
     * @return the calling thread's variable 1, holding sem1's address
     */
    abstract long variable1();

    /**
     * @return the calling thread's variable 2, holding sem2's address
     */
    abstract long variable2();

    @Override
    void die(Deaths.Body body) {
      Deaths.dieNative(registry, body);
    }

    @Override
    void dieTogether(int threads, Deaths.Body body) {
      Deaths.dieTogether(registry, threads, true, body);
    }

    @Override
    void registerD1() {
      registry.registerNative(variable1(), NativeFixtures.SEM_POST);
    }

    @Override
    void registerD2() {
      registry.registerNative(variable2(), NativeFixtures.SEM_POST);
    }

    @Override
    void registerR1() {
      registry.registerNative(variable1(), NativeFixtures.SIGEMPTYSET);
    }

    @Override
    boolean unregisterD1() {
      return registry.unregister(variable1());
    }

    @Override
    boolean unregisterD2() {
      return registry.unregister(variable2());
    }

    @Override
    void primeD1(int count) {
      sem1.post(count);
    }

    @Override
    int d1Count() {
      return sem1.value();
    }

    @Override
    int d2Count() {
      return sem2.value();
    }

    @Override
    public void close() {
      sem1.close();
      sem2.close();
    }
  }

  /** The slots' cells are the variables: {@code registerNative(slot.cellAddress(), function)}. */
  static final class NativeFixture extends SemaphoreFixture {
    final ThreadLocalSlot var1;
    final ThreadLocalSlot var2;

    NativeFixture(DestructorRegistry registry) {
      super(registry);
      var1 = registry.newSlot();
      var2 = registry.newSlot();
    }

    @Override
    long variable1() {
      var1.set(sem1.address());
      return var1.cellAddress();
    }

    @Override
    long variable2() {
      var2.set(sem2.address());
      return var2.cellAddress();
    }

    @Override
    public void close() {
      var1.close(); // drops the test thread's registrations before the semaphores go
      var2.close();
      super.close();
    }
  }

  /**
   * The seed's own form: {@code registerNative(variable, function)} on a {@code void*} that is no
   * slot's cell, in memory the test owns, one pair per thread (as the seed's {@code
   * thread_local}s).
   */
  static final class PlainFixture extends SemaphoreFixture {
    final List<NativeFixtures.Word> words = new ArrayList<>();
    final ThreadLocal<NativeFixtures.Word[]> variables =
        ThreadLocal.withInitial(this::newVariables);

    PlainFixture(DestructorRegistry registry) {
      super(registry);
    }

    private NativeFixtures.Word[] newVariables() {
      NativeFixtures.Word[] pair = {new NativeFixtures.Word(), new NativeFixtures.Word()};
      synchronized (words) {
        words.add(pair[0]);
        words.add(pair[1]);
      }
      return pair;
    }

    @Override
    long variable1() {
      NativeFixtures.Word word = variables.get()[0];
      word.set(sem1.address());
      return word.address();
    }

    @Override
    long variable2() {
      NativeFixtures.Word word = variables.get()[1];
      word.set(sem2.address());
      return word.address();
    }

    @Override
    public void close() {
      // the test thread's own registrations, if a case left any, go before its variables do
      NativeFixtures.Word[] own = variables.get();
      registry.unregister(own[0].address());
      registry.unregister(own[1].address());
      synchronized (words) {
        words.forEach(NativeFixtures.Word::close);
      }
      super.close();
    }
  }
}
