package dev.weave.tck;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.ObjectInputStream;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Base64;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

/**
 * A child JVM that runs one backend's cases one at a time ({@link CaseServer}), so that a case that
 * crashes the JVM fails that case alone: the crash is reported as its failure, with the signal and
 * the faulting frame from the child's {@code hs_err} file, and the next case starts a new child. A
 * case that does not finish within {@link #caseLimit()} is failed the same way, with the child's
 * thread dump.
 *
 * <p>The child is a JVM like this one, started by {@link JvmLauncher} (under the same emulator or
 * loader, if any). It also runs with glibc's {@code MALLOC_PERTURB_}, so that freed memory does not
 * keep its old contents (see {@link NativeFixtures#perturbFreedMemory()}).
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
    directory = JvmLauncher.newDirectory("weave-tck-" + backend + "-");
    ProcessBuilder builder =
        new ProcessBuilder(JvmLauncher.command(directory, CaseServer.class, List.of(backend)))
            .directory(directory.toFile())
            .redirectErrorStream(true);
    builder.environment().put("MALLOC_PERTURB_", Integer.toString(NativeFixtures.PERTURB_BYTE));
    try {
      process = builder.start();
    } catch (IOException e) {
      JvmLauncher.deleteUnlessCrashed(directory);
      throw e;
    }
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
          JvmLauncher.cannotStart(e)
              + "; -D"
              + WeaveTckTest.ISOLATION
              + "=none runs the TCK's cases in this JVM",
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
    JvmLauncher.deleteUnlessCrashed(directory);
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
    try {
      return JvmLauncher.crashFiles(directory).stream().findFirst();
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
}
