package dev.weave.spi;

import dev.weave.DestructorRegistry;
import java.util.Optional;

/**
 * A weave backend, found with {@link java.util.ServiceLoader}. An implementation's constructor must
 * not fail when its native side cannot load: it reports that through {@link
 * #unavailabilityReason()} instead. Most backends extend {@link LoadingBackend}: they implement
 * {@link NativePrimitives}, and the {@link Engine} holds the whole contract.
 */
public interface WeaveBackend {
  /**
   * @return the name {@code -Dweave.backend} takes, such as {@code "ffm"}
   */
  String name();

  /**
   * @return {@link dev.weave.Weave#registry()} picks the highest usable one
   */
  int priority();

  /**
   * @return empty when usable on this JVM, OS and CPU; otherwise why not, and what would fix it
   */
  Optional<String> unavailabilityReason();

  /**
   * @return the one registry of this backend in this JVM
   * @throws dev.weave.WeaveException if the backend is unavailable
   */
  DestructorRegistry registry();
}
