package dev.weave;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Weave threads, wrap and runDestructors (rule 13), through the API over a test backend. */
class WeaveThreadsTest {
  private final DestructorRegistry registry = Weave.registry("test-usable");
  private final List<String> calls = Collections.synchronizedList(new ArrayList<>());

  @Test
  void aWeaveThreadRunsItsDestructorsBeforeJoinReturnsEvenWhenItsTaskThrows() throws Exception {
    ThreadLocalSlot slot = registry.newSlot();
    Thread thread =
        new WeaveThread(
            () -> {
              slot.set(9);
              registry.register(
                  slot, value -> calls.add(Thread.currentThread().getName() + " " + value));
              throw new IllegalStateException("the task failed");
            },
            "worker");
    thread.setUncaughtExceptionHandler((t, e) -> calls.add("uncaught " + e.getMessage()));
    thread.start();
    thread.join();
    assertThat(calls).containsExactly("worker 9", "uncaught the task failed");
  }

  @Test
  void theFactoryMakesNumberedNonDaemonWeaveThreads() {
    ThreadFactory factory = Weave.threadFactory("pool");
    Thread first = factory.newThread(() -> {});
    Thread second = factory.newThread(() -> {});
    assertThat(first).isInstanceOf(WeaveThread.class);
    assertThat(first.getName()).isEqualTo("pool-1");
    assertThat(second.getName()).isEqualTo("pool-2");
    assertThat(first.isDaemon()).isFalse();
    assertThat(first.getPriority()).isEqualTo(Thread.NORM_PRIORITY);
  }

  @Test
  void wrapRunsTheTaskThenTheDestructorsOnThatThread() throws Exception {
    ThreadLocalSlot slot = registry.newSlot();
    AtomicReference<Thread> ran = new AtomicReference<>();
    Runnable task =
        Weave.wrap(() -> registry.register(slot, value -> ran.set(Thread.currentThread())));
    Thread thread = new Thread(task);
    thread.start();
    thread.join();
    assertThat(ran.get()).isSameAs(thread);
  }

  @Test
  void aRegistryThatCannotRunDestructorsDoesNotStopTheOthers() throws Exception {
    DestructorRegistry old = Weave.registry("test-without-run-destructors");
    ThreadLocalSlot slot = registry.newSlot();
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    Thread thread =
        new Thread(
            () -> {
              old.newSlot().set(1);
              registry.register(slot, value -> calls.add("ran"));
              try {
                Weave.runDestructors();
              } catch (Throwable t) {
                thrown.set(t);
              }
            });
    thread.start();
    thread.join();
    assertThat(calls).containsExactly("ran");
    assertThat(thrown.get())
        .isInstanceOf(UnsupportedOperationException.class)
        .hasMessageContaining("test-without-run-destructors backend");
  }

  @Test
  void nullsAreRefusedByName() {
    assertThatThrownBy(() -> Weave.wrap(null))
        .isInstanceOf(NullPointerException.class)
        .hasMessageContaining("task");
    assertThatThrownBy(() -> Weave.threadFactory(null))
        .isInstanceOf(NullPointerException.class)
        .hasMessageContaining("namePrefix");
  }

  @Test
  void aVirtualThreadIsRefused() throws Exception {
    Method ofVirtual;
    try {
      ofVirtual = Thread.class.getMethod("ofVirtual");
    } catch (NoSuchMethodException e) {
      ofVirtual = null;
    }
    assumeTrue(ofVirtual != null, "no virtual threads before Java 21");
    Object builder = ofVirtual.invoke(null);
    AtomicReference<Throwable> refused = new AtomicReference<>();
    Runnable body =
        () -> {
          try {
            Weave.runDestructors();
          } catch (Throwable t) {
            refused.set(t);
          }
        };
    Method start = Class.forName("java.lang.Thread$Builder").getMethod("start", Runnable.class);
    Thread virtual = (Thread) start.invoke(builder, body);
    virtual.join();
    assertThat(refused.get())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("virtual thread");
  }

  @Test
  void aRegistryWrittenBeforeRule13SaysSo() {
    DestructorRegistry old =
        new DestructorRegistry() {
          @Override
          public String backendName() {
            return "old";
          }

          @Override
          public ThreadLocalSlot newSlot() {
            throw new UnsupportedOperationException();
          }

          @Override
          public void register(ThreadLocalSlot slot, Destructor destructor) {}

          @Override
          public void registerNative(ThreadLocalSlot slot, long function) {}

          @Override
          public void registerNative(long variable, long function) {}

          @Override
          public boolean unregister(ThreadLocalSlot slot) {
            return false;
          }

          @Override
          public boolean unregister(long variable) {
            return false;
          }
        };
    assertThatThrownBy(old::runDestructors)
        .isInstanceOf(UnsupportedOperationException.class)
        .hasMessageContaining("old backend")
        .hasMessageContaining("rule 13");
  }
}
