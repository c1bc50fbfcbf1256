package dev.weave.tck;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.ObjectInputStream;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

/**
 * A child JVM that runs one backend's cases one at a time ({@link CaseServer}), so that a case that
 * crashes the JVM fails that case alone: the crash is reported as its failure, with the signal and
 * the faulting frame from the child's {@code hs_err} file, and the next case starts a new child. A
 * case that does not finish within {@link #caseLimit()} is failed the same way, with the child's
 * thread dump.
 *
 * <p>The child is a JVM like this one: the same {@code java}, class path (and module path), JVM
 * options and {@code weave.*} system properties, with {@code -ea} where assertions are on here. It
 * also runs with glibc's {@code MALLOC_PERTURB_}, so that freed memory does not keep its old
 * contents (see {@link NativeFixtures#perturbFreedMemory()}).
 */
final class ChildJvm implements AutoCloseable {
  /** Marks the lines of the child's standard output that are for the parent. */
  static final String MARK = "\u0001weave-tck\u0001 ";

  private static final Set<ChildJvm> RUNNING = ConcurrentHashMap.newKeySet();
  private static final int OUTPUT_KEPT = 40;

  static {
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> RUNNING.forEach(c -> c.process.destroyForcibly()), "weave-tck-children"));
  }

  private final String backend;
  private final Path directory;
  private final Process process;
  private final Writer requests;
  private final BlockingQueue<String> replies = new LinkedBlockingQueue<>();
  private final Deque<String> recentOutput = new ArrayDeque<>();
  private final Thread reader;

  private ChildJvm(String backend) throws IOException {
    this.backend = backend;
    Path parent =
        Path.of(
            System.getProperty(WeaveTckTest.CRASH_DIRECTORY, System.getProperty("java.io.tmpdir")));
    Files.createDirectories(parent);
    directory =
        Files.createTempDirectory(
            parent, "weave-tck-" + backend.replaceAll("[^A-Za-z0-9_-]", "_") + "-");
    ProcessBuilder builder =
        new ProcessBuilder(command(backend, directory))
            .directory(directory.toFile())
            .redirectErrorStream(true);
    builder.environment().put("MALLOC_PERTURB_", Integer.toString(NativeFixtures.PERTURB_BYTE));
    process = builder.start();
    RUNNING.add(this);
    requests = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
    reader = new Thread(this::read, "weave-tck-child-" + backend);
    reader.setDaemon(true);
    reader.start();
  }

  /** Starts a child JVM for {@code backend}. */
  static ChildJvm start(String backend) {
    try {
      return new ChildJvm(backend);
    } catch (IOException e) {
      throw new IllegalStateException(
          "cannot start a child JVM for the TCK's cases ("
              + e
              + "); -D"
              + WeaveTckTest.ISOLATION
              + "=none runs them in this JVM",
          e);
    }
  }

  /**
   * How long one case may take in a child before it is failed as hung: ten times the TCK's timeout.
   */
  static Duration caseLimit() {
    return Deaths.TIMEOUT.multipliedBy(10);
  }

  boolean isAlive() {
    return process.isAlive();
  }

  /**
   * Runs {@code c} in the child and returns normally if it passed; throws what it threw if it
   * failed or was skipped; fails it if the child crashed or hung. After a crash or a hang the child
   * is gone: {@link #isAlive()} is false.
   */
  void run(TckCase c) throws Throwable {
    synchronized (recentOutput) {
      recentOutput.clear();
    }
    try {
      requests.write("run " + c.id() + "\n");
      requests.flush();
    } catch (IOException e) {
      throw ended(c);
    }
    long deadline = System.nanoTime() + caseLimit().toNanos();
    while (true) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        throw hung(c);
      }
      String reply = replies.poll(Math.min(left, 200_000_000L), TimeUnit.NANOSECONDS);
      if (reply == null) {
        if (!process.isAlive()) {
          reader.join(5_000); // what the child printed last, and any reply still in the pipe
          reply = replies.poll();
          if (reply == null) {
            throw ended(c);
          }
        } else {
          continue;
        }
      }
      String[] parts = reply.split(" ", 4);
      if (parts.length < 3 || !parts[0].equals("result") || !parts[1].equals(c.id())) {
        continue; // not this case's reply
      }
      String payload = parts.length == 4 ? parts[3] : "";
      switch (parts[2]) {
        case "pass" -> {
          return;
        }
        case "skip" -> throw new TestAbortedException(text(payload));
        case "fail" -> throw decode(payload);
        case "fail-text" -> throw new AssertionFailedError(text(payload));
        default -> throw new IllegalStateException("the TCK's child JVM replied '" + reply + "'");
      }
    }
  }

  @Override
  public void close() {
    RUNNING.remove(this);
    try {
      requests.write("exit\n");
      requests.flush();
      requests.close();
    } catch (IOException gone) {
      // it has exited already
    }
    try {
      if (!process.waitFor(5, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor();
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
    if (hsErr().isEmpty()) {
      delete(directory);
    }
  }

  /** The child ended during {@code c}: a crash, with its hs_err file, or an exit. */
  private AssertionFailedError ended(TckCase c) throws InterruptedException {
    RUNNING.remove(this);
    process.waitFor(5, TimeUnit.SECONDS);
    reader.join(5_000);
    Optional<Path> hsErr = hsErr();
    String what;
    if (hsErr.isPresent()) {
      what = "crashed: " + CrashReport.describe(hsErr.get());
    } else {
      what =
          "the child JVM running the case ended with exit status "
              + (process.isAlive() ? "?" : process.exitValue())
              + " and no hs_err file";
    }
    return CaseExecution.failure(c, what + lastOutput(), null);
  }

  /**
   * {@code c} did not finish in time: the child's thread dump goes into the failure, then the child
   * goes.
   */
  private AssertionFailedError hung(TckCase c) throws InterruptedException {
    synchronized (recentOutput) {
      recentOutput.clear();
    }
    try {
      new ProcessBuilder("kill", "-QUIT", Long.toString(process.pid()))
          .start()
          .waitFor(5, TimeUnit.SECONDS);
      Thread.sleep(1_000); // the JVM prints its thread dump on standard output
    } catch (IOException noKill) {
      // then there is no thread dump
    }
    RUNNING.remove(this);
    process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
    reader.join(5_000);
    return CaseExecution.failure(
        c,
        "did not finish within "
            + caseLimit()
            + " (ten times "
            + WeaveTckTest.TIMEOUT_SECONDS
            + "); the child JVM running it was killed"
            + lastOutput(),
        null);
  }

  /**
   * What the child printed during the case, but the JVM's crash banner (its lines start with #; the
   * hs_err file has it all).
   */
  private String lastOutput() {
    synchronized (recentOutput) {
      List<String> lines = recentOutput.stream().filter(line -> !line.startsWith("#")).toList();
      return lines.isEmpty()
          ? ""
          : "\nthe child JVM's last output:\n  " + String.join("\n  ", lines);
    }
  }

  private Optional<Path> hsErr() {
    try (Stream<Path> files = Files.list(directory)) {
      return files.filter(p -> p.getFileName().toString().startsWith("hs_err")).findFirst();
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  /** Sorts the child's output: replies into the queue, the rest to this JVM's standard error. */
  private void read() {
    try (BufferedReader lines =
        new BufferedReader(
            new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = lines.readLine()) != null) {
        int mark = line.indexOf(MARK);
        if (mark >= 0) {
          if (mark > 0) {
            output(line.substring(0, mark));
          }
          replies.add(line.substring(mark + MARK.length()));
        } else {
          output(line);
        }
      }
    } catch (IOException closed) {
      // the child is gone
    }
  }

  private void output(String line) {
    System.err.println("[" + backend + " child JVM] " + line);
    synchronized (recentOutput) {
      recentOutput.addLast(line);
      while (recentOutput.size() > OUTPUT_KEPT) {
        recentOutput.removeFirst();
      }
    }
  }

  private static Throwable decode(String payload) {
    try (ObjectInputStream in =
        new ObjectInputStream(
            new java.io.ByteArrayInputStream(Base64.getDecoder().decode(payload)))) {
      return (Throwable) in.readObject();
    } catch (IOException | ClassNotFoundException | ClassCastException e) {
      return new AssertionFailedError(
          "the TCK's child JVM reported a failure that cannot be read here: " + e);
    }
  }

  private static String text(String payload) {
    return new String(Base64.getDecoder().decode(payload), StandardCharsets.UTF_8);
  }

  /**
   * The command that starts the child: this JVM's {@code java}, options, paths and {@code weave.*}
   * properties.
   */
  private static List<String> command(String backend, Path directory) {
    List<String> command = new ArrayList<>();
    command.add(javaExecutable());
    for (String option : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if (!isDroppedOption(option)) {
        command.add(option);
      }
    }
    if (ChildJvm.class.desiredAssertionStatus()
        || dev.weave.spi.Engine.class.desiredAssertionStatus()) {
      command.add("-ea");
    }
    for (Map.Entry<Object, Object> property : System.getProperties().entrySet()) {
      String name = String.valueOf(property.getKey());
      if (name.startsWith("weave.")) {
        command.add("-D" + name + "=" + property.getValue());
      }
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
    if (CaseServer.class.getModule().isNamed()) {
      command.add("-m");
      command.add(CaseServer.class.getModule().getName() + "/" + CaseServer.class.getName());
    } else {
      command.add(CaseServer.class.getName());
    }
    command.add(backend);
    return command;
  }

  /**
   * Options that must not be copied: a debugger's port, and the crash files this class places
   * itself.
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

  static String javaExecutable() {
    return ProcessHandle.current()
        .info()
        .command()
        .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
  }

  private static void delete(Path directory) {
    try (Stream<Path> files = Files.walk(directory)) {
      files.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
    } catch (IOException e) {
      // a temporary directory left behind
    }
  }
}
