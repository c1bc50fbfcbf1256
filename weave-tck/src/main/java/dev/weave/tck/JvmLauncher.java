package dev.weave.tck;

import java.io.File;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * How the TCK starts a JVM like this one: its crash-isolating child JVMs ({@link ChildJvm}) and the
 * JVM-exit probes of rule 10 ({@link ExitProbe}), each in a directory of its own that keeps the
 * child's {@code hs_err} file if it crashed.
 *
 * <p>The child runs this JVM's {@code java} ({@code java.home}), preceded by the words of the
 * {@value #LAUNCHER} system property, if set: {@code qemu-aarch64-static -L ROOT} for an arm64 JDK
 * run under qemu-user, or a C library's own loader ({@code ROOT/.../ld-linux-x86-64.so.2
 * --library-path ...}) for a JDK built for a newer glibc than the machine's. Such a JVM cannot
 * start processes through the JDK's {@code jspawnhelper} (a binary of the same root, which the
 * kernel cannot run here), so with a launcher the child gets {@code
 * -Djdk.lang.Process.launchMechanism=FORK}, as this JVM must have been started with.
 */
public final class JvmLauncher {
  /**
   * System property: the words put before {@code java} to start a child JVM, separated by white
   * space (so no word may contain any); nothing unless set. Child JVMs inherit it, as every {@code
   * weave.*} property.
   */
  public static final String LAUNCHER = "weave.tck.launcher";

  private static final String FORK = "-Djdk.lang.Process.launchMechanism=FORK";

  private JvmLauncher() {}

  /**
   * @return the command that starts a JVM like this one, before its options: the {@value #LAUNCHER}
   *     words, this JVM's {@code java}, and {@code -Djdk.lang.Process.launchMechanism=FORK} if
   *     there is a launcher
   */
  public static List<String> java() {
    List<String> launcher = launcher();
    List<String> command = new ArrayList<>(launcher);
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    if (!launcher.isEmpty()) {
      command.add(FORK);
    }
    return command;
  }

  private static List<String> launcher() {
    String words = System.getProperty(LAUNCHER, "").trim();
    return words.isEmpty() ? List.of() : Arrays.asList(words.split("\\s+"));
  }

  /**
   * The command that runs {@code main} in a JVM like this one: {@link #java()}, this JVM's options
   * (not a debugger's, nor crash-file ones), {@code -ea} where assertions are on here, every {@code
   * weave.*} system property, {@code --enable-native-access=ALL-UNNAMED} unless an option grants
   * native access already, a crash file in {@code directory}, the class path and module path.
   *
   * @param directory where the child's {@code hs_err} file goes: it should be the child's working
   *     directory, from {@link #newDirectory}
   */
  static List<String> command(Path directory, Class<?> main, List<String> arguments) {
    List<String> command = java();
    List<String> options = ManagementFactory.getRuntimeMXBean().getInputArguments();
    for (String option : options) {
      if (!isDroppedOption(option) && !command.contains(option)) {
        command.add(option);
      }
    }
    if (JvmLauncher.class.desiredAssertionStatus()
        || dev.weave.spi.Engine.class.desiredAssertionStatus()) {
      command.add("-ea");
    }
    for (Map.Entry<Object, Object> property : System.getProperties().entrySet()) {
      String name = String.valueOf(property.getKey());
      if (name.startsWith("weave.")) { // checked mode, the launcher, the TCK's settings
        command.add("-D" + name + "=" + property.getValue());
      }
    }
    if (options.stream().noneMatch(o -> o.startsWith("--enable-native-access"))) {
      command.add("--enable-native-access=ALL-UNNAMED");
    }
    command.add("-XX:ErrorFile=" + directory.resolve("hs_err_pid%p.log"));
    command.add("-XX:-CreateCoredumpOnCrash");
    command.add("-cp");
    command.add(absolutePath(System.getProperty("java.class.path", "")));
    String modulePath = System.getProperty("jdk.module.path");
    if (modulePath != null && !modulePath.isBlank()) {
      command.add("--module-path");
      command.add(absolutePath(modulePath));
      command.add("--add-modules");
      command.add("ALL-MODULE-PATH");
    }
    if (main.getModule().isNamed()) {
      command.add("-m");
      command.add(main.getModule().getName() + "/" + main.getName());
    } else {
      command.add(main.getName());
    }
    command.addAll(arguments);
    return command;
  }

  /**
   * Options that must not be copied: a debugger's port, the crash files a child gets in its own
   * directory, and what {@link #command} sets itself.
   */
  private static boolean isDroppedOption(String option) {
    return option.startsWith("-agentlib:jdwp")
        || option.startsWith("-Xrunjdwp")
        || option.equals("-Xdebug")
        || option.startsWith("-XX:ErrorFile")
        || option.startsWith("-XX:+CreateCoredumpOnCrash")
        || option.startsWith("-Dweave.")
        || option.startsWith("-Djava.class.path")
        || option.startsWith("-Djdk.module.path");
  }

  /** The child runs in another directory, so relative path entries are resolved here. */
  private static String absolutePath(String path) {
    List<String> entries = new ArrayList<>();
    for (String entry : path.split(File.pathSeparator)) {
      if (!entry.isEmpty()) {
        entries.add(Path.of(entry).toAbsolutePath().toString());
      }
    }
    return String.join(File.pathSeparator, entries);
  }

  /**
   * A new directory for one child JVM, under {@value WeaveTckTest#CRASH_DIRECTORY} or else the
   * system's temporary directory.
   */
  static Path newDirectory(String prefix) throws IOException {
    Path parent =
        Path.of(
            System.getProperty(WeaveTckTest.CRASH_DIRECTORY, System.getProperty("java.io.tmpdir")));
    Files.createDirectories(parent);
    return Files.createTempDirectory(parent, prefix.replaceAll("[^A-Za-z0-9_-]", "_"));
  }

  /**
   * @return the {@code hs_err} files a child left in {@code directory}, by name
   */
  static List<Path> crashFiles(Path directory) throws IOException {
    try (Stream<Path> files = Files.list(directory)) {
      return files.filter(p -> p.getFileName().toString().startsWith("hs_err")).sorted().toList();
    }
  }

  /** Deletes a child's directory, unless it holds an {@code hs_err} file. */
  static void deleteUnlessCrashed(Path directory) {
    try {
      if (crashFiles(directory).isEmpty()) {
        try (Stream<Path> files = Files.walk(directory)) {
          files.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
        }
      }
    } catch (IOException e) {
      // a temporary directory left behind
    }
  }

  /**
   * Why a child JVM could not start, and what to try, for an {@link IOException} from {@link
   * ProcessBuilder#start()}.
   */
  static String cannotStart(IOException e) {
    return "cannot start a child JVM with "
        + java()
        + " ("
        + e
        + "); a JVM run under an emulator or another C library's loader needs -D"
        + LAUNCHER
        + "=\"THE PREFIX\" and "
        + FORK;
  }
}
