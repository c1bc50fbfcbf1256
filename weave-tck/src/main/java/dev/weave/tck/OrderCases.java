package dev.weave.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.weave.Destructor;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Rule 2, at death, in order: each registration runs once, in the order registered across slots and
 * variables, with the value its variable holds when it is called (the seed's cases 1, 3 and 6 are
 * in {@link SeedCases}).
 */
final class OrderCases {
  private OrderCases() {}

  static List<TckCase> all() {
    List<TckCase> cases = new ArrayList<>();
    cases.add(
        TckCase.of(
            "r02-order-java",
            Rule.R2,
            "at death, in order, with each variable's value at call time (Java destructors)",
            OrderCases::inOrder));
    cases.add(
        TckCase.of(
            "r02-order-native",
            Rule.R2,
            "at death, in order, with each variable's value at call time (native destructors)",
            OrderCases::inOrderNative));
    cases.add(
        TckCase.of(
            "r02-plain-variables",
            Rule.R2,
            "registrations on plain void* variables run in order with slots' ones, with the value at call time",
            OrderCases::plainVariables));
    cases.add(
        TckCase.of(
            "r02-same-destructor-twice",
            Rule.R2,
            "one Destructor object registered twice on a variable runs twice, each in its place",
            OrderCases::sameDestructorTwice));
    for (int count : ManyRegistrations.COUNTS) {
      cases.add(
          TckCase.of(
              "r02-many-registrations-" + count,
              Rule.R2,
              count
                  + " registrations on one thread, Java and native over "
                  + ManyRegistrations.SLOTS
                  + " slots: all run at death, in order",
              registry -> ManyRegistrations.check(registry, count, false)));
    }
    return cases;
  }

  static void inOrder(DestructorRegistry registry) throws Exception {
    List<String> calls = Collections.synchronizedList(new ArrayList<>());
    try (ThreadLocalSlot a = registry.newSlot();
        ThreadLocalSlot b = registry.newSlot();
        ThreadLocalSlot zero = registry.newSlot()) {
      Deaths.die(
          registry,
          () -> {
            a.set(1);
            b.set(2);
            registry.register(b, value -> calls.add("b1=" + value));
            registry.register(
                a,
                value -> {
                  calls.add("a1=" + value);
                  b.set(20); // seen by the later destructor on b
                });
            registry.register(zero, value -> calls.add("zero=" + value));
            registry.register(b, value -> calls.add("b2=" + value));
            registry.register(a, value -> calls.add("a2=" + value));
            a.set(10); // the value at death counts, not the value at registration
          });
      assertEquals(List.of("b1=2", "a1=10", "zero=0", "b2=20", "a2=10"), calls);
    }
  }

  static void inOrderNative(DestructorRegistry registry) throws Exception {
    List<String> calls = Collections.synchronizedList(new ArrayList<>());
    try (ThreadLocalSlot a = registry.newSlot();
        ThreadLocalSlot b = registry.newSlot();
        NativeFixtures.Semaphore sem = new NativeFixtures.Semaphore();
        NativeFixtures.Semaphore other = new NativeFixtures.Semaphore()) {
      sem.post(3);
      Deaths.die(
          registry,
          () -> {
            a.set(other.address());
            registry.registerNative(a, NativeFixtures.SEM_POST);
            // b is 0 here; at death it holds sem's address, and sigemptyset zeroes sem (and ignores
            // NULL)
            registry.registerNative(b, NativeFixtures.SIGEMPTYSET);
            registry.register(
                a,
                value ->
                    calls.add("after first two: sem=" + sem.value() + " other=" + other.value()));
            registry.registerNative(a, NativeFixtures.SEM_TRYWAIT);
            registry.register(a, value -> calls.add("after trywait: other=" + other.value()));
            b.set(sem.address()); // the native destructor on b gets the value at death
          });
      assertEquals(
          List.of("after first two: sem=0 other=1", "after trywait: other=0"),
          calls,
          "sem starts at 3 and is zeroed by the destructor on b if it gets b's value at death; other is posted, then taken");
    }
  }

  /**
   * The seed's own form of variable, a {@code void*} that is no slot's cell, in memory the test
   * owns: its registrations take their place in the order among slots' ones, and get the value the
   * variable holds when they are called.
   */
  static void plainVariables(DestructorRegistry registry) throws Exception {
    List<String> calls = Collections.synchronizedList(new ArrayList<>());
    try (ThreadLocalSlot slot = registry.newSlot();
        NativeFixtures.Word first = new NativeFixtures.Word();
        NativeFixtures.Word second = new NativeFixtures.Word();
        NativeFixtures.Semaphore atRegistration = new NativeFixtures.Semaphore();
        NativeFixtures.Semaphore atDeath = new NativeFixtures.Semaphore();
        NativeFixtures.Semaphore late = new NativeFixtures.Semaphore()) {
      atDeath.post(2);
      late.post(2);
      Deaths.die(
          registry,
          () -> {
            first.set(atRegistration.address());
            registry.registerNative(first.address(), NativeFixtures.SEM_POST);
            registry.register(
                slot,
                value -> {
                  calls.add(
                      "after the first: atRegistration="
                          + atRegistration.value()
                          + " atDeath="
                          + atDeath.value()
                          + " late="
                          + late.value());
                  second.set(late.address()); // seen by the later native destructor on second
                });
            // second is 0 (NULL) here, which sigemptyset ignores; at its call it holds late's
            // address
            registry.registerNative(second.address(), NativeFixtures.SIGEMPTYSET);
            registry.register(
                slot,
                value ->
                    calls.add(
                        "last: atRegistration="
                            + atRegistration.value()
                            + " atDeath="
                            + atDeath.value()
                            + " late="
                            + late.value()));
            first.set(atDeath.address()); // the value the first registration must get
          });
      assertEquals(
          List.of(
              "after the first: atRegistration=0 atDeath=3 late=2",
              "last: atRegistration=0 atDeath=3 late=0"),
          calls,
          "sem_post on first must post atDeath (2 -> 3), the semaphore first points to at death; sigemptyset on second"
              + " must zero late (2 -> 0), which second points to once the Java destructor between them set it");
    }
  }

  /**
   * The same {@link Destructor} object, registered twice on one variable, is two registrations:
   * each runs once, in its own place in the order (the seed does the same with one C function).
   */
  static void sameDestructorTwice(DestructorRegistry registry) throws Exception {
    List<String> calls = Collections.synchronizedList(new ArrayList<>());
    Destructor same = value -> calls.add("same=" + value);
    try (ThreadLocalSlot a = registry.newSlot();
        ThreadLocalSlot b = registry.newSlot()) {
      Deaths.die(
          registry,
          () -> {
            a.set(1);
            b.set(2);
            registry.register(a, same);
            registry.register(b, value -> calls.add("other=" + value));
            registry.register(a, same);
            registry.register(b, same);
            registry.register(a, same);
          });
      assertEquals(
          List.of("same=1", "other=2", "same=1", "same=2", "same=1"),
          calls,
          "one Destructor object registered three times on a and once on b, between them another on b");
    }
  }
}
