package dev.weave;

/** Thrown when weave cannot give what was asked, for example when no usable backend is found. */
public class WeaveException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /**
   * @param message what went wrong, and what would fix it
   */
  public WeaveException(String message) {
    super(message);
  }

  /**
   * @param message what went wrong, and what would fix it
   * @param cause the underlying failure
   */
  public WeaveException(String message, Throwable cause) {
    super(message, cause);
  }
}
