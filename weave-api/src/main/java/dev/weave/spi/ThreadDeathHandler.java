package dev.weave.spi;

/**
 * What a key made by {@link NativePrimitives#createKey(ThreadDeathHandler)} calls at thread death.
 */
@FunctionalInterface
public interface ThreadDeathHandler {
  /**
   * Called on the dying OS thread with the key's value. Never throws.
   *
   * @param value the value the thread had set for the key, never 0
   */
  void threadDied(long value);
}
