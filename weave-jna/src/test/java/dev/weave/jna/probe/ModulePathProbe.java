package dev.weave.jna.probe;

import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import dev.weave.Backend;
import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.Weave;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Run by {@code ExitTest} with weave-api, JNA and weave-jna on the module path (and this class on
 * the class path, outside the module's package): discovery through {@code provides}, JNA as the
 * automatic module {@code com.sun.jna}, and a thread-death callback into the named module.
 */
public final class ModulePathProbe {
  private ModulePathProbe() {}

  public static void main(String[] args) throws Exception {
    for (Backend backend : Weave.backends()) {
      System.out.println(
          backend.name()
              + " available="
              + backend.available()
              + " reason="
              + backend.unavailabilityReason());
    }
    DestructorRegistry registry = Weave.registry("jna");
    System.out.println(
        "module "
            + registry.getClass().getModule().getName()
            + ", backend in "
            + Class.forName("dev.weave.jna.JnaBackend").getModule().getName());
    NativeLibrary process = NativeLibrary.getProcess();
    long free = Pointer.nativeValue(process.getFunction("free"));
    long malloc = Pointer.nativeValue(process.getFunction("malloc"));
    CountDownLatch done = new CountDownLatch(1);
    ThreadLocalSlot slot = registry.newSlot();
    Thread thread =
        new Thread(
            () -> {
              slot.set(com.sun.jna.Native.malloc(32));
              registry.registerNative(slot, free);
              registry.register(slot, value -> done.countDown());
            });
    thread.start();
    thread.join();
    System.out.println(
        done.await(30, TimeUnit.SECONDS) && malloc != 0
            ? "destructors ran"
            : "destructors did not run");
  }
}
