package dev.weave.verification.model;

import dev.weave.verification.model.Program.Close;
import dev.weave.verification.model.Program.Effect;
import dev.weave.verification.model.Program.Get;
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
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * The contract for one thread, as plainly as it can be said (docs/SPEC.md, rules 2, 3, 5, 7, 11): a
 * list of registrations, each on a variable; {@code unregister} removes all of them on its
 * variable; {@code close} removes all on the slot; at death they run in order, each with its
 * variable's value at that moment; a registration made by a destructor is appended one round later
 * than the one that made it, and one of round 4 or later is dropped. Nothing about pthread keys,
 * cells or memory.
 */
public final class Model {
  /** As glibc's {@code PTHREAD_DESTRUCTOR_ITERATIONS}. */
  static final int ROUNDS = 4;

  /**
   * What the program's calls returned, one entry per op, and the destructor calls at death, in
   * order.
   */
  public record Outcome(List<String> results, List<String> calls) {}

  private static final class Slot {
    boolean open = true;
    long value;
  }

  /**
   * A registration: its variable's key, a Java destructor (with its effect) or a native one, its
   * round.
   */
  private record Registration(
      String variable, int javaDestructor, Effect effect, int nativeFunction, int round) {}

  private final List<Slot> slots = new ArrayList<>();
  private final long[] variables = new long[Program.VARIABLES];
  private final Deque<Registration> registrations = new ArrayDeque<>();
  private final List<String> results = new ArrayList<>();
  private final List<String> calls = new ArrayList<>();
  private int dropped;

  private Model() {}

  /**
   * @return what the contract says the program's calls return and which destructor calls its
   *     thread's death makes
   */
  public static Outcome predict(Program program) {
    Model model = new Model();
    for (Op op : program.ops()) {
      model.results.add(model.run(op));
    }
    model.die();
    return new Outcome(model.results, model.calls);
  }

  /**
   * @return how many registrations the model dropped after the last round
   */
  public static int dropped(Program program) {
    Model model = new Model();
    program.ops().forEach(model::run);
    model.die();
    return model.dropped;
  }

  private String run(Op op) {
    if (op instanceof NewSlot) {
      if (slots.size() >= Program.MAX_SLOTS) {
        return "skip";
      }
      slots.add(new Slot());
      return "ok";
    }
    if (op instanceof SetVariable set) {
      variables[set.variable()] = set.value();
      return "ok";
    }
    if (op instanceof RegisterNative register
        && register.target().kind() == Program.Kind.VARIABLE) {
      registrations.addLast(
          new Registration(key(register.target()), -1, null, register.function(), 0));
      return "ok";
    }
    if (op instanceof Unregister unregister
        && unregister.target().kind() == Program.Kind.VARIABLE) {
      return String.valueOf(unregister(key(unregister.target())));
    }
    // everything else is on a slot
    int index = slotIndex(op);
    if (index < 0) {
      return "skip";
    }
    Slot slot = slots.get(index);
    if (op instanceof Close) {
      if (slot.open) {
        slot.open = false;
        unregister("s" + index);
      }
      return "ok";
    }
    if (!slot.open) {
      return "closed";
    }
    if (op instanceof Set set) {
      slot.value = set.value();
      return "ok";
    }
    if (op instanceof Get) {
      return "get=" + slot.value;
    }
    if (op instanceof Register register) {
      registrations.addLast(
          new Registration("s" + index, register.destructor(), register.effect(), -1, 0));
      return "ok";
    }
    if (op instanceof RegisterNative register) {
      registrations.addLast(new Registration("s" + index, -1, null, register.function(), 0));
      return "ok";
    }
    if (op instanceof Unregister) {
      return String.valueOf(unregister("s" + index));
    }
    throw new AssertionError(op);
  }

  private int slotIndex(Op op) {
    int slot;
    if (op instanceof Set set) {
      slot = set.slot();
    } else if (op instanceof Get get) {
      slot = get.slot();
    } else if (op instanceof Register register) {
      slot = register.slot();
    } else if (op instanceof RegisterNative register) {
      slot = register.target().index();
    } else if (op instanceof Unregister unregister) {
      slot = unregister.target().index();
    } else if (op instanceof Close close) {
      slot = close.slot();
    } else {
      throw new AssertionError(op);
    }
    return slots.isEmpty() ? -1 : slot % slots.size();
  }

  private boolean unregister(String variable) {
    return registrations.removeIf(r -> r.variable().equals(variable));
  }

  /**
   * The key of a target that is a bare variable, or of an open slot; null if it names no open slot.
   */
  private String key(Target target) {
    if (target.kind() == Program.Kind.VARIABLE) {
      return "v" + target.index();
    }
    if (slots.isEmpty()) {
      return null;
    }
    int index = target.index() % slots.size();
    return slots.get(index).open ? "s" + index : null;
  }

  private long value(String variable) {
    return variable.startsWith("v")
        ? variables[Integer.parseInt(variable.substring(1))]
        : slots.get(Integer.parseInt(variable.substring(1))).value;
  }

  private void die() {
    while (!registrations.isEmpty()) {
      Registration next = registrations.pollFirst();
      if (next.round() >= ROUNDS) {
        dropped++;
        continue;
      }
      long value = value(next.variable());
      if (next.nativeFunction() >= 0) {
        calls.add("N" + next.nativeFunction() + "=" + value);
      } else {
        calls.add("J" + next.javaDestructor() + "=" + value);
        apply(next.effect(), next.round());
      }
    }
  }

  /** A destructor's effect; one on a closed slot (or with no slot) does nothing. */
  private void apply(Effect effect, int round) {
    if (effect instanceof None) {
      return;
    }
    if (effect instanceof SetVariableEffect set) {
      variables[set.variable()] = set.value();
      return;
    }
    if (effect instanceof SetSlotEffect set) {
      String key = key(new Target(Program.Kind.SLOT, set.slot()));
      if (key != null) {
        slots.get(Integer.parseInt(key.substring(1))).value = set.value();
      }
      return;
    }
    if (effect instanceof RegisterEffect register) {
      String key = key(new Target(Program.Kind.SLOT, register.slot()));
      if (key != null) {
        registrations.addLast(
            new Registration(key, register.destructor(), register.effect(), -1, round + 1));
      }
      return;
    }
    if (effect instanceof RegisterNativeEffect register) {
      String key = key(register.target());
      if (key != null) {
        registrations.addLast(new Registration(key, -1, null, register.function(), round + 1));
      }
      return;
    }
    if (effect instanceof UnregisterEffect unregister) {
      String key = key(unregister.target());
      if (key != null) {
        unregister(key);
      }
      return;
    }
    throw new AssertionError(effect);
  }
}
