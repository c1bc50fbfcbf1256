package dev.weave;

/**
 * A discovered backend, as listed by {@link Weave#backends()}.
 *
 * @param name the name that {@link Weave#registry(String)} and {@code -Dweave.backend} take
 * @param priority higher wins when {@link Weave#registry()} picks a backend by itself
 * @param available whether the backend works on this JVM, OS and CPU
 * @param unavailabilityReason why it does not, or {@code null} when it is available
 * @param unavailabilityCause what was thrown that made it unusable, or {@code null} when it is
 *     available or nothing was thrown (the reason then says all there is)
 */
public record Backend(
    String name,
    int priority,
    boolean available,
    String unavailabilityReason,
    Throwable unavailabilityCause) {
  /**
   * A backend with no {@code unavailabilityCause}, as this record was made before it had one.
   *
   * @param name the name that {@link Weave#registry(String)} and {@code -Dweave.backend} take
   * @param priority higher wins when {@link Weave#registry()} picks a backend by itself
   * @param available whether the backend works on this JVM, OS and CPU
   * @param unavailabilityReason why it does not, or {@code null} when it is available
   */
  public Backend(String name, int priority, boolean available, String unavailabilityReason) {
    this(name, priority, available, unavailabilityReason, null);
  }
}
