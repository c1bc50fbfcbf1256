package org.example;

import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.Weave;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;

/**
 * A zstd compression context per pool thread, freed on that thread when the pool retires it.
 *
 * <p>Each pool thread creates a {@code ZSTD_CCtx} the first time it compresses and keeps it in a
 * weave slot, with libzstd's {@code ZSTD_freeCCtx} registered as the slot's native destructor: when
 * the pool retires the thread, the context is freed on it. The pool ({@link ShrinkingPool}) grows
 * to 4 threads for each burst of tasks and shrinks to none after it. Prints the contexts created
 * and freed and glibc's C heap in use before and after; then the same run with the context in a
 * {@code ThreadLocal}, which nothing frees when a thread dies: the leak weave prevents.
 *
 * <p>{@link ZstdFfm} (Java 22+) and {@link ZstdJna} (Java 17+) bind libzstd and run it; {@link
 * ZstdWeaveThreads} runs it on weave threads, whose destructors have run when they are joined.
 */
final class ZstdContexts {
  private static final byte[] INPUT =
      "a record of about a kilobyte, compressed by a pool thread. "
          .repeat(18)
          .getBytes(StandardCharsets.US_ASCII);
  private static final int LEVEL = 3; // ZSTD_CLEVEL_DEFAULT
  private static final int DEFAULT_THREADS = 2_000;

  /** Pool threads run before measuring, so that the JIT and malloc's arenas settle first. */
  private static final int WARM_UP_THREADS = 1_000;

  private final ZstdBinding zstd;
  private final Tally withWeave = new Tally();
  private final Tally withoutWeave = new Tally();
  private final ThreadLocal<Long> plainContext = new ThreadLocal<>();

  // Quickstart: begin
  private final DestructorRegistry weave = Weave.registry(); // best usable, or -Dweave.backend=NAME
  private final ThreadLocalSlot contextSlot = weave.newSlot(); // a void* per thread, 0 until set

  /** This thread's compression context: made on first use, freed when the thread dies. */
  long context() {
    long cctx = contextSlot.get();
    if (cctx == 0) {
      cctx = zstd.createCCtx();
      contextSlot.set(cctx);
      // At this thread's death, in this order: ZSTD_freeCCtx(the slot's value), then Java code.
      weave.registerNative(contextSlot, zstd.freeCCtxFunction());
      weave.register(contextSlot, value -> withWeave.countFreed());
      withWeave.countCreated();
    }
    return cctx;
  }

  // Quickstart: end

  /** The same in a ThreadLocal, as without weave: nothing frees it when the thread dies. */
  long contextWithoutWeave() {
    Long cctx = plainContext.get();
    if (cctx == null) {
      cctx = zstd.createCCtx();
      plainContext.set(cctx);
      withoutWeave.countCreated();
    }
    return cctx;
  }

  private ZstdContexts(ZstdBinding zstd) {
    this.zstd = zstd;
  }

  /**
   * Runs the example through {@code zstd}, on plain pool threads or on weave threads ({@link
   * Weave#threadFactory(String)}); {@code args}: the number of pool threads, optional.
   */
  static void main(ZstdBinding zstd, String[] args, boolean onWeaveThreads) throws Exception {
    int threads = args.length > 0 ? Integer.parseInt(args[0]) : DEFAULT_THREADS;
    new ZstdContexts(zstd).run(threads, onWeaveThreads);
  }

  private void run(int threads, boolean onWeaveThreads) throws Exception {
    ThreadFactory factory =
        onWeaveThreads ? Weave.threadFactory("zstd") : Executors.defaultThreadFactory();
    Report.line(
        "%s, weave backend %s, Java %d",
        zstd.describe(), weave.backendName(), Runtime.version().feature());

    ShrinkingPool.run(WARM_UP_THREADS, factory, () -> compress(context()));
    withWeave.awaitAllFreed(60);
    withWeave.reset();

    long before = zstd.heapInUse();
    long contextSize = ShrinkingPool.run(threads, factory, () -> compress(context()));
    // A weave thread's destructors have run when join() returns (rule 13); a plain thread's may
    // still be running (rule 4), so then wait for them.
    int freed = onWeaveThreads ? withWeave.freed() : withWeave.awaitAllFreed(60);
    long after = zstd.heapInUse();
    Report.line(
        "%,d pool threads%s, %d at a time, each compressing %,d bytes with a context of its"
            + " own (%,d bytes after use; %,d KiB in all)",
        threads,
        onWeaveThreads ? " (weave threads, from Weave.threadFactory)" : "",
        ShrinkingPool.WIDTH,
        INPUT.length,
        contextSize,
        Report.kib(threads * contextSize));
    if (onWeaveThreads) {
      Report.line(
          "with weave: contexts created %,d, freed %,d by the time join() returned (%,d on"
              + " the live WeaveThread, as its task ended)",
          withWeave.created(), freed, withWeave.freedOnWeaveThreads());
    } else {
      Report.line(
          "with weave: contexts created %,d, freed %,d (ZSTD_freeCCtx ran on each dying"
              + " thread)",
          withWeave.created(), freed);
    }
    Report.line(
        "with weave: C heap in use %,d KiB before, %,d KiB after: %+,d KiB",
        Report.kib(before), Report.kib(after), Report.kib(after - before));

    before = zstd.heapInUse();
    ShrinkingPool.run(threads, factory, () -> compress(contextWithoutWeave()));
    after = zstd.heapInUse();
    Report.line(
        "without weave: contexts created %,d, freed 0 (a ThreadLocal has no hook at thread"
            + " death)",
        withoutWeave.created());
    Report.line(
        "without weave: C heap in use %,d KiB before, %,d KiB after: %+,d KiB",
        Report.kib(before), Report.kib(after), Report.kib(after - before));
  }

  /** Compresses the input with {@code cctx}; returns the context's size after it. */
  private long compress(long cctx) {
    zstd.compress(cctx, INPUT, LEVEL);
    return zstd.sizeOf(cctx);
  }
}
