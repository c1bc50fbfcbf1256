package dev.weave.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The seed's test cases (ft_utils {@code test_weave}), one for one, each with Java destructors and
 * with native ones. d1 and d2 count the calls that get their own variable's value; r1 sets d1's
 * count to 100. Natively, a variable holds the address of a {@code sem_t}, d1 and d2 are {@code
 * sem_post} and r1 is {@code sem_trywait}, so the semaphore's count shows calls and order.
 */
final class SeedCases {
  private SeedCases() {}

  static List<TckCase> all() {
    List<TckCase> cases = new ArrayList<>();
    for (Flavour flavour : Flavour.values()) {
      cases.add(flavour.test("seed 1: a thread registers d1 and dies: d1 called once", f -> {
        f.die(() -> f.registerD1());
        assertEquals(1, f.d1Count());
      }));
      cases.add(flavour.test("seed 2: register and unregister d1 on main and on a thread: no call", f -> {
        f.registerD1();
        assertTrue(f.unregisterD1(), "unregister after register");
        f.die(() -> {
          f.registerD1();
          assertTrue(f.unregisterD1(), "unregister after register on the thread");
        });
        assertEquals(0, f.d1Count());
      }));
      cases.add(flavour.test("seed 3: a thread registers d2 and dies: d2 called once", f -> {
        f.die(() -> f.registerD2());
        assertEquals(1, f.d2Count());
      }));
      cases.add(flavour.test("seed 4: unregister returns whether there was a registration", f -> {
        f.registerD2();
        f.registerD2();
        assertTrue(f.unregisterD2(), "first unregister of two registrations");
        assertFalse(f.unregisterD2(), "second unregister: the first removed both");
        assertFalse(f.unregisterD2(), "third unregister");
        f.registerD2();
        assertTrue(f.unregisterD2(), "unregister after registering again");
        assertFalse(f.unregisterD1(), "d1's variable has no registration");
        f.die(() -> {
          f.registerD2();
          assertTrue(f.unregisterD2(), "unregister on the thread");
        });
        assertEquals(0, f.d2Count());
      }));
      cases.add(flavour.test("seed 5: d1, d2, d1, d2, unregister d1: d2 called twice, d1 never", f -> {
        f.die(() -> {
          f.registerD1();
          f.registerD2();
          f.registerD1();
          f.registerD2();
          assertTrue(f.unregisterD1());
        });
        assertEquals(0, f.d1Count(), "d1 calls");
        assertEquals(2, f.d2Count(), "d2 calls");
      }));
      cases.add(flavour.test("seed 6: d1, d1, r1: destructors run in registration order", f -> {
        f.die(() -> {
          f.registerD1();
          f.registerD1();
          f.registerR1();
        });
        assertEquals(flavour.afterD1D1R1, f.d1Count(), "d1's count after d1, d1, r1");
      }));
      cases.add(flavour.test("seed 7: ten threads each register d1 and die: ten calls", f -> {
        for (int i = 0; i < 10; i++) {
          f.die(() -> f.registerD1());
        }
        assertEquals(10, f.d1Count());
      }));
    }
    return cases;
  }

  /** How the seed's destructors are made. */
  enum Flavour {
    JAVA(100),
    NATIVE(1); // two sem_posts then one sem_trywait; in any other order it would be 2

    final int afterD1D1R1;

    Flavour(int afterD1D1R1) {
      this.afterD1D1R1 = afterD1D1R1;
    }

    TckCase test(String name, TckCase.Check<Fixture> check) {
      return new TckCase(
          name + " [" + name().toLowerCase() + "]",
          registry -> {
            try (Fixture fixture = this == JAVA ? new JavaFixture(registry) : new NativeFixture(registry)) {
              check.run(fixture);
            }
          });
    }
  }

  abstract static class Fixture implements AutoCloseable {
    final DestructorRegistry registry;
    final ThreadLocalSlot var1;
    final ThreadLocalSlot var2;

    Fixture(DestructorRegistry registry) {
      this.registry = registry;
      var1 = registry.newSlot();
      var2 = registry.newSlot();
    }

    abstract void die(Deaths.Body body);

    abstract void registerD1();

    abstract void registerD2();

    abstract void registerR1();

    abstract int d1Count();

    abstract int d2Count();

    boolean unregisterD1() {
      return registry.unregister(var1);
    }

    boolean unregisterD2() {
      return registry.unregister(var2);
    }

    @Override
    public void close() {
      var1.close();
      var2.close();
    }
  }

  /** d1 and d2 count calls that get their variable's value; the slots are the variables. */
  static final class JavaFixture extends Fixture {
    static final long VALUE1 = 0x5eed_0001L;
    static final long VALUE2 = 0x5eed_0002L;
    final AtomicInteger d1 = new AtomicInteger();
    final AtomicInteger d2 = new AtomicInteger();

    JavaFixture(DestructorRegistry registry) {
      super(registry);
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
    void registerD1() {
      setValues();
      registry.register(var1, value -> {
        if (value == VALUE1) {
          d1.incrementAndGet();
        }
      });
    }

    @Override
    void registerD2() {
      setValues();
      registry.register(var2, value -> {
        if (value == VALUE2) {
          d2.incrementAndGet();
        }
      });
    }

    @Override
    void registerR1() {
      setValues();
      registry.register(var1, value -> d1.set(100));
    }

    @Override
    int d1Count() {
      return d1.get();
    }

    @Override
    int d2Count() {
      return d2.get();
    }
  }

  /**
   * The seed form: {@code registerNative(variable, function)} on each thread's {@code void*}
   * variables (the slots' cells), holding the addresses of two semaphores.
   */
  static final class NativeFixture extends Fixture {
    final NativeFixtures.Semaphore sem1 = new NativeFixtures.Semaphore();
    final NativeFixtures.Semaphore sem2 = new NativeFixtures.Semaphore();

    NativeFixture(DestructorRegistry registry) {
      super(registry);
    }

    private void setValues() {
      var1.set(sem1.address());
      var2.set(sem2.address());
    }

    @Override
    void die(Deaths.Body body) {
      Deaths.dieNative(registry, body);
    }

    @Override
    void registerD1() {
      setValues();
      registry.registerNative(var1.cellAddress(), NativeFixtures.SEM_POST);
    }

    @Override
    void registerD2() {
      setValues();
      registry.registerNative(var2.cellAddress(), NativeFixtures.SEM_POST);
    }

    @Override
    void registerR1() {
      setValues();
      registry.registerNative(var1.cellAddress(), NativeFixtures.SEM_TRYWAIT);
    }

    @Override
    boolean unregisterD1() {
      return registry.unregister(var1.cellAddress());
    }

    @Override
    boolean unregisterD2() {
      return registry.unregister(var2.cellAddress());
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
      super.close(); // drops the test thread's registrations before the semaphores go
      sem1.close();
      sem2.close();
    }
  }
}
