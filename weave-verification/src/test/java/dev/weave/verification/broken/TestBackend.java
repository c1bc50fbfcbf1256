package dev.weave.verification.broken;

import dev.weave.DestructorRegistry;
import dev.weave.WeaveException;
import dev.weave.spi.WeaveBackend;
import java.util.Optional;

/**
 * A backend of these tests: it builds its registry on first use and reports a failure to build as
 * its reason. Its negative priority keeps {@link dev.weave.Weave#registry()} from picking it.
 */
abstract class TestBackend implements WeaveBackend {
  private final String name;
  private final int priority;
  private DestructorRegistry registry;
  private String reason;
  private boolean initialized;

  TestBackend(String name, int priority) {
    if (priority >= 0) {
      throw new IllegalArgumentException("a test backend's priority is negative: " + priority);
    }
    this.name = name;
    this.priority = priority;
  }

  /** Builds the registry, or throws {@link UnsupportedOperationException} saying why not here. */
  abstract DestructorRegistry build(String name) throws Exception;

  @Override
  public String name() {
    return name;
  }

  @Override
  public int priority() {
    return priority;
  }

  @Override
  public synchronized Optional<String> unavailabilityReason() {
    initialize();
    return Optional.ofNullable(reason);
  }

  @Override
  public synchronized DestructorRegistry registry() {
    initialize();
    if (registry == null) {
      throw new WeaveException("weave backend '" + name + "' is unusable here: " + reason);
    }
    return registry;
  }

  private void initialize() {
    if (!initialized) {
      initialized = true;
      try {
        registry = build(name);
      } catch (UnsupportedOperationException e) {
        reason = e.getMessage();
      } catch (Exception | LinkageError e) {
        reason = "failed to build: " + e;
      }
    }
  }
}
