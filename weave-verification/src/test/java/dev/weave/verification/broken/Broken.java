package dev.weave.verification.broken;

import dev.weave.tck.Rule;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * What a broken backend must do to the TCK: the rule it breaks, the cases it runs, and every case
 * it must fail, each with (part of) the reason its failure must give. {@code TckSelfTest} checks
 * that exactly those cases fail, for those reasons.
 *
 * @param backend the broken backend's name
 * @param rule the rule it breaks; a case of that rule must be among its failures
 * @param cases a regular expression on case ids: the cases it runs
 * @param javaAtLeast the Java feature release it needs
 * @param failures each case it must fail, with a pattern its failure's message must contain
 */
public record Broken(
    String backend, Rule rule, String cases, int javaAtLeast, Map<String, Pattern> failures) {

  /**
   * The cases a broken backend runs unless it says otherwise: all but those that take seconds (the
   * leak count, the JVM-exit probes in child JVMs, the slot churn), which only the backends whose
   * faults they catch run.
   */
  public static final String QUICK = "^(?!r08-|r10-|r11-slot-churn)";

  /** A broken backend that runs {@link #QUICK} on Java 17 and up, and fails nothing yet. */
  public static Broken broken(String backend, Rule rule) {
    return new Broken(backend, rule, QUICK, 17, Map.of());
  }

  /** {@code caseId} must fail, and its message contain {@code reason}, or one of {@code others}. */
  public Broken fails(String caseId, String reason, String... others) {
    Map<String, Pattern> more = new LinkedHashMap<>(failures);
    more.put(
        caseId,
        Pattern.compile(
            Stream.concat(Stream.of(reason), Arrays.stream(others))
                .map(Pattern::quote)
                .collect(Collectors.joining("|"))));
    return new Broken(backend, rule, cases, javaAtLeast, more);
  }

  /** It runs the cases whose id {@code pattern} finds, instead of {@link #QUICK}. */
  public Broken cases(String pattern) {
    return new Broken(backend, rule, pattern, javaAtLeast, failures);
  }

  /** It needs Java {@code feature} or newer. */
  public Broken javaAtLeast(int feature) {
    return new Broken(backend, rule, cases, feature, failures);
  }
}
