package dev.weave.verification.model;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import dev.weave.Destructor;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.tck.NativeFixtures;
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
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import jnr.ffi.annotations.Delegate;

/**
 * Runs a {@link Program} on a fresh platform thread of a backend, lets the thread die, waits until
 * its OS thread has exited (after every destructor) and records what happened: each call's result,
 * and each destructor call with its value, in order. Native destructors are C function pointers
 * (jnr-ffi closures) that record their argument, so the engine calls them as it calls any C
 * function. (Not JNA callbacks: called from inside the jna backend's own JNA callback, each prints
 * "JNA: could not detach thread", harmless but noisy.)
 */
public final class ProgramRunner {
  private static final Duration TIMEOUT = Duration.ofSeconds(20);

  /** A C {@code void (*)(void*)} that records {@code Nn=value}. */
  public interface NativeRecorder {
    @Delegate
    void invoke(long value);
  }

  /** Where native destructor calls go; one program runs at a time. */
  private static final AtomicReference<List<String>> NATIVE_CALLS = new AtomicReference<>();

  private static final NativeRecorder[] RECORDERS = new NativeRecorder[Program.NATIVE_DESTRUCTORS];
  private static final long[] FUNCTIONS = new long[Program.NATIVE_DESTRUCTORS];

  static {
    for (int i = 0; i < RECORDERS.length; i++) {
      String name = "N" + i;
      RECORDERS[i] =
          value -> {
            List<String> calls = NATIVE_CALLS.get();
            if (calls != null) {
              calls.add(name + "=" + value);
            }
          };
      // held in RECORDERS for good: a closure's stub may go when the object is collected
      FUNCTIONS[i] =
          jnr.ffi.Runtime.getSystemRuntime()
              .getClosureManager()
              .getClosurePointer(NativeRecorder.class, RECORDERS[i])
              .address();
    }
  }

  private final DestructorRegistry registry;
  private final List<ThreadLocalSlot> slots = new ArrayList<>();
  private final Memory variables = new Memory(8L * Program.VARIABLES);
  private final List<String> calls = Collections.synchronizedList(new ArrayList<>());

  private ProgramRunner(DestructorRegistry registry) {
    this.registry = registry;
    variables.clear();
  }

  /**
   * @return the program's results and destructor calls on this backend, comparable with {@link
   *     Model#predict}
   */
  public static synchronized Model.Outcome run(DestructorRegistry registry, Program program)
      throws InterruptedException {
    ProgramRunner runner = new ProgramRunner(registry);
    NATIVE_CALLS.set(runner.calls);
    try {
      return runner.runAndDie(program);
    } finally {
      NATIVE_CALLS.set(null);
      runner.slots.forEach(ThreadLocalSlot::close);
      runner.variables.close();
    }
  }

  private Model.Outcome runAndDie(Program program) throws InterruptedException {
    List<String> results = new ArrayList<>();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicLong osThread = new AtomicLong();
    CountDownLatch done = new CountDownLatch(1);
    boolean watchExit = NativeFixtures.canSeeThreads();
    try (ThreadLocalSlot sentinel = registry.newSlot()) {
      Thread thread =
          new Thread(
              () -> {
                try {
                  osThread.set(NativeFixtures.osThreadId());
                  for (Op op : program.ops()) {
                    results.add(run(op));
                  }
                  if (!watchExit) {
                    registry.register(sentinel, new Sentinel(sentinel, done));
                  }
                } catch (Throwable t) {
                  failure.set(t);
                  done.countDown();
                }
              },
              "weave-model-program");
      thread.start();
      thread.join(TIMEOUT.toMillis());
      // when the OS thread has exited, every destructor it will run has run, in whatever order
      boolean finished =
          watchExit
              ? NativeFixtures.awaitThreadExit(osThread.get(), TIMEOUT)
              : done.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      if (!finished) {
        throw new AssertionError(
            "the thread's destructors did not finish within "
                + TIMEOUT
                + "; calls so far: "
                + calls);
      }
    }
    if (failure.get() != null) {
      throw new AssertionError("the program's thread failed: " + failure.get(), failure.get());
    }
    synchronized (calls) {
      return new Model.Outcome(results, new ArrayList<>(calls));
    }
  }

  /**
   * Where {@code /proc} cannot show that the thread has exited: registered last, it registers
   * itself again each time it runs, so it is the last destructor of each of the 4 rounds, and
   * signals at the end of the last one (on a backend that keeps the order).
   */
  private final class Sentinel implements Destructor {
    private final ThreadLocalSlot slot;
    private final CountDownLatch done;
    private int round;

    Sentinel(ThreadLocalSlot slot, CountDownLatch done) {
      this.slot = slot;
      this.done = done;
    }

    @Override
    public void destroy(long value) {
      if (++round < Model.ROUNDS) {
        registry.register(slot, this);
      } else {
        done.countDown();
      }
    }
  }

  private String run(Op op) {
    try {
      return call(op);
    } catch (IllegalStateException e) {
      if (String.valueOf(e.getMessage()).contains("closed")) {
        return "closed";
      }
      throw e;
    }
  }

  private String call(Op op) {
    if (op instanceof NewSlot) {
      if (slots.size() >= Program.MAX_SLOTS) {
        return "skip";
      }
      slots.add(registry.newSlot());
      return "ok";
    }
    if (op instanceof SetVariable set) {
      variables.setLong(8L * set.variable(), set.value());
      return "ok";
    }
    if (op instanceof RegisterNative register) {
      Long variable = variable(register.target());
      if (variable == null) {
        return "skip";
      }
      if (register.target().kind() == Program.Kind.SLOT) {
        registry.registerNative(slot(register.target().index()), FUNCTIONS[register.function()]);
      } else {
        registry.registerNative(variable, FUNCTIONS[register.function()]);
      }
      return "ok";
    }
    if (op instanceof Unregister unregister) {
      Long variable = variable(unregister.target());
      if (variable == null) {
        return "skip";
      }
      return String.valueOf(
          unregister.target().kind() == Program.Kind.SLOT
              ? registry.unregister(slot(unregister.target().index()))
              : registry.unregister((long) variable));
    }
    ThreadLocalSlot slot;
    if (op instanceof Set set) {
      slot = slot(set.slot());
    } else if (op instanceof Get get) {
      slot = slot(get.slot());
    } else if (op instanceof Register register) {
      slot = slot(register.slot());
    } else if (op instanceof Close close) {
      slot = slot(close.slot());
    } else {
      throw new AssertionError(op);
    }
    if (slot == null) {
      return "skip";
    }
    if (op instanceof Set set) {
      slot.set(set.value());
    } else if (op instanceof Get) {
      return "get=" + slot.get();
    } else if (op instanceof Register register) {
      registry.register(slot, destructor(register.destructor(), register.effect()));
    } else {
      slot.close();
    }
    return "ok";
  }

  private ThreadLocalSlot slot(int index) {
    return slots.isEmpty() ? null : slots.get(index % slots.size());
  }

  /**
   * @return the target's address (a slot's is its cell here, which throws if it is closed; for
   *     {@link Program.Kind#SLOT} only its existence matters), or null when no slot has been made
   */
  private Long variable(Target target) {
    switch (target.kind()) {
      case VARIABLE:
        return Pointer.nativeValue(variables) + 8L * target.index();
      case CELL:
        ThreadLocalSlot slot = slot(target.index());
        return slot == null ? null : slot.cellAddress();
      default:
        return slot(target.index()) == null ? null : 0L;
    }
  }

  /**
   * A Java destructor that records its call, then does its effect; one on a closed slot does
   * nothing.
   */
  private Destructor destructor(int id, Effect effect) {
    String name = "J" + id;
    return value -> {
      calls.add(name + "=" + value);
      try {
        apply(effect);
      } catch (IllegalStateException closed) {
        // as the model: an effect on a closed slot does nothing
      }
    };
  }

  private void apply(Effect effect) {
    if (effect instanceof None) {
      return;
    }
    if (effect instanceof SetVariableEffect set) {
      variables.setLong(8L * set.variable(), set.value());
    } else if (effect instanceof SetSlotEffect set) {
      ThreadLocalSlot slot = slot(set.slot());
      if (slot != null) {
        slot.set(set.value());
      }
    } else if (effect instanceof RegisterEffect register) {
      ThreadLocalSlot slot = slot(register.slot());
      if (slot != null) {
        registry.register(slot, destructor(register.destructor(), register.effect()));
      }
    } else if (effect instanceof RegisterNativeEffect register) {
      Long variable = variable(register.target());
      if (variable != null) {
        if (register.target().kind() == Program.Kind.SLOT) {
          registry.registerNative(slot(register.target().index()), FUNCTIONS[register.function()]);
        } else {
          registry.registerNative(variable, FUNCTIONS[register.function()]);
        }
      }
    } else if (effect instanceof UnregisterEffect unregister) {
      Long variable = variable(unregister.target());
      if (variable != null) {
        if (unregister.target().kind() == Program.Kind.SLOT) {
          registry.unregister(slot(unregister.target().index()));
        } else {
          registry.unregister((long) variable);
        }
      }
    } else {
      throw new AssertionError(effect);
    }
  }
}
