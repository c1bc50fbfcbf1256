package dev.weave.jni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weave.Backend;
import dev.weave.Weave;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * weave.h itself: shipped in weave-api, attaching, and a JVM without weave or without a backend.
 */
class WeaveHeaderTest {
  private static final String HEADER = "META-INF/native/include/weave.h";

  @Test
  void weaveApiShipsTheHeaderOfTheSourceTree() throws IOException {
    URL shipped = Weave.class.getClassLoader().getResource(HEADER);
    assertNotNull(shipped, HEADER + " is not on the class path");
    URL weaveApi = Weave.class.getProtectionDomain().getCodeSource().getLocation();
    assertTrue(
        shipped.toString().contains(weaveApi.getPath()),
        HEADER + " comes from " + shipped + ", not from weave-api at " + weaveApi);
    byte[] bytes;
    try (InputStream in = shipped.openStream()) {
      bytes = in.readAllBytes();
    }
    Path source = Paths.get(System.getProperty("weave.jni.header.source"));
    assertEquals(Files.readString(source), new String(bytes, StandardCharsets.UTF_8));
  }

  @Test
  void allThreeBackendsAreOnTheTestClassPath() {
    List<String> names = Weave.backends().stream().map(Backend::name).collect(Collectors.toList());
    assertTrue(names.containsAll(List.of("ffm", "jnr", "jna")), "backends found: " + names);
    assertTrue(
        Weave.backends().stream().anyMatch(Backend::available),
        "no usable backend: " + Weave.backends());
  }

  @Test
  void withANullEnvAnUnattachedThreadIsAttachedAsADaemonAndDetachedAtItsExit() {
    assertEquals(WeaveJni.ATTACHED_THREAD_NAME + " daemon=true", WeaveJni.attachedThreadName());
    // The C thread was joined in C, so its key destructors, the detach among them, have run.
    assertFalse(attachedThreadsAlive(), "a thread weave.h attached is still attached");
  }

  @Test
  void withoutWeaveOnTheClassPathNoClassDefFoundErrorSaysWhatToAdd() throws Exception {
    List<String> lines = probe(List.of(location(NoWeaveProbe.class)));
    assertEquals(3, lines.size(), String.join("\n", lines));
    for (String line : lines) {
      assertTrue(line.contains(" status=" + WeaveJni.WEAVE_ERROR_JAVA + " "), line);
      assertTrue(
          line.contains(
              "pending=java.lang.NoClassDefFoundError: weave.h: class dev.weave.Weave not found."),
          line);
      assertTrue(line.contains("Put dev.weave:weave-api and a weave backend"), line);
      assertTrue(line.contains("cause=java.lang.NoClassDefFoundError: dev/weave/Weave"), line);
    }
  }

  @Test
  void withoutABackendWeaveExceptionIsPending() throws Exception {
    List<String> lines = probe(List.of(location(NoWeaveProbe.class), location(Weave.class)));
    assertEquals(3, lines.size(), String.join("\n", lines));
    for (String line : lines) {
      assertTrue(line.contains(" status=" + WeaveJni.WEAVE_ERROR_JAVA + " "), line);
      assertTrue(line.contains("pending=dev.weave.WeaveException: no usable weave backend"), line);
    }
  }

  @Test
  void weaveInAnotherClassLoaderIsFoundFromCThreadsAfterWeaveInit() throws Exception {
    String testClassPath =
        System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    List<String> lines = probe(List.of(location(NoWeaveProbe.class)), "loader", testClassPath);
    String all = String.join("\n", lines);
    assertEquals(3, lines.size(), all);
    assertTrue(
        lines
            .get(0)
            .startsWith(
                "before-init status="
                    + WeaveJni.WEAVE_ERROR_JAVA
                    + " pending=java.lang.NoClassDefFoundError: weave.h: class dev.weave.Weave not found."),
        all);
    assertEquals("init status=0 pending=null cause=null", lines.get(1), all);
    assertEquals("after-init status=0 pending=null cause=null", lines.get(2), all);
  }

  static boolean attachedThreadsAlive() {
    return Thread.getAllStackTraces().keySet().stream()
        .anyMatch(t -> t.getName().equals(WeaveJni.ATTACHED_THREAD_NAME));
  }

  /** Runs {@link NoWeaveProbe} in a JVM with this class path; returns the lines it printed. */
  private static List<String> probe(List<String> classPath, String... arguments)
      throws IOException, InterruptedException {
    Path output = Files.createTempFile("weave-no-weave-probe", ".txt");
    try {
      List<String> command =
          new ArrayList<>(
              List.of(
                  Paths.get(System.getProperty("java.home"), "bin", "java").toString(),
                  "--enable-native-access=ALL-UNNAMED",
                  "-D"
                      + WeaveJni.LIBRARY_PROPERTY
                      + "="
                      + System.getProperty(WeaveJni.LIBRARY_PROPERTY),
                  "-cp",
                  String.join(File.pathSeparator, classPath),
                  NoWeaveProbe.class.getName()));
      command.addAll(List.of(arguments));
      Process process =
          new ProcessBuilder(command)
              .redirectErrorStream(true)
              .redirectOutput(output.toFile())
              .start();
      if (!process.waitFor(60, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new AssertionError(
            "the probe JVM did not end within 60 s: " + Files.readString(output));
      }
      String text = Files.readString(output);
      assertEquals(0, process.exitValue(), "probe JVM exit status; output:\n" + text);
      return text.lines().filter(l -> l.contains(" status=")).collect(Collectors.toList());
    } finally {
      Files.deleteIfExists(output);
    }
  }

  private static String location(Class<?> type) throws URISyntaxException {
    return Paths.get(type.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
  }
}
