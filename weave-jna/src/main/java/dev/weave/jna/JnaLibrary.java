package dev.weave.jna;

import com.sun.jna.Function;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import dev.weave.spi.SharedLibrary;
import java.nio.file.Path;
import java.util.function.LongUnaryOperator;

/**
 * A library of weave's own, opened with JNA's {@link NativeLibrary}. JNA closes a library whose
 * {@code NativeLibrary} is collected; weave's libraries are linked to stay mapped even then.
 */
final class JnaLibrary implements SharedLibrary {
  private final NativeLibrary library;

  private JnaLibrary(NativeLibrary library) {
    this.library = library;
  }

  /** Opens libraries with {@link NativeLibrary#getInstance}; libc is the process's. */
  static final SharedLibrary.Loader LOADER =
      new SharedLibrary.Loader() {
        @Override
        public SharedLibrary load(Path file) {
          return new JnaLibrary(NativeLibrary.getInstance(file.toString()));
        }

        @Override
        public long libcFunction(String name) {
          return Pointer.nativeValue(NativeLibrary.getProcess().getFunction(name));
        }
      };

  /**
   * @throws UnsatisfiedLinkError if the library does not define it (JNA's own message)
   */
  @Override
  public long address(String symbol) {
    return Pointer.nativeValue(library.getGlobalVariableAddress(symbol));
  }

  @Override
  public LongUnaryOperator function(String symbol) {
    Function function = library.getFunction(symbol);
    return argument -> function.invokeLong(new Object[] {argument});
  }
}
