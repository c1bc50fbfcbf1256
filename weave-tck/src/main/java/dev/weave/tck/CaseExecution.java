package dev.weave.tck;

import dev.weave.DestructorRegistry;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

/**
 * Runs one case against one registry, the same way in this JVM or in a child JVM: a failure comes
 * out as an {@link AssertionFailedError} whose message names the case's rule and links to it in the
 * specification, with what went wrong; a skip ({@link TestAbortedException}) as it is.
 */
final class CaseExecution {
  private CaseExecution() {}

  static void execute(TckCase c, DestructorRegistry registry) throws Throwable {
    CheckedMode.Watch watch = CheckedMode.watch(registry);
    try {
      c.check().run(registry);
    } catch (TestAbortedException skipped) {
      throw skipped;
    } catch (Throwable t) {
      throw failure(c, describe(t), t);
    }
    String violations = watch.newViolations();
    if (violations != null) {
      throw failure(c, violations, null);
    }
  }

  /**
   * @param what what went wrong, in a sentence or a few lines
   * @return the failure of {@code c}: its rule, its id, what went wrong, and where the rule is
   *     written down
   */
  static AssertionFailedError failure(TckCase c, String what, Throwable cause) {
    String message =
        c.rule().label() + ", case " + c.id() + ": " + what + "\nThe rule: " + c.rule().link();
    return cause == null
        ? new AssertionFailedError(message)
        : new AssertionFailedError(message, cause);
  }

  /** An assertion's message says it all; anything else also needs its type. */
  static String describe(Throwable t) {
    String message = t.getMessage();
    if (t instanceof AssertionError && message != null && !message.isBlank()) {
      return message;
    }
    return "the case threw " + t;
  }

  static String stackTrace(Throwable t) {
    StringWriter text = new StringWriter();
    t.printStackTrace(new PrintWriter(text));
    return text.toString();
  }
}
