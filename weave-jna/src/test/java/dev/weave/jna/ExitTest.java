package dev.weave.jna;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weave.Backend;
import dev.weave.ThreadLocalSlot;
import dev.weave.Weave;
import dev.weave.WeaveException;
import dev.weave.jna.probe.ModulePathProbe;
import dev.weave.tck.JvmLauncher;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs small programs in their own JVM, on the class path: the launcher's main thread dies after
 * the JVM is destroyed, and a JVM without JNA's native library must list jna as unavailable.
 */
class ExitTest {
  @TempDir Path directory;

  @Test
  void mainThreadWithRegistrationsExitsCleanly() throws Exception {
    Result result = run(List.of(), RegisterOnMain.class);
    assertEquals(0, result.status, result::toString);
    assertEquals("", result.stdout, result::toString);
    assertEquals("", result.stderr, result::toString);
    assertNoCrashFile();
  }

  @Test
  void threadsDyingWhileTheJvmExitsDoNotCrashIt() throws Exception {
    for (int run = 0; run < 5; run++) {
      Result result = run(List.of(), ExitWhileDying.class);
      assertEquals(0, result.status, result::toString);
      assertNoCrashFile();
    }
  }

  @Test
  void withoutJnasNativeLibraryJnaIsUnavailableAndTheRestStillWorks() throws Exception {
    Path empty = Files.createDirectories(directory.resolve("empty"));
    Result result =
        run(
            List.of(
                "-Djna.nounpack=true",
                "-Djna.nosys=true",
                "-Djna.boot.library.path=" + empty,
                "-Djna.tmpdir=" + empty),
            ReportBackends.class);
    assertEquals(0, result.status, result::toString);
    assertTrue(result.stdout.contains("jna available=false"), result::toString);
    assertTrue(result.stdout.contains("registry(jna) threw WeaveException"), result::toString);
    assertFalse(result.stdout.contains("reason=null"), result::toString);
    // a native library that cannot load is this machine's problem, not a packaging defect
    assertFalse(result.stdout.contains("packaging defect"), result::toString);
    assertFalse(result.stderr.contains("packaging defect"), result::toString);
  }

  @Test
  void withoutTheJnaJarJnaIsUnavailable() throws Exception {
    List<String> withoutJna = new ArrayList<>(classPathEntries());
    withoutJna.removeIf(entry -> Path.of(entry).getFileName().toString().startsWith("jna-"));
    Result result =
        run(List.of(), String.join(File.pathSeparator, withoutJna), ReportBackends.class);
    assertEquals(0, result.status, result::toString);
    assertTrue(
        result.stdout.contains(
            "jna available=false reason=packaging defect: needs JNA (net.java.dev.jna:jna 5.x)"),
        result::toString);
    assertTrue(result.stdout.contains("com/sun/jna"), result::toString);
    // issue 19 §3: a packaging defect is logged at WARNING (java.util.logging's console format)
    assertTrue(
        result.stderr.contains(
            "WARNING: weave backend 'jna' is unusable here: packaging defect: needs JNA"),
        result::toString);
    assertTrue(result.stdout.contains("registry(jna) threw WeaveException"), result::toString);
  }

  @Test
  void worksOnTheModulePath() throws Exception {
    List<String> modules = new ArrayList<>();
    List<String> classes = new ArrayList<>();
    for (String entry : classPathEntries()) {
      String name = Path.of(entry).getFileName().toString();
      if (name.startsWith("weave-api")
          || name.startsWith("jna-")
          || entry.replace('\\', '/').endsWith("weave-jna/target/classes")) {
        modules.add(entry);
      } else if (!name.startsWith("weave-")) {
        classes.add(entry);
      }
    }
    assertEquals(3, modules.size(), () -> "weave-api, jna and weave-jna in " + classPathEntries());
    Result result =
        run(
            List.of(
                "--enable-native-access=com.sun.jna",
                "--module-path",
                String.join(File.pathSeparator, modules),
                "--add-modules",
                "dev.weave.jna"),
            String.join(File.pathSeparator, classes),
            ModulePathProbe.class);
    assertEquals(0, result.status, result::toString);
    assertTrue(result.stdout.contains("jna available=true"), result::toString);
    assertTrue(
        result.stdout.contains("module dev.weave, backend in dev.weave.jna"), result::toString);
    assertTrue(result.stdout.contains("destructors ran"), result::toString);
    assertEquals("", result.stderr, result::toString);
  }

  private void assertNoCrashFile() throws IOException {
    try (Stream<Path> files = Files.list(directory)) {
      List<Path> crashes =
          files
              .filter(p -> p.getFileName().toString().startsWith("hs_err"))
              .collect(Collectors.toList());
      assertEquals(List.of(), crashes);
    }
  }

  private Result run(List<String> options, Class<?> main) throws Exception {
    return run(options, String.join(File.pathSeparator, classPathEntries()), main);
  }

  private Result run(List<String> options, String classPath, Class<?> main) throws Exception {
    List<String> command = new ArrayList<>(JvmLauncher.java()); // under an emulator, if any
    if (options.stream().noneMatch(o -> o.startsWith("--enable-native-access"))) {
      command.add("--enable-native-access=ALL-UNNAMED");
    }
    command.addAll(options);
    command.add("-cp");
    command.add(classPath);
    command.add(main.getName());
    Process process =
        new ProcessBuilder(command)
            .directory(directory.toFile())
            .redirectInput(ProcessBuilder.Redirect.PIPE)
            .start();
    process.getOutputStream().close();
    byte[] stdout = process.getInputStream().readAllBytes();
    byte[] stderr = process.getErrorStream().readAllBytes();
    assertTrue(process.waitFor(60, TimeUnit.SECONDS), "the program did not end within 60 s");
    return new Result(
        process.exitValue(),
        new String(stdout, StandardCharsets.UTF_8),
        new String(stderr, StandardCharsets.UTF_8));
  }

  /** Surefire may put the modules on the module path: the child gets them all on the class path. */
  private static List<String> classPathEntries() {
    List<String> entries = new ArrayList<>();
    for (String property : new String[] {"jdk.module.path", "java.class.path"}) {
      String value = System.getProperty(property);
      if (value != null && !value.isEmpty()) {
        entries.addAll(Arrays.asList(value.split(File.pathSeparator)));
      }
    }
    String testClasses =
        ExitTest.class.getProtectionDomain().getCodeSource().getLocation().getPath();
    if (!entries.contains(testClasses)) {
      entries.add(testClasses);
    }
    return entries;
  }

  private static final class Result {
    final int status;
    final String stdout;
    final String stderr;

    Result(int status, String stdout, String stderr) {
      this.status = status;
      this.stdout = stdout;
      this.stderr = stderr;
    }

    @Override
    public String toString() {
      return "exit " + status + "\n--- stdout\n" + stdout + "--- stderr\n" + stderr;
    }
  }

  /** Registers Java and native destructors on the launcher's main thread, then returns. */
  public static final class RegisterOnMain {
    public static void main(String[] args) {
      var registry = Weave.registry("jna");
      ThreadLocalSlot slot = registry.newSlot();
      slot.set(Libc.malloc(64));
      registry.registerNative(slot, Libc.FREE);
      registry.register(slot, value -> System.out.println("must not run: the JVM is gone"));
    }
  }

  /** Keeps threads dying, with registrations, while {@code System.exit} runs. */
  public static final class ExitWhileDying {
    public static void main(String[] args) throws Exception {
      var registry = Weave.registry("jna");
      ThreadLocalSlot slot = registry.newSlot();
      java.util.concurrent.atomic.AtomicLong total = new java.util.concurrent.atomic.AtomicLong();
      for (int i = 0; i < 200; i++) {
        Thread thread =
            new Thread(
                () -> {
                  slot.set(Libc.malloc(64));
                  registry.registerNative(slot, Libc.FREE);
                  registry.register(slot, value -> total.incrementAndGet());
                });
        thread.start();
      }
      System.exit(0);
    }
  }

  /** Prints every backend and whether {@code registry("jna")} works. */
  public static final class ReportBackends {
    public static void main(String[] args) {
      for (Backend backend : Weave.backends()) {
        System.out.println(
            backend.name()
                + " available="
                + backend.available()
                + " reason="
                + backend.unavailabilityReason());
      }
      try {
        Weave.registry("jna");
        System.out.println("registry(jna) worked");
      } catch (WeaveException e) {
        System.out.println("registry(jna) threw WeaveException: " + e.getMessage());
      }
    }
  }
}
