package dev.weave.bench;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collection;
import java.util.Locale;
import java.util.stream.Collectors;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.results.BenchmarkResult;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.format.OutputFormat;
import org.openjdk.jmh.runner.format.OutputFormatFactory;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * JMH's {@code Main} with one line per benchmark and backend as it starts and as it finishes, with
 * its score and the time so far, instead of JMH's page per iteration; {@code -v NORMAL} gives JMH's
 * own output back. A benchmark that fails has JMH's output for it printed in full.
 */
public final class Bench {
  private Bench() {}

  public static void main(String[] args) throws Exception {
    CommandLineOptions options = new CommandLineOptions(args);
    OutputFormat format =
        options.verbosity().hasValue()
            ? OutputFormatFactory.createFormatInstance(System.out, options.verbosity().get())
            : new Progress(System.out);
    Collection<RunResult> results = new Runner(options, format).run();
    if (results.isEmpty()) {
      System.exit(1);
    }
  }

  /** Buffers JMH's normal output per benchmark; prints a line at each start and end instead. */
  private static final class Progress implements OutputFormat {
    private final PrintStream out;
    private final ByteArrayOutputStream buffer = new ByteArrayOutputStream();
    private final OutputFormat jmh =
        OutputFormatFactory.createFormatInstance(
            new PrintStream(buffer, true, StandardCharsets.UTF_8), VerboseMode.NORMAL);
    private final long start = System.nanoTime();
    private long benchmarkStart;
    private int done;

    Progress(PrintStream out) {
      this.out = out;
    }

    private static String name(BenchmarkParams params) {
      String benchmark = params.getBenchmark().replace("dev.weave.bench.", "");
      String values =
          params.getParamsKeys().stream()
              .map(key -> key + "=" + params.getParam(key))
              .collect(Collectors.joining(", "));
      return values.isEmpty() ? benchmark : benchmark + " [" + values + "]";
    }

    private String elapsed(long since) {
      Duration time = Duration.ofNanos(System.nanoTime() - since);
      return String.format(Locale.ROOT, "%dm%02ds", time.toMinutes(), time.toSecondsPart());
    }

    /** Whatever JMH said since the last benchmark ended, if it looks like a failure. */
    private void showFailures() {
      String text = buffer.toString(StandardCharsets.UTF_8);
      buffer.reset();
      if (text.contains("<failure>") || text.contains("Exception") || text.contains("Error:")) {
        out.print(text);
      }
    }

    @Override
    public void startBenchmark(BenchmarkParams params) {
      showFailures();
      benchmarkStart = System.nanoTime();
      out.println("started  " + name(params) + " (" + elapsed(start) + " in)");
      jmh.startBenchmark(params);
    }

    @Override
    public void endBenchmark(BenchmarkResult result) {
      jmh.endBenchmark(result);
      done++;
      String score = "no result";
      if (result != null) {
        Result primary = result.getPrimaryResult();
        score = String.format(Locale.ROOT, "%.4g %s", primary.getScore(), primary.getScoreUnit());
      }
      String name = result == null ? "?" : name(result.getParams());
      out.println(
          "finished "
              + name
              + ": "
              + score
              + " ("
              + elapsed(benchmarkStart)
              + "; "
              + done
              + " done, "
              + elapsed(start)
              + " in)");
      showFailures();
    }

    @Override
    public void startRun() {
      jmh.startRun();
    }

    @Override
    public void endRun(Collection<RunResult> results) {
      showFailures();
      out.println(results.size() + " benchmark runs in " + elapsed(start));
    }

    @Override
    public void iteration(BenchmarkParams benchmark, IterationParams params, int iteration) {
      jmh.iteration(benchmark, params, iteration);
    }

    @Override
    public void iterationResult(
        BenchmarkParams benchmark, IterationParams params, int iteration, IterationResult data) {
      jmh.iterationResult(benchmark, params, iteration, data);
    }

    @Override
    public void print(String text) {
      jmh.print(text);
    }

    @Override
    public void println(String text) {
      jmh.println(text);
    }

    @Override
    public void flush() {
      out.flush();
    }

    @Override
    public void close() {
      showFailures();
      out.flush();
    }

    @Override
    public void verbosePrintln(String text) {
      jmh.verbosePrintln(text);
    }

    @Override
    public void write(int b) {
      jmh.write(b);
    }

    @Override
    public void write(byte[] bytes) throws IOException {
      jmh.write(bytes);
    }
  }
}
