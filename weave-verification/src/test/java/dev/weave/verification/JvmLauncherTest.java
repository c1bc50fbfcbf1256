package dev.weave.verification;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weave.tck.ExitProbe;
import dev.weave.tck.JvmLauncher;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The TCK's child JVMs start through {@value JvmLauncher#LAUNCHER} when it is set, as under qemu or
 * another C library's loader: here a shell script that notes each start and runs the rest.
 */
class JvmLauncherTest {
  private static final String FORK = "-Djdk.lang.Process.launchMechanism=FORK";

  @TempDir Path directory;

  private final String before = System.getProperty(JvmLauncher.LAUNCHER);

  @AfterEach
  void restore() {
    if (before == null) {
      System.clearProperty(JvmLauncher.LAUNCHER);
    } else {
      System.setProperty(JvmLauncher.LAUNCHER, before);
    }
  }

  @Test
  void withoutALauncherAChildRunsThisJvmsJava() {
    System.clearProperty(JvmLauncher.LAUNCHER);
    assertThat(JvmLauncher.java())
        .containsExactly(Path.of(System.getProperty("java.home"), "bin", "java").toString());
  }

  @Test
  void theLauncherGoesBeforeJavaAndTheChildStartsProcessesByFork() {
    System.setProperty(JvmLauncher.LAUNCHER, " emulator  -L /some/root ");
    assertThat(JvmLauncher.java())
        .containsExactly(
            "emulator",
            "-L",
            "/some/root",
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            FORK);
  }

  @Test
  void rule10sProbeRunsThroughTheLauncherAndPassesItOn() throws Exception {
    Path starts = directory.resolve("starts");
    Path launcher = directory.resolve("launcher");
    Files.writeString(launcher, "#!/bin/sh\necho \"$*\" >> " + starts + "\nexec \"$@\"\n");
    Files.setPosixFilePermissions(launcher, PosixFilePermissions.fromString("rwx------"));
    // Before the launcher this JVM may have been started through (a loader, an emulator).
    String outer = before == null ? "" : before.trim();
    System.setProperty(JvmLauncher.LAUNCHER, (launcher + " " + outer).trim());

    ExitProbe.Outcome outcome =
        ExitProbe.runInChildJvm("jna", Duration.ofSeconds(60), "main-returns");

    assertThat(outcome.exitCode()).as(outcome.output()).isZero();
    assertThat(outcome.output()).isEmpty();
    List<String> started = Files.readAllLines(starts);
    assertThat(started).hasSize(1);
    assertThat(started.get(0))
        .startsWith(
            (outer + " " + Path.of(System.getProperty("java.home"), "bin", "java")).trim()
                + " "
                + FORK)
        .contains("-D" + JvmLauncher.LAUNCHER + "=" + launcher)
        .endsWith(ExitProbe.class.getName() + " jna main-returns");
  }

  @Test
  void aLauncherThatCannotRunIsNamedWithWhatAChildNeeds() {
    System.setProperty(JvmLauncher.LAUNCHER, directory.resolve("no-such-launcher").toString());
    assertThatThrownBy(() -> ExitProbe.runInChildJvm("jna", Duration.ofSeconds(60), "main-returns"))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("cannot start a child JVM with [" + directory.resolve("no-such"))
        .hasMessageContaining("-D" + JvmLauncher.LAUNCHER)
        .hasMessageContaining(FORK);
  }
}
