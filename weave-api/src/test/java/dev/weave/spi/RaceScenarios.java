package dev.weave.spi;

import dev.weave.Destructor;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * The races of issue 11 §4: a few threads, a few operations each, and the outcomes the contract
 * allows, stated as jcstress samples state them (every outcome not listed is forbidden). Every race
 * also requires what {@link Race#run()} checks: no violation of checked mode, live blocks back to
 * the baseline, no thread left with registrations.
 *
 * <p>The word "close returned" is the contract's line: once a {@code close()} of a slot has
 * returned, no destructor registered on that slot may start (rule 11: close drops them, it does not
 * run them). A destructor the walk started before that is a race the caller lost, and allowed.
 */
final class RaceScenarios {
  /** A native destructor's address, as the simulation records its calls. */
  static final long NATIVE = 0xd1;

  private RaceScenarios() {}

  /** A race and its allowed outcomes. */
  static final class Scenario {
    final String name;

    /** Each allowed outcome, as a pattern, and why the contract allows it. */
    private final Map<Pattern, String> acceptable = new LinkedHashMap<>();

    private final Function<Race, Supplier<String>> setUp;

    private Scenario(String name, Function<Race, Supplier<String>> setUp) {
      this.name = name;
      this.setUp = setUp;
    }

    private Scenario acceptable(String outcome, String why) {
      return acceptableMatching(Pattern.quote(outcome), why);
    }

    private Scenario acceptableMatching(String regex, String why) {
      acceptable.put(Pattern.compile(regex), why);
      return this;
    }

    /**
     * @return why the contract allows {@code outcome}, or null if it does not
     */
    String whyAllowed(String outcome) {
      for (Map.Entry<Pattern, String> allowed : acceptable.entrySet()) {
        if (allowed.getKey().matcher(outcome).matches()) {
          return allowed.getValue();
        }
      }
      return null;
    }

    /**
     * @return the allowed outcomes, one a line
     */
    String describeAllowed() {
      StringBuilder text = new StringBuilder();
      acceptable.forEach(
          (outcome, why) -> {
            String shown = outcome.pattern().replace("\\Q", "").replace("\\E", ""); // unquoted
            text.append("  ").append(shown).append("   (").append(why).append(")\n");
          });
      return text.toString();
    }

    /**
     * Adds the scenario's threads to {@code race}; the supplier names the outcome once they are
     * done.
     */
    Supplier<String> setUp(Race race) {
      return setUp.apply(race);
    }

    @Override
    public String toString() {
      return name;
    }
  }

  static List<Scenario> all() {
    return List.of(
        closeRacingADeathWalk(),
        closeRacingUnregisterAndABareDeath(),
        twoClosesRacingADeathWalk(),
        getAndSetRacingCloseAndReuse(),
        registerRacingClose(),
        laterKeyDestructorRegistersAfterTheWalk(),
        runDestructorsRacingClose(),
        destructorsClosingEachOthersSlots(),
        cellRegistrationRacingClose(),
        keyDestructorsAroundWeavesKeys(),
        closeRacingANativeDestructor());
  }

  /**
   * What a close racing the walks of a bystander and an owner, each with one registration on the
   * slot, allows: each walk took its registration before any close returned, or a close dropped it.
   */
  private static final String EACH_RAN_FIRST_OR_NOT_AT_ALL =
      "(none ran|bystander\\(9\\) before close returned|owner\\(5\\) before close returned"
          + "|bystander\\(9\\) before close returned, owner\\(5\\) before close returned)";

  /**
   * Defect 1: {@code close()} takes the threads with registrations, and, while it drops the
   * bystander's, the owner dies: its walk frees its chunks before close reads its owner words. The
   * owner also has a native destructor on a slot nobody closes, registered first, so that its walk
   * reads a cell after calling native code.
   */
  static Scenario closeRacingADeathWalk() {
    return new Scenario(
            "close racing a death walk",
            race -> {
              DestructorRegistry registry = race.registry;
              ThreadLocalSlot closing = registry.newSlot();
              ThreadLocalSlot open = registry.newSlot();
              AtomicInteger registered = new AtomicInteger();
              race.thread(
                  "bystander", () -> setAndRegister(race, closing, 9, "bystander", registered));
              race.thread(
                  "owner",
                  () -> {
                    registry.registerNative(open, NATIVE);
                    setAndRegister(race, closing, 5, "owner", registered);
                  });
              race.thread(
                  "closer",
                  () -> {
                    race.await("both registrations", () -> registered.get() == 2);
                    race.close(closing);
                  });
              return () ->
                  race.destructorRunsInAnyOrder() + "; native " + race.simulation.nativeCalls();
            })
        .acceptableMatching(
            EACH_RAN_FIRST_OR_NOT_AT_ALL + Pattern.quote("; native [d1(0)]"),
            "each walk took its registration before close did, or close dropped it; the native one ran");
  }

  /**
   * Issue 20: a close racing the walk of a native destructor on its slot. The native walker holds
   * no monitor: it publishes the entry it runs, then looks at its flags again, while the closer
   * marks it dropped, then looks at what runs (LIFECYCLE.md, "The native walker"). A second native
   * destructor on a slot nobody closes follows it, so that the walk goes on after it.
   */
  static Scenario closeRacingANativeDestructor() {
    return new Scenario(
            "close racing a native destructor",
            race -> {
              DestructorRegistry registry = race.registry;
              ThreadLocalSlot closing = registry.newSlot();
              ThreadLocalSlot open = registry.newSlot();
              AtomicBoolean registered = new AtomicBoolean();
              race.nativeOnClosedSlot(NATIVE, "d1");
              race.thread(
                  "owner",
                  () -> {
                    closing.set(5);
                    registry.registerNative(closing, NATIVE);
                    open.set(6);
                    registry.registerNative(open, OTHER_NATIVE);
                    registered.set(true);
                  });
              race.thread(
                  "closer",
                  () -> {
                    race.await("the registrations", registered::get);
                    race.close(closing);
                  });
              return () -> race.destructorRuns() + "; native " + race.simulation.nativeCalls();
            })
        .acceptable("none ran; native [d2(6)]", "close dropped it")
        .acceptable(
            "d1(5) before close returned; native [d1(5), d2(6)]",
            "the walk took it before close did, and close waited for it");
  }

  /** A second native destructor's address. */
  static final long OTHER_NATIVE = 0xd2;

  /** Sets {@code slot} to {@code value} and registers a destructor named {@code name} on it. */
  private static void setAndRegister(
      Race race, ThreadLocalSlot slot, long value, String name, AtomicInteger registered) {
    slot.set(value);
    race.registry.register(slot, race.onClosedSlot(name));
    registered.incrementAndGet();
  }

  /**
   * Defect 1, second path: the owner unregisters everything, so its chunks go back to libc's free,
   * and dies at bare cost while a close that saw it with registrations drops the bystander's.
   */
  static Scenario closeRacingUnregisterAndABareDeath() {
    return new Scenario(
            "close racing unregister and a bare death",
            race -> {
              DestructorRegistry registry = race.registry;
              ThreadLocalSlot closing = registry.newSlot();
              AtomicInteger registered = new AtomicInteger();
              AtomicReference<String> unregister = new AtomicReference<>();
              race.thread(
                  "bystander", () -> setAndRegister(race, closing, 9, "bystander", registered));
              race.thread(
                  "owner",
                  () -> {
                    setAndRegister(race, closing, 5, "owner", registered);
                    race.point();
                    try {
                      unregister.set("unregister " + registry.unregister(closing));
                    } catch (IllegalStateException closed) {
                      unregister.set("unregister refused");
                    }
                  });
              race.thread(
                  "closer",
                  () -> {
                    race.await("both registrations", () -> registered.get() == 2);
                    race.close(closing);
                  });
              return () -> unregister + ": " + race.destructorRunsInAnyOrder();
            })
        .acceptableMatching(
            "unregister true: (none ran|bystander\\(9\\) before close returned)",
            "unregister came before close: the owner's never runs; the bystander's walk took its"
                + " registration before close did, or close dropped it")
        .acceptableMatching(
            "unregister refused: " + EACH_RAN_FIRST_OR_NOT_AT_ALL,
            "close came before unregister; each walk took its registration before close did, or close"
                + " dropped it");
  }

  /**
   * Defect 4: a second {@code close()} of the slot returns while the first is still dropping
   * registrations (the bystander's, say), and the owner's walk runs one of them after it.
   */
  static Scenario twoClosesRacingADeathWalk() {
    return new Scenario(
            "two closes racing a death walk",
            race -> {
              ThreadLocalSlot closing = race.registry.newSlot();
              AtomicInteger registered = new AtomicInteger();
              race.thread(
                  "bystander", () -> setAndRegister(race, closing, 9, "bystander", registered));
              race.thread("owner", () -> setAndRegister(race, closing, 5, "owner", registered));
              for (String closer : List.of("first closer", "second closer")) {
                race.thread(
                    closer,
                    () -> {
                      race.await("both registrations", () -> registered.get() == 2);
                      race.close(closing);
                    });
              }
              return race::destructorRunsInAnyOrder;
            })
        .acceptableMatching(
            EACH_RAN_FIRST_OR_NOT_AT_ALL,
            "each walk took its registration before either close did, or a close dropped it");
  }

  /**
   * Slot caches: two threads set and read a slot while another closes it and makes a new slot,
   * which takes the closed slot's index; the new slot reads 0 on every thread until set, among them
   * those whose cell at that index holds the old slot's value.
   */
  static Scenario getAndSetRacingCloseAndReuse() {
    return new Scenario(
            "get and set racing close and reuse",
            race -> {
              DestructorRegistry registry = race.registry;
              ThreadLocalSlot closing = registry.newSlot();
              AtomicReference<ThreadLocalSlot> reusing = new AtomicReference<>();
              AtomicReference<String> user = new AtomicReference<>();
              AtomicReference<String> other = new AtomicReference<>();
              AtomicReference<String> closer = new AtomicReference<>();
              ThreadLocalSlot warmUp = registry.newSlot();
              AtomicInteger warm = new AtomicInteger();
              race.thread(
                  "user", () -> user.set(useThenRead(race, warmUp, warm, closing, reusing, 5)));
              race.thread(
                  "other user",
                  () -> other.set(useThenRead(race, warmUp, warm, closing, reusing, 6)));
              race.thread(
                  "closer",
                  () -> {
                    race.await("both users' first cells", () -> warm.get() == 2);
                    closing.close();
                    ThreadLocalSlot reused = registry.newSlot();
                    reusing.set(reused);
                    closer.set("new " + reused.get());
                  });
              return () -> "user " + user + "; other user " + other + "; closer " + closer;
            })
        .acceptableMatching(
            "user (closed|set 5, closed|set 5, read 5), new 0, then 9;"
                + " other user (closed|set 6, closed|set 6, read 6), new 0, then 9; closer new 0",
            "the old slot: set and read its own value until closed, then refused; the new one: 0 until set");
  }

  /**
   * Sets {@code warmUp} (so that the race is with a thread that has its chunk), then sets and reads
   * {@code closing} unless it is closed, then reads, sets and reads the new slot.
   */
  private static String useThenRead(
      Race race,
      ThreadLocalSlot warmUp,
      AtomicInteger warm,
      ThreadLocalSlot closing,
      AtomicReference<ThreadLocalSlot> reusing,
      long value) {
    warmUp.set(1);
    warm.incrementAndGet();
    List<String> seen = new ArrayList<>();
    try {
      closing.set(value);
      seen.add("set " + value);
      seen.add("read " + closing.get());
    } catch (IllegalStateException closed) {
      seen.add("closed");
    }
    race.await("the new slot", () -> reusing.get() != null);
    ThreadLocalSlot reused = reusing.get();
    seen.add("new " + reused.get());
    reused.set(9);
    seen.add("then " + reused.get());
    return String.join(", ", seen);
  }

  /**
   * {@code register} racing {@code close}: the registration is refused with an
   * IllegalStateException or dropped by close; it never runs. The owner dies after close returned;
   * its registration on another slot runs.
   */
  static Scenario registerRacingClose() {
    return new Scenario(
            "register racing close",
            race -> {
              DestructorRegistry registry = race.registry;
              ThreadLocalSlot closing = registry.newSlot();
              ThreadLocalSlot open = registry.newSlot();
              AtomicReference<String> registration = new AtomicReference<>("refused");
              AtomicBoolean armed = new AtomicBoolean();
              Interleaver.Actor owner =
                  race.thread(
                      "owner",
                      () -> {
                        registry.register(open, race.onOpenSlot("kept"));
                        armed.set(true);
                        race.point();
                        try {
                          registry.register(closing, race.onClosedSlot("d"));
                          registration.set("registered d, then refused");
                          registry.registerNative(closing, NATIVE);
                          registration.set("registered d and native");
                        } catch (IllegalStateException closed) {
                          // close came first
                        }
                      });
              Interleaver.Actor closer =
                  race.thread(
                      "closer",
                      () -> {
                        race.await("the owner's first registration", armed::get);
                        race.close(closing);
                      });
              race.deathOf(owner).after(closer);
              return () ->
                  registration
                      + ": "
                      + race.destructorRuns()
                      + "; native "
                      + race.simulation.nativeCalls();
            })
        .acceptable("refused: kept(0); native []", "close came first")
        .acceptable(
            "registered d, then refused: kept(0); native []", "close came between, and dropped d")
        .acceptable(
            "registered d and native: kept(0); native []", "close dropped both registrations");
  }

  /**
   * Defect 2: a thread still attached when it exits (a weave.h thread) runs the walker key, then a
   * later key (another library's, made after weave's walker key) whose destructor calls weave.
   * Contract rule 7: what it registers runs in a later pass, and nothing may use the chunks the
   * walk freed. A close of the slot of the thread's first registration races all of it.
   */
  static Scenario laterKeyDestructorRegistersAfterTheWalk() {
    return new Scenario(
            "a later key destructor registers after the walk",
            race -> {
              DestructorRegistry registry = race.registry;
              SimulatedPrimitives simulation = race.simulation;
              ThreadLocalSlot closing = registry.newSlot();
              ThreadLocalSlot late = registry.newSlot();
              AtomicBoolean registered = new AtomicBoolean();
              race.threadAttachedFromNative(
                  "attached",
                  () -> {
                    closing.set(7);
                    registry.register(closing, race.onClosedSlot("d")); // the walker key exists now
                    registered.set(true);
                    ThreadDeathHandler libraryDestructor =
                        value -> {
                          late.set(2);
                          registry.register(late, race.onOpenSlot("late"));
                        };
                    long libraryKey = simulation.createKey(libraryDestructor);
                    simulation.setKey(libraryKey, 1);
                    simulation.exitWhileAttached();
                  });
              race.thread(
                  "closer",
                  () -> {
                    race.await("the registration", registered::get);
                    race.close(closing);
                  });
              return race::destructorRuns;
            })
        .acceptable("late(2)", "close dropped the registration")
        .acceptable("d(7) before close returned, late(2)", "the walk took it before close did");
  }

  /**
   * Rule 13 racing rule 11: a thread runs its destructors on the live thread while another closes
   * one of its slots. Afterwards its slots read 0, and what it registers again runs at its death.
   */
  static Scenario runDestructorsRacingClose() {
    return new Scenario(
            "runDestructors racing close",
            race -> {
              DestructorRegistry registry = race.registry;
              ThreadLocalSlot closing = registry.newSlot();
              ThreadLocalSlot open = registry.newSlot();
              AtomicBoolean registered = new AtomicBoolean();
              AtomicReference<String> afterwards = new AtomicReference<>();
              race.thread(
                  "owner",
                  () -> {
                    open.set(2);
                    registry.register(open, race.onOpenSlot("kept"));
                    closing.set(1);
                    registry.register(closing, race.onClosedSlot("d"));
                    registered.set(true);
                    registry.runDestructors();
                    afterwards.set("open reads " + open.get());
                    registry.register(open, race.onOpenSlot("again"));
                  });
              race.thread(
                  "closer",
                  () -> {
                    race.await("the owner's registrations", registered::get);
                    race.close(closing);
                  });
              return () -> race.destructorRuns() + "; then " + afterwards;
            })
        .acceptable("kept(2), again(0); then open reads 0", "close dropped the registration")
        .acceptable(
            "kept(2), d(1) before close returned, again(0); then open reads 0",
            "runDestructors took it first");
  }

  /**
   * Issue 17, defect 3: two threads whose destructors close each other's slots die together. A
   * close that finds the other's destructor running on its slot waits for it, unless that
   * destructor waits for it: then both would wait for good. At least one destructor runs (each
   * close is made by a destructor that a walk took); the other runs too, or its close dropped it.
   */
  static Scenario destructorsClosingEachOthersSlots() {
    return new Scenario(
            "destructors closing each other's slots",
            race -> {
              DestructorRegistry registry = race.registry;
              ThreadLocalSlot first = registry.newSlot();
              ThreadLocalSlot second = registry.newSlot();
              Interleaver.Actor x =
                  race.thread("x", () -> registry.register(first, closing(race, second, "x")));
              Interleaver.Actor y =
                  race.thread("y", () -> registry.register(second, closing(race, first, "y")));
              race.deathOf(x).after(y); // both registered before either dies
              race.deathOf(y).after(x);
              return race::destructorRunsInAnyOrder;
            })
        .acceptable("x closed the other(0), y closed the other(0)", "both walks took theirs first")
        .acceptable("x closed the other(0)", "x's close dropped y's registration")
        .acceptable("y closed the other(0)", "y's close dropped x's registration");
  }

  /** A destructor that closes {@code other}, then notes it. */
  private static Destructor closing(Race race, ThreadLocalSlot other, String name) {
    Destructor noted = race.onOpenSlot(name + " closed the other");
    return value -> {
      other.close();
      noted.destroy(value);
    };
  }

  /**
   * Issue 17, defect 6: a registration through a slot's cell address racing the slot's close, which
   * is followed by a new slot on the closed one's index (the same cell on the owner's thread), set
   * to 42. The registration is refused or dropped: it never runs, with the new slot's value or any.
   */
  static Scenario cellRegistrationRacingClose() {
    return new Scenario(
            "a registration through a cell racing close",
            race -> {
              DestructorRegistry registry = race.registry;
              ThreadLocalSlot closing = registry.newSlot();
              AtomicBoolean hasCell = new AtomicBoolean();
              AtomicReference<ThreadLocalSlot> reused = new AtomicReference<>();
              AtomicReference<String> registration = new AtomicReference<>();
              race.thread(
                  "owner",
                  () -> {
                    long cell = closing.cellAddress();
                    hasCell.set(true);
                    race.point();
                    try {
                      registry.registerNative(cell, NATIVE);
                      registration.set("registered");
                    } catch (IllegalStateException closed) {
                      registration.set("refused");
                    }
                    race.await("the new slot", () -> reused.get() != null);
                    reused.get().set(42);
                  });
              race.thread(
                  "closer",
                  () -> {
                    race.await("the owner's cell", hasCell::get);
                    race.close(closing);
                    reused.set(registry.newSlot());
                  });
              return () -> registration + "; native " + race.simulation.nativeCalls();
            })
        .acceptable("refused; native []", "close came first")
        .acceptable("registered; native []", "close dropped it");
  }

  /**
   * Issue 17, defect 1 (contract rule 15): a thread attached from native code that only set a slot
   * exits while attached; another library's key destructor before weave's keys binds its cells,
   * glibc frees them through weave's memory key, and a key destructor after weave's uses the slot
   * again in the same attachment. A bystander closes another slot meanwhile, so that the thread's
   * exit is scheduled against other work.
   */
  static Scenario keyDestructorsAroundWeavesKeys() {
    return new Scenario(
            "key destructors before and after weave's keys",
            race -> {
              DestructorRegistry registry = race.registry;
              SimulatedPrimitives simulation = race.simulation;
              ThreadLocalSlot slot = registry.newSlot();
              ThreadLocalSlot other = registry.newSlot();
              List<String> seen = Collections.synchronizedList(new ArrayList<>());
              long before = // made before weave's first key: glibc visits it first
                  simulation.createKey(
                      (ThreadDeathHandler)
                          value -> {
                            seen.add("before reads " + slot.get());
                            slot.set(2);
                          });
              race.threadAttachedFromNative(
                  "attached",
                  () -> {
                    slot.set(1);
                    long after =
                        simulation.createKey(
                            (ThreadDeathHandler)
                                value -> {
                                  seen.add("after reads " + slot.get());
                                  slot.set(3);
                                  registry.register(slot, race.onOpenSlot("late"));
                                });
                    simulation.setKey(before, 1);
                    simulation.setKey(after, 1);
                    simulation.exitWhileAttached();
                  });
              race.thread(
                  "bystander",
                  () -> {
                    other.set(4);
                    race.close(other);
                  });
              return () -> String.join(", ", seen) + "; " + race.destructorRuns();
            })
        .acceptable(
            "before reads 1, after reads 0; late(3)",
            "the key before binds the live cell; glibc frees it; the key after starts afresh");
  }
}
