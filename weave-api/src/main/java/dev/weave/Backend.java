package dev.weave;

/**
 * A discovered backend, as listed by {@link Weave#backends()}.
 *
 * @param name the name that {@link Weave#registry(String)} and {@code -Dweave.backend} take
 * @param priority higher wins when {@link Weave#registry()} picks a backend by itself
 * @param available whether the backend works on this JVM, OS and CPU
 * @param unavailabilityReason why it does not, or {@code null} when it is available
 */
public record Backend(String name, int priority, boolean available, String unavailabilityReason) {}
