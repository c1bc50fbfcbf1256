package dev.weave.consumer;

import dev.weave.Backend;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.Weave;
import dev.weave.WeaveException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * What a program that depends on weave sees, printed one fact a line for the consumer's verify
 * script, each line starting with the label given as the first argument: the JVM and the path weave
 * is on, every backend found (with the reason an unusable one gives), the registry that {@link
 * Weave#registry()} returns (or its {@link WeaveException}), and what ran when a thread died. With
 * {@code each} as the second argument, a thread also dies with registrations through every usable
 * backend.
 */
public final class Main {
  private Main() {}

  public static void main(String[] args) throws InterruptedException {
    String label = args[0];
    boolean each = args.length > 1 && args[1].equals("each");
    print(label, "java " + Runtime.version().feature() + " " + path());
    for (Backend backend : Weave.backends()) {
      print(
          label,
          "backend "
              + backend.name()
              + (backend.available()
                  ? " available"
                  : " unavailable: " + backend.unavailabilityReason()));
    }
    try {
      DestructorRegistry registry = Weave.registry();
      print(label, "registry " + registry.backendName());
      print(label, registry.backendName() + " ran " + threadDies(registry));
    } catch (WeaveException e) {
      print(label, "WeaveException: " + e.getMessage());
    }
    if (each) {
      for (Backend backend : Weave.backends()) {
        if (backend.available()) {
          DestructorRegistry registry = Weave.registry(backend.name());
          print(label, registry.backendName() + " ran " + threadDies(registry));
        }
      }
    }
  }

  /** The class path, or the module path with the weave modules the JVM resolved there. */
  private static String path() {
    if (!Main.class.getModule().isNamed()) {
      return "class path";
    }
    return "module path "
        + ModuleLayer.boot().modules().stream()
            .map(Module::getName)
            .filter(name -> name.startsWith("dev.weave"))
            .sorted()
            .collect(Collectors.toList());
  }

  /**
   * A thread sets two slots, registers a Java destructor on each and dies; returns what the
   * destructors received, in the order they ran.
   */
  private static String threadDies(DestructorRegistry registry) throws InterruptedException {
    ThreadLocalSlot first = registry.newSlot();
    ThreadLocalSlot second = registry.newSlot();
    List<String> ran = Collections.synchronizedList(new ArrayList<>());
    CountDownLatch done = new CountDownLatch(2);
    Thread thread =
        new Thread(
            () -> {
              first.set(42);
              second.set(7);
              registry.register(
                  first,
                  value -> {
                    ran.add("first " + value);
                    done.countDown();
                  });
              registry.register(
                  second,
                  value -> {
                    ran.add("second " + value);
                    done.countDown();
                  });
            });
    thread.start();
    thread.join();
    // Destructors run on the dying OS thread, after its Java code: join() may return first.
    if (!done.await(30, TimeUnit.SECONDS)) {
      ran.add("timed out");
    }
    first.close();
    second.close();
    return ran.toString();
  }

  private static void print(String label, String line) {
    System.out.println(label + ": " + line);
  }
}
