package dev.weave.tck;

import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.Weave;

/**
 * The program a child JVM runs for the JVM-exit cases. {@code ExitProbe BACKEND main-returns}
 * registers Java and native destructors on the main thread and returns from {@code main}, so the
 * launcher's thread dies after the JVM is destroyed. {@code ExitProbe BACKEND exit-race THREADS}
 * calls {@code System.exit(0)} while that many threads register destructors and die. Neither may
 * crash or print anything.
 */
public final class ExitProbe {
  private ExitProbe() {}

  public static void main(String[] args) throws Exception {
    DestructorRegistry registry = Weave.registry(args[0]);
    ThreadLocalSlot slot = registry.newSlot();
    NativeFixtures.Semaphore semaphore = new NativeFixtures.Semaphore();
    switch (args[1]) {
      case "main-returns":
        register(registry, slot, semaphore);
        Thread dying = new Thread(() -> register(registry, slot, semaphore));
        dying.start();
        dying.join();
        return;
      case "exit-race":
        int threads = Integer.parseInt(args[2]);
        for (int i = 0; i < threads; i++) {
          new Thread(() -> register(registry, slot, semaphore)).start();
        }
        System.exit(0);
        return;
      default:
        throw new IllegalArgumentException("unknown mode " + args[1]);
    }
  }

  private static void register(DestructorRegistry registry, ThreadLocalSlot slot, NativeFixtures.Semaphore semaphore) {
    slot.set(semaphore.address());
    registry.register(slot, value -> {});
    registry.registerNative(slot, NativeFixtures.SEM_POST);
    registry.register(registry.newSlot(), value -> {});
  }
}
