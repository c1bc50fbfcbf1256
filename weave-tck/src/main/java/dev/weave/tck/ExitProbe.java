package dev.weave.tck;

import dev.weave.DestructorRegistry;
import dev.weave.ThreadLocalSlot;
import dev.weave.Weave;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The program a child JVM runs for the JVM-exit cases. {@code ExitProbe BACKEND main-returns}
 * registers Java and native destructors on the main thread and returns from {@code main}, so the
 * launcher's thread dies after the JVM is destroyed. {@code ExitProbe BACKEND exit-race THREADS}
 * calls {@code System.exit(0)} while that many threads register destructors and die. Neither may
 * crash or print anything. {@link #runInChildJvm} runs it.
 */
public final class ExitProbe {
  private ExitProbe() {}

  /**
   * What a child JVM running the probe did.
   *
   * @param exitCode its exit status, or -1 if it had to be killed after the timeout
   * @param output what it printed on standard output and standard error, together
   * @param crashFiles the {@code hs_err_pid*} files it left
   */
  public record Outcome(int exitCode, String output, List<String> crashFiles) {}

  /**
   * Runs {@code ExitProbe BACKEND ARGUMENTS...} in a child JVM like this one (the same {@code
   * java}, the same class path), in a temporary directory that is deleted afterwards.
   *
   * @param timeout how long the child may take; then it is killed and the exit code is -1
   */
  public static Outcome runInChildJvm(String backend, Duration timeout, String... arguments)
      throws IOException, InterruptedException {
    Path directory = Files.createTempDirectory("weave-exit");
    try {
      List<String> command = new ArrayList<>();
      command.add(javaExecutable());
      command.add("--enable-native-access=ALL-UNNAMED");
      command.add("-XX:ErrorFile=" + directory.resolve("hs_err_pid%p.log"));
      command.add("-cp");
      command.add(absoluteClassPath());
      command.add(ExitProbe.class.getName());
      command.add(backend);
      command.addAll(List.of(arguments));
      Path output = directory.resolve("output.txt");
      Process process =
          new ProcessBuilder(command)
              .directory(directory.toFile())
              .redirectErrorStream(true)
              .redirectOutput(output.toFile())
              .start();
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
      List<String> crashFiles;
      try (Stream<Path> files = Files.list(directory)) {
        crashFiles = files.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("hs_err")).sorted().toList();
      }
      return new Outcome(exitCode, Files.readString(output, StandardCharsets.UTF_8) + killed, crashFiles);
    } finally {
      try (Stream<Path> files = Files.walk(directory)) {
        files.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
      }
    }
  }

  /** The child runs in another directory, so relative class path entries are resolved here. */
  private static String absoluteClassPath() {
    List<String> entries = new ArrayList<>();
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      entries.add(Path.of(entry).toAbsolutePath().toString());
    }
    return String.join(File.pathSeparator, entries);
  }

  private static String javaExecutable() {
    return ProcessHandle.current()
        .info()
        .command()
        .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
  }

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
