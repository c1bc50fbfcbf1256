package dev.weave.tck;

import dev.weave.DestructorRegistry;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * One case of the TCK: a stable id, the rule of the contract it checks, what it checks in a few
 * words, and the check itself, run against one backend's registry.
 *
 * @param id stable and unique, such as {@code r03-unregister-per-thread} or {@code seed4-native}:
 *     lower-case letters, digits and hyphens; the {@value WeaveTckTest#CASE_FILTER} filter and the
 *     runner's {@code --case} match it
 * @param rule the rule the case checks; a failure names it
 * @param title what the case checks
 * @param stochastic whether the case measures something noisy (memory, a race) and can in principle
 *     miss a fault that it usually catches; it never fails a correct backend
 * @param check the check; it fails by throwing
 */
public record TckCase(
    String id, Rule rule, String title, boolean stochastic, Check<DestructorRegistry> check) {
  private static final Pattern ID = Pattern.compile("[a-z0-9]+(-[a-z0-9]+)*");

  public TckCase {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(rule, "rule");
    Objects.requireNonNull(title, "title");
    Objects.requireNonNull(check, "check");
    if (!ID.matcher(id).matches()) {
      throw new IllegalArgumentException(
          "case id '" + id + "' is not lower-case letters, digits and hyphens");
    }
  }

  static TckCase of(String id, Rule rule, String title, Check<DestructorRegistry> check) {
    return new TckCase(id, rule, title, false, check);
  }

  static TckCase stochastic(String id, Rule rule, String title, Check<DestructorRegistry> check) {
    return new TckCase(id, rule, title, true, check);
  }

  /**
   * @return the name a test report shows: id, rule, title, and whether it is stochastic
   */
  public String displayName() {
    return id + ": " + title + (stochastic ? " [stochastic]" : "");
  }

  /** A check that fails by throwing. */
  @FunctionalInterface
  public interface Check<T> {
    void run(T subject) throws Exception;
  }
}
