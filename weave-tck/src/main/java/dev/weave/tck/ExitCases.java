package dev.weave.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weave.DestructorRegistry;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/** Contract item 10: JVM exit, checked in child JVMs running {@link ExitProbe}. */
final class ExitCases {
  /** System property: how many {@code System.exit} races to run per backend. */
  static final String EXIT_RACE_RUNS = "weave.tck.exitRaceRuns";

  private ExitCases() {}

  static void mainReturns(DestructorRegistry registry) throws Exception {
    for (int run = 0; run < 3; run++) {
      runProbe(registry.backendName(), "main-returns");
    }
  }

  static void exitRace(DestructorRegistry registry) throws Exception {
    int runs = Integer.getInteger(EXIT_RACE_RUNS, 3);
    for (int run = 0; run < runs; run++) {
      runProbe(registry.backendName(), "exit-race", "200");
    }
  }

  /** Runs the probe in a child JVM like this one and checks exit 0, no output, no hs_err file. */
  static void runProbe(String backend, String... arguments) throws IOException, InterruptedException {
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
      Process process =
          new ProcessBuilder(command).directory(directory.toFile()).redirectErrorStream(true).start();
      process.getOutputStream().close();
      String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(process.waitFor(Deaths.TIMEOUT.toMillis(), TimeUnit.MILLISECONDS), "the child JVM did not exit");
      String what = String.join(" ", arguments);
      List<String> crashFiles;
      try (Stream<Path> files = Files.list(directory)) {
        crashFiles = files.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("hs_err")).toList();
      }
      assertEquals(List.of(), crashFiles, what + ": the JVM crashed; output: " + output);
      assertEquals(0, process.exitValue(), what + ": exit status; output: " + output);
      assertEquals("", output, what + ": the child JVM printed something");
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
}
