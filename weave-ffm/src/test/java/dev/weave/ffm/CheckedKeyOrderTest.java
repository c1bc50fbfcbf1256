package dev.weave.ffm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.jna.Callback;
import com.sun.jna.Memory;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import dev.weave.ThreadLocalSlot;
import dev.weave.spi.CheckedPrimitives;
import dev.weave.spi.Engine;
import dev.weave.spi.NativePrimitives;
import dev.weave.tck.NativeFixtures;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Issue 17, defect 4: in checked mode the checker's memory keys are thread-death keys of their own,
 * made before the engine's walker key; the detach key must still come after the walker key, or a
 * walk that first runs in glibc's 4th and last pass leaves its attachment attached for good.
 */
class CheckedKeyOrderTest {
  private static final NativeLibrary LIBC = NativeLibrary.getInstance("c");
  private static final Duration TIMEOUT = Duration.ofSeconds(20);
  private static final Pattern UPCALL_ATTACHMENT = Pattern.compile("Thread-\\d+");

  /** {@code void (*)(void *)}. */
  interface KeyDestructor extends Callback {
    void invoke(Pointer value);
  }

  @Test
  void aWalkInGlibcsLastPassIsDetachedInCheckedMode() throws Exception {
    NativePrimitives ffm =
        (NativePrimitives)
            Class.forName("dev.weave.ffm.FfmPrimitives").getConstructor().newInstance();
    CheckedPrimitives checked = new CheckedPrimitives(ffm);
    Engine engine = new Engine("ffm-checked", checked);
    ThreadLocalSlot slot = engine.newSlot();
    slot.set(0); // the checker's memory key first, a thread-death key with its detach key
    engine.register(slot, value -> {}); // then the walker key
    engine.unregister(slot);
    AtomicInteger passes = new AtomicInteger();
    try (NativeFixtures.Word word = new NativeFixtures.Word();
        NativeFixtures.Semaphore ran = new NativeFixtures.Semaphore()) {
      word.set(ran.address());
      int[] key = new int[1];
      KeyDestructor destructor =
          value -> {
            if (passes.incrementAndGet() < 3) {
              setSpecific(key[0], 1); // visited again in the next pass
            } else {
              engine.registerNative(word.address(), NativeFixtures.SEM_POST); // walked in pass 4
            }
          };
      Memory created = new Memory(4);
      assertEquals(
          0, LIBC.getFunction("pthread_key_create").invokeInt(new Object[] {created, destructor}));
      key[0] = created.getInt(0); // after the walker key: visited after it in each pass
      Set<Thread> before = Set.copyOf(Thread.getAllStackTraces().keySet());
      AtomicLong osThread = new AtomicLong();
      Thread dying =
          new Thread(
              () -> {
                osThread.set(NativeFixtures.osThreadId());
                setSpecific(key[0], 1);
              });
      dying.start();
      dying.join();
      assertTrue(NativeFixtures.awaitThreadExit(osThread.get(), TIMEOUT), "the thread exited");
      assertEquals(3, passes.get(), "the key destructor's calls, one per pass");
      assertEquals(1, ran.value(), "the native destructor registered in pass 3 ran, in pass 4");
      List<String> left = leftAttached(before);
      assertEquals(List.of(), left, "attachments the walk in glibc's last pass left attached");
      java.lang.ref.Reference.reachabilityFence(destructor);
    }
    assertEquals(0, checked.violationCount(), String.join("\n", checked.violations()));
  }

  private static void setSpecific(int key, long value) {
    LIBC.getFunction("pthread_setspecific").invokeInt(new Object[] {key, new Pointer(value)});
  }

  /** Detaching ends an attachment's Thread at once; the deadline only keeps a failure finite. */
  private static List<String> leftAttached(Set<Thread> before) {
    long deadline = System.nanoTime() + Duration.ofSeconds(2).toNanos();
    List<String> left;
    do {
      left =
          Thread.getAllStackTraces().keySet().stream()
              .filter(t -> !before.contains(t) && UPCALL_ATTACHMENT.matcher(t.getName()).matches())
              .map(Thread::getName)
              .sorted()
              .collect(Collectors.toList());
      LockSupport.parkNanos(Duration.ofMillis(10).toNanos());
    } while (!left.isEmpty() && System.nanoTime() < deadline);
    return left;
  }
}
