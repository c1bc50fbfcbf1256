package org.example.weave;

import dev.weave.DestructorRegistry;
import dev.weave.WeaveException;
import dev.weave.spi.Engine;
import dev.weave.spi.WeaveBackend;
import java.util.Optional;

/** A backend of one's own: its own native primitives, and weave's engine for the contract. */
public final class StrangerBackend implements WeaveBackend {
  private DestructorRegistry registry;
  private String reason;
  private boolean initialized;

  @Override
  public String name() {
    return "stranger";
  }

  @Override
  public int priority() {
    return 5;
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
      throw new WeaveException("weave backend 'stranger' is unusable here: " + reason);
    }
    return registry;
  }

  private void initialize() {
    if (!initialized) {
      initialized = true;
      try {
        registry = new Engine(name(), new StrangerPrimitives());
      } catch (RuntimeException | LinkageError e) {
        reason = "JNA failed to load: " + e;
      }
    }
  }
}
