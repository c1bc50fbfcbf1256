package org.example;

import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.Weave;
import java.util.concurrent.Executors;

/**
 * From C: the README's scratch-buffer library ({@code src/main/c/scratch.c} and {@link Scratch}), a
 * JNI library that keeps a 64 KiB buffer per thread and registers {@code free} for it through
 * {@code weave.h}. The build compiles it with {@code cc}.
 *
 * <p>Pool threads ({@link ShrinkingPool}) each take their buffer twice (the same one) and die. Each
 * also registers a Java destructor after the C one: a thread's registrations, made from C or from
 * Java, run in the order made (rule 2), so it counts a buffer freed. Prints the counts and glibc's
 * C heap in use before and after.
 *
 * <p>Needs a C compiler as {@code cc}. Run, optionally with the number of pool threads as {@code
 * -Dexample.args=N} (default 1,000): {@code mvn -B -q -Pexample -Dexample=FromC -pl weave-examples
 * -am -DskipTests verify}
 */
public final class FromC {
  private static final int DEFAULT_THREADS = 1_000;
  private static final long BUFFER_BYTES = 64 * 1024; // what scratch.c allocates

  private FromC() {}

  public static void main(String[] args) throws Exception {
    int threads = args.length > 0 ? Integer.parseInt(args[0]) : DEFAULT_THREADS;
    DestructorRegistry weave = Weave.registry();
    ThreadLocalSlot afterFree = weave.newSlot();
    Tally buffers = new Tally();
    Report.line(
        "scratch.c through weave.h, weave backend %s, Java %d",
        weave.backendName(), Runtime.version().feature());

    long before = MallocJna.heapInUse();
    ShrinkingPool.run(
        threads,
        Executors.defaultThreadFactory(),
        () -> {
          long buffer =
              Scratch.buffer(); // scratch.c mallocs it and registers free() through weave.h
          if (buffer == 0 || Scratch.buffer() != buffer) {
            throw new IllegalStateException("Scratch.buffer() is not this thread's buffer");
          }
          buffers.countCreated();
          weave.register(afterFree, value -> buffers.countFreed()); // runs after scratch.c's free()
          return 0;
        });
    int freed = buffers.awaitAllFreed(60);
    long after = MallocJna.heapInUse();
    afterFree.close();
    Report.line(
        "%,d pool threads, %d at a time, each taking its %,d-byte buffer twice (the same"
            + " both times): %,d KiB in all",
        threads, ShrinkingPool.WIDTH, BUFFER_BYTES, Report.kib(buffers.created() * BUFFER_BYTES));
    Report.line(
        "freed at thread death: %,d of %,d (by free(), registered from C, each on its" + " thread)",
        freed, buffers.created());
    Report.line(
        "C heap in use %,d KiB before, %,d KiB after: %+,d KiB",
        Report.kib(before), Report.kib(after), Report.kib(after - before));
  }
}
