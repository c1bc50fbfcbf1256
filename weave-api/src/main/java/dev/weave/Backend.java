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
 * @param walker which walker runs the walks at thread death of its registry: {@code "native
 *     walker"} (weave's C library: a thread whose destructors are all native dies without entering
 *     the JVM), or {@code "java walker: "} and why the native one does not run ({@code
 *     -Dweave.walker=java}, no library for this platform, ...); {@code null} when the backend is
 *     unavailable or does not say ({@link dev.weave.spi.WeaveBackend#walker()})
 */
public record Backend(
    String name,
    int priority,
    boolean available,
    String unavailabilityReason,
    Throwable unavailabilityCause,
    String walker) {
  /**
   * A backend with no {@code unavailabilityCause}, as this record was made before it had one.
   *
   * @param name the name that {@link Weave#registry(String)} and {@code -Dweave.backend} take
   * @param priority higher wins when {@link Weave#registry()} picks a backend by itself
   * @param available whether the backend works on this JVM, OS and CPU
   * @param unavailabilityReason why it does not, or {@code null} when it is available
   */
  public Backend(String name, int priority, boolean available, String unavailabilityReason) {
    this(name, priority, available, unavailabilityReason, null, null);
  }

  /**
   * A backend that does not say which walker it runs, as this record was made before it had one.
   *
   * @param name the name that {@link Weave#registry(String)} and {@code -Dweave.backend} take
   * @param priority higher wins when {@link Weave#registry()} picks a backend by itself
   * @param available whether the backend works on this JVM, OS and CPU
   * @param unavailabilityReason why it does not, or {@code null} when it is available
   * @param unavailabilityCause what was thrown that made it unusable, or {@code null}
   */
  public Backend(
      String name,
      int priority,
      boolean available,
      String unavailabilityReason,
      Throwable unavailabilityCause) {
    this(name, priority, available, unavailabilityReason, unavailabilityCause, null);
  }
}
