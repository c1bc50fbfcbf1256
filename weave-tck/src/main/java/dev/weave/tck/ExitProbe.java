package dev.weave.tck;

import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.Weave;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The program a child JVM runs for the JVM-exit cases (rule 10). {@code ExitProbe BACKEND
 * main-returns} registers Java and native destructors on the main thread and returns from {@code
 * main}, so the launcher's thread dies after the JVM is destroyed. {@code ExitProbe BACKEND
 * exit-race THREADS} calls {@code System.exit(0)} while that many threads register destructors and
 * die. {@code ExitProbe BACKEND alive-at-exit} calls {@code System.exit(0)} while a thread that
 * registered destructors is still alive. None may crash or print anything. The main thread's and
 * the live thread's registrations include {@code unlink} of the file {@value #MARKER} in the
 * working directory, and a Java destructor that prints: threads alive at exit run no destructor, so
 * the file must still be there and nothing printed. {@link #runInChildJvm} runs it.
 */
public final class ExitProbe {
  private ExitProbe() {}

  /**
   * What a child JVM running the probe did.
   *
   * @param exitCode its exit status, or -1 if it had to be killed after the timeout
   * @param output what it printed on standard output and standard error, together
   * @param crashFiles the {@code hs_err_pid*} files it left
   * @param markerLeft whether the file {@value #MARKER} that the probe made is still there
   * @param crash what the first {@code hs_err} file says (signal, frame, native frames, its path,
   *     kept under {@value WeaveTckTest#CRASH_DIRECTORY}), or empty
   */
  public record Outcome(
      int exitCode, String output, List<String> crashFiles, boolean markerLeft, String crash) {}

  /**
   * The file a probe makes and registers {@code unlink} of, as a native destructor that must not
   * run.
   */
  public static final String MARKER = "weave-exit-probe.marker";

  /**
   * Runs {@code ExitProbe BACKEND ARGUMENTS...} in a child JVM like this one ({@link JvmLauncher}),
   * in a temporary directory that is deleted afterwards unless the child crashed.
   *
   * @param timeout how long the child may take; then it is killed and the exit code is -1
   */
  public static Outcome runInChildJvm(String backend, Duration timeout, String... arguments)
      throws IOException, InterruptedException {
    Path directory = JvmLauncher.newDirectory("weave-exit-");
    try {
      List<String> probeArguments = new ArrayList<>(List.of(backend));
      probeArguments.addAll(List.of(arguments));
      Path output = directory.resolve("output.txt");
      Process process;
      try {
        process =
            new ProcessBuilder(JvmLauncher.command(directory, ExitProbe.class, probeArguments))
                .directory(directory.toFile())
                .redirectErrorStream(true)
                .redirectOutput(output.toFile())
                .start();
      } catch (IOException e) {
        throw new IOException(JvmLauncher.cannotStart(e), e);
      }
      process.getOutputStream().close();
      int exitCode;
      String killed = "";
      if (process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        exitCode = process.exitValue();
      } else {
        process.destroyForcibly().waitFor();
        exitCode = -1;
        killed = "(killed: the child JVM did not exit within " + timeout + ")";
      }
      List<Path> crashFiles = JvmLauncher.crashFiles(directory);
      return new Outcome(
          exitCode,
          Files.readString(output, StandardCharsets.UTF_8) + killed,
          crashFiles.stream().map(p -> p.getFileName().toString()).toList(),
          Files.exists(directory.resolve(MARKER)),
          crashFiles.isEmpty() ? "" : CrashReport.describe(crashFiles.get(0)));
    } finally {
      JvmLauncher.deleteUnlessCrashed(directory);
    }
  }

  /**
   * Native memory that destructors use, held for the JVM's life: JNA frees a {@code Memory} once it
   * is unreachable, and a destructor may run after {@code main} has returned (a thread's walk after
   * its {@code join}, or a broken backend's hook); a {@code sem_post} on a freed {@code sem_t}
   * aborts the process ("The futex facility returned an unexpected error code").
   */
  private static NativeFixtures.Semaphore semaphore;

  private static com.sun.jna.Memory markerPath;

  public static void main(String[] args) throws Exception {
    DestructorRegistry registry = Weave.registry(args[0]);
    ThreadLocalSlot slot = registry.newSlot();
    ThreadLocalSlot marker = registry.newSlot();
    semaphore = new NativeFixtures.Semaphore();
    Files.createFile(Path.of(MARKER));
    markerPath = new com.sun.jna.Memory(MARKER.length() + 1);
    markerPath.setString(0, MARKER, "US-ASCII");
    Runnable registerMarker =
        () -> {
          marker.set(com.sun.jna.Pointer.nativeValue(markerPath));
          registry.registerNative(marker, NativeFixtures.UNLINK);
          registry.register(
              marker,
              value -> System.out.println("weave ran a Java destructor of a thread alive at exit"));
        };
    switch (args[1]) {
      case "main-returns":
        register(registry, slot, semaphore);
        registerMarker.run();
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
      case "alive-at-exit":
        java.util.concurrent.CountDownLatch registered = new java.util.concurrent.CountDownLatch(1);
        Thread alive =
            new Thread(
                () -> {
                  register(registry, slot, semaphore);
                  registerMarker.run();
                  registered.countDown();
                  while (true) {
                    java.util.concurrent.locks.LockSupport.park();
                  }
                });
        alive.setDaemon(true);
        alive.start();
        registered.await();
        System.exit(0);
        return;
      default:
        throw new IllegalArgumentException("unknown mode " + args[1]);
    }
  }

  private static void register(
      DestructorRegistry registry, ThreadLocalSlot slot, NativeFixtures.Semaphore semaphore) {
    slot.set(semaphore.address());
    registry.register(slot, value -> {});
    registry.registerNative(slot, NativeFixtures.SEM_POST);
    registry.register(registry.newSlot(), value -> {});
  }
}
