package dev.weave.bench;

import java.lang.management.ManagementFactory;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.profile.InternalProfiler;
import org.openjdk.jmh.results.AggregationPolicy;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.ScalarResult;

/**
 * {@code -prof dev.weave.bench.CpuTimeProfiler}: the forked JVM's CPU time (user + system, every
 * thread) per operation, as the secondary result {@code cpu}.
 *
 * <p>JMH's scores are wall-clock time, which on a machine shared with other work grows with every
 * moment the benchmark thread waits for a CPU, and differently for each fork. CPU time does not
 * count that wait, so ratios of CPU times stay meaningful on a busy machine. In a single-threaded
 * benchmark that allocates nothing, the fork's CPU time is the benchmark thread's (plus a little
 * JMH and JIT background); where a benchmark starts threads, their CPU time counts too, as it
 * should.
 */
public final class CpuTimeProfiler implements InternalProfiler {
  private static final com.sun.management.OperatingSystemMXBean OS =
      (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

  private long start;

  @Override
  public String getDescription() {
    return "the fork's CPU time (all threads, user + system) per operation";
  }

  @Override
  public void beforeIteration(BenchmarkParams benchmarkParams, IterationParams iterationParams) {
    start = OS.getProcessCpuTime();
  }

  @Override
  @SuppressWarnings("rawtypes") // JMH's own signature
  public Collection<? extends Result> afterIteration(
      BenchmarkParams benchmarkParams, IterationParams iterationParams, IterationResult result) {
    long used = OS.getProcessCpuTime() - start;
    long operations = result.getMetadata().getMeasuredOps();
    TimeUnit unit = benchmarkParams.getTimeUnit();
    double perOperation =
        operations == 0 ? Double.NaN : used / (double) operations / unit.toNanos(1);
    return List.of(
        new ScalarResult("cpu", perOperation, unitName(unit) + "/op", AggregationPolicy.AVG));
  }

  private static String unitName(TimeUnit unit) {
    switch (unit) {
      case NANOSECONDS:
        return "ns";
      case MICROSECONDS:
        return "us";
      case MILLISECONDS:
        return "ms";
      default:
        return unit.name().toLowerCase(java.util.Locale.ROOT);
    }
  }
}
