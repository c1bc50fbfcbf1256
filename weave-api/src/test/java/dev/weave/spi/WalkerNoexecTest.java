package dev.weave.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 20: a work directory on a real {@code noexec} mount, where the kernel refuses to map the
 * library, leaves the Java walker with a reason that names the mount, and nothing behind. The mount
 * is made in a user and mount namespace of a child JVM's own ({@code unshare}), so no privilege is
 * needed and nothing outlives the test; where the machine allows no such namespace, the test is
 * skipped and says why.
 */
class WalkerNoexecTest {
  private static final long LIMIT_SECONDS = 120;

  @TempDir Path temp;

  @Test
  void aNoexecWorkdirLeavesTheJavaWalkerNamingTheMountAndNothingBehind() throws Exception {
    Path plain = Files.createDirectories(temp.resolve("plain")).toRealPath();
    Path noexec = Files.createDirectories(temp.resolve("noexec")).toRealPath();
    Result setUp = inNoexecNamespace(noexec, List.of("true"));
    assumeTrue(
        setUp.status == 0, () -> "no user and mount namespace with a noexec tmpfs here: " + setUp);

    List<String> probeCommand = new ArrayList<>(launcherPrefix());
    probeCommand.addAll(
        List.of(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "--enable-native-access=ALL-UNNAMED",
            "-cp",
            System.getProperty("java.class.path"),
            NoexecProbe.class.getName(),
            plain.toString(),
            noexec.toString()));
    Result probe = inNoexecNamespace(noexec, probeCommand);

    assertThat(probe.status).as(probe.toString()).isZero();
    assertThat(probe.output)
        .as("the library loads from a plain directory, so System.load is not what fails")
        .contains(plain + " -> native walker | left 0");
    assertThat(probe.output)
        .contains(
            noexec
                + " -> java walker: "
                + noexec
                + " is on a noexec mount ("
                + noexec
                + "): set -Dweave.native.workdir to a directory that allows executable mappings"
                + " [UnsatisfiedLinkError: ")
        .contains("| left 0");
  }

  /**
   * The emulator or loader this JVM was started through (scripts/jdk-root sets it for a JDK the
   * machine cannot run as it comes), which the child JVM needs too: the TCK's launcher property.
   */
  private static List<String> launcherPrefix() {
    String prefix = System.getProperty("weave.tck.launcher", "").strip();
    return prefix.isEmpty() ? List.of() : List.of(prefix.split("\\s+"));
  }

  /** Runs {@code command} with a noexec tmpfs mounted on {@code directory}, seen by it alone. */
  private static Result inNoexecNamespace(Path directory, List<String> command)
      throws IOException, InterruptedException {
    List<String> full = new ArrayList<>();
    full.addAll(
        List.of(
            "unshare",
            "--user",
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
            "mount -t tmpfs -o noexec,size=4m weave-noexec \"$1\" && shift && exec \"$@\"",
            "sh",
            directory.toString()));
    full.addAll(command);
    Process process;
    try {
      process = new ProcessBuilder(full).redirectErrorStream(true).start();
    } catch (IOException e) {
      return new Result(-1, "cannot run unshare: " + e);
    }
    process.getOutputStream().close();
    byte[] output = process.getInputStream().readAllBytes();
    if (!process.waitFor(LIMIT_SECONDS, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new AssertionError("no exit within " + LIMIT_SECONDS + " s: " + full);
    }
    return new Result(process.exitValue(), new String(output, StandardCharsets.UTF_8));
  }

  private static final class Result {
    final int status;
    final String output;

    Result(int status, String output) {
      this.status = status;
      this.output = output;
    }

    @Override
    public String toString() {
      return "exit " + status + ", output:\n" + output;
    }
  }
}
