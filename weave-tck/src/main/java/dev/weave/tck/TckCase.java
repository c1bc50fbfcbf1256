package dev.weave.tck;

import dev.weave.DestructorRegistry;

/**
 * One case of the TCK: a name that says which rule of the contract it checks, and the check,
 * run against one backend's registry.
 *
 * @param name the case's display name; the runner's {@code --case} filter matches it
 * @param check the check; it fails by throwing
 */
public record TckCase(String name, Check<DestructorRegistry> check) {
  /** A check that fails by throwing. */
  @FunctionalInterface
  public interface Check<T> {
    void run(T subject) throws Exception;
  }
}
