package dev.weave.spi;

import dev.weave.Destructor;

/** One destructor a thread registered: what runs, on which variable, in which round. */
final class Registration {
  final long variable;

  /** The Java destructor, or null for a native one. */
  final Destructor destructor;

  /** The native destructor's address, when {@link #destructor} is null. */
  final long function;

  /** 0, or the walk's round plus one for a registration made by a destructor during a walk. */
  final int round;

  /** The slot it was made through, or null for a variable's address. */
  final Slot slot;

  Registration(long variable, Destructor destructor, long function, int round, Slot slot) {
    this.variable = variable;
    this.destructor = destructor;
    this.function = function;
    this.round = round;
    this.slot = slot;
  }
}
