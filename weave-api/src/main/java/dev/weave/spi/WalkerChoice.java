package dev.weave.spi;

import java.util.Objects;
import java.util.Optional;

/**
 * Which walker (the pthread key destructor that runs a dying thread's registrations) a backend's
 * engine uses: the native one, in weave's own C library, or the Java one, with the reason. {@link
 * #toString()} says it in the words a backend listing shows: {@code "native walker"} or {@code
 * "java walker: <reason>"}.
 */
public final class WalkerChoice {
  private final SharedLibrary library;
  private final String javaWalkerReason;

  private WalkerChoice(SharedLibrary library, String javaWalkerReason) {
    this.library = library;
    this.javaWalkerReason = javaWalkerReason;
  }

  static WalkerChoice nativeWalker(SharedLibrary library) {
    return new WalkerChoice(Objects.requireNonNull(library, "library"), null);
  }

  static WalkerChoice javaWalker(String reason) {
    if (reason == null || reason.isBlank()) {
      throw new IllegalArgumentException("the java walker needs a reason, got '" + reason + "'");
    }
    return new WalkerChoice(null, reason);
  }

  /**
   * @return whether the native walker was loaded
   */
  public boolean isNative() {
    return library != null;
  }

  /**
   * @return the native walker's library, loaded and of this weave-api's ABI version; empty for the
   *     Java walker
   */
  public Optional<SharedLibrary> library() {
    return Optional.ofNullable(library);
  }

  /**
   * @return why the Java walker runs; empty for the native walker
   */
  public Optional<String> javaWalkerReason() {
    return Optional.ofNullable(javaWalkerReason);
  }

  @Override
  public String toString() {
    return isNative() ? "native walker" : "java walker: " + javaWalkerReason;
  }
}
