package dev.weave.verification.model;

import java.util.List;
import java.util.stream.Collectors;

/**
 * A program that one platform thread runs before it dies: calls on a registry over a few slots
 * (made by the program itself, at most {@value #MAX_SLOTS}) and {@value #VARIABLES} bare {@code
 * void*} variables. Java destructors may act while the thread dies ({@link Effect}). Slot numbers
 * are taken modulo the slots made so far, so every program means something, however it is shrunk; a
 * call on a slot when none has been made yet is skipped.
 *
 * <p>Java destructors are {@code J0}..{@code J3}, each recording {@code Jn=value} when called;
 * native ones are {@code N0}..{@code N2}, C function pointers that record {@code Nn=value}.
 */
public record Program(List<Op> ops) {
  public static final int MAX_SLOTS = 4;
  public static final int VARIABLES = 2;
  public static final int JAVA_DESTRUCTORS = 4;
  public static final int NATIVE_DESTRUCTORS = 3;

  /** How a registration or unregistration names its variable. */
  public enum Kind {
    /** the slot object: {@code register(slot, ..)}, {@code unregister(slot)} */
    SLOT,
    /**
     * the slot's cell on this thread: {@code registerNative(slot.cellAddress(), f)}, {@code
     * unregister(slot.cellAddress())}
     */
    CELL,
    /**
     * a bare {@code void*} in native memory: {@code registerNative(address, f)}, {@code
     * unregister(address)}
     */
    VARIABLE
  }

  /** A variable: a slot (as itself or as its cell address) or one of the bare variables. */
  public record Target(Kind kind, int index) {
    @Override
    public String toString() {
      return switch (kind) {
        case SLOT -> "s" + index;
        case CELL -> "cell(s" + index + ")";
        case VARIABLE -> "v" + index;
      };
    }
  }

  /** One call, made by the program's thread before it dies. */
  public sealed interface Op {}

  public record NewSlot() implements Op {
    @Override
    public String toString() {
      return "newSlot";
    }
  }

  public record Set(int slot, long value) implements Op {
    @Override
    public String toString() {
      return "s" + slot + ".set(" + value + ")";
    }
  }

  public record Get(int slot) implements Op {
    @Override
    public String toString() {
      return "s" + slot + ".get()";
    }
  }

  public record SetVariable(int variable, long value) implements Op {
    @Override
    public String toString() {
      return "v" + variable + "=" + value;
    }
  }

  public record Register(int slot, int destructor, Effect effect) implements Op {
    @Override
    public String toString() {
      return "register(s" + slot + ", J" + destructor + effect.suffix() + ")";
    }
  }

  public record RegisterNative(Target target, int function) implements Op {
    @Override
    public String toString() {
      return "registerNative(" + target + ", N" + function + ")";
    }
  }

  public record Unregister(Target target) implements Op {
    @Override
    public String toString() {
      return "unregister(" + target + ")";
    }
  }

  public record Close(int slot) implements Op {
    @Override
    public String toString() {
      return "s" + slot + ".close()";
    }
  }

  /** What a Java destructor does after recording its call, on the dying thread. */
  public sealed interface Effect {
    default String suffix() {
      return this instanceof None ? "" : " then " + this;
    }
  }

  public record None() implements Effect {
    @Override
    public String toString() {
      return "nothing";
    }
  }

  public record SetSlotEffect(int slot, long value) implements Effect {
    @Override
    public String toString() {
      return "s" + slot + ".set(" + value + ")";
    }
  }

  public record SetVariableEffect(int variable, long value) implements Effect {
    @Override
    public String toString() {
      return "v" + variable + "=" + value;
    }
  }

  /** Registers a Java destructor while dying: it runs in the next round. */
  public record RegisterEffect(int slot, int destructor, Effect effect) implements Effect {
    @Override
    public String toString() {
      return "register(s" + slot + ", J" + destructor + effect.suffix() + ")";
    }
  }

  public record RegisterNativeEffect(Target target, int function) implements Effect {
    @Override
    public String toString() {
      return "registerNative(" + target + ", N" + function + ")";
    }
  }

  public record UnregisterEffect(Target target) implements Effect {
    @Override
    public String toString() {
      return "unregister(" + target + ")";
    }
  }

  @Override
  public String toString() {
    return ops.stream().map(String::valueOf).collect(Collectors.joining("; ", "[", "]"));
  }
}
