package org.example;

import dev.weave.Backend;
import dev.weave.Weave;
import dev.weave.WeaveException;

/**
 * Choosing a backend: prints every backend weave finds on the class path, usable here or not (with
 * the reason), and the one {@link Weave#registry()} returns: the one {@code -Dweave.backend=NAME}
 * (or the environment variable {@code WEAVE_BACKEND}) names, else the usable one with the highest
 * priority. A named backend that is absent or unusable is an error, not a fallback: then it prints
 * the {@link WeaveException} and exits with status 1.
 *
 * <p>Run: {@code mvn -B -q -Pexample -Dexample=ChoosingABackend -pl weave-examples -am -DskipTests
 * verify}, and again with {@code -Dweave.backend=jna}, or with {@code -Dweave.jdk='[17,18)'} for
 * Java 17.
 */
public final class ChoosingABackend {
  private ChoosingABackend() {}

  public static void main(String[] args) {
    Report.line(
        "Java %d; -D%s: %s; %s: %s",
        Runtime.version().feature(),
        Weave.BACKEND_PROPERTY,
        orUnset(System.getProperty(Weave.BACKEND_PROPERTY)),
        Weave.BACKEND_ENVIRONMENT,
        orUnset(System.getenv(Weave.BACKEND_ENVIRONMENT)));
    for (Backend backend : Weave.backends()) {
      if (backend.available()) {
        Report.line("%s: priority %d, usable", backend.name(), backend.priority());
      } else {
        Report.line(
            "%s: priority %d, unusable: %s",
            backend.name(), backend.priority(), backend.unavailabilityReason());
      }
    }
    try {
      Report.line("Weave.registry(): %s", Weave.registry().backendName());
    } catch (WeaveException e) {
      Report.line("Weave.registry() threw WeaveException: %s", e.getMessage());
      System.exit(1);
    }
  }

  private static String orUnset(String value) {
    return value == null || value.isBlank() ? "unset" : value;
  }
}
