package dev.weave.spi;

import dev.weave.DestructorRegistry;
import java.util.Optional;

/**
 * A weave backend, found with {@link java.util.ServiceLoader}. An implementation's constructor must
 * not fail when its native side cannot load: it reports that through {@link
 * #unavailabilityReason()} instead. Most backends extend {@link LoadingBackend}: they implement
 * {@link NativePrimitives}, and the {@link Engine} holds the whole contract.
 *
 * <p><b>NOTE:</b> the constructor and every method but {@link #registry()} run during {@link
 * dev.weave.Weave}'s discovery of the backends, before its list of them exists: a backend that
 * calls {@code Weave} from them gets an {@link IllegalStateException} saying so, and is listed as
 * unusable with it.
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
   * @return what was thrown that made this backend unusable, when something was (a native library
   *     that failed to load, a missing class); empty when it is usable, or when {@link
   *     #unavailabilityReason()} says all there is (an unverified platform, a JDK too old). The
   *     default is empty, for backends written before this method.
   */
  default Optional<Throwable> unavailabilityCause() {
    return Optional.empty();
  }

  /**
   * @return which walker runs the walks at thread death of this backend's registry, in the words of
   *     {@link WalkerChoice#toString()}: {@code "native walker"}, or {@code "java walker: "} and
   *     the reason; empty when unusable, or when the backend does not say (the default, for
   *     backends written before this method)
   */
  default Optional<String> walker() {
    return Optional.empty();
  }

  /**
   * @return the one registry of this backend in this JVM
   * @throws dev.weave.WeaveException if the backend is unavailable, with {@link
   *     #unavailabilityCause()} as its cause
   */
  DestructorRegistry registry();
}
