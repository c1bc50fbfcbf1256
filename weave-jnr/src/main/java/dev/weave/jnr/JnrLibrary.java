package dev.weave.jnr;

import com.kenai.jffi.CallContext;
import com.kenai.jffi.CallingConvention;
import com.kenai.jffi.Invoker;
import com.kenai.jffi.Library;
import com.kenai.jffi.Type;
import dev.weave.spi.SharedLibrary;
import java.nio.file.Path;
import java.util.function.LongUnaryOperator;

/**
 * A library of weave's own, opened with jffi's {@link Library} (what jnr-ffi's {@code
 * LibraryLoader} opens libraries with) and called through jffi's {@link Invoker}, as {@link
 * JnrPrimitives} calls destructors. jffi closes a library whose {@code Library} is collected;
 * weave's libraries are linked to stay mapped even then.
 */
final class JnrLibrary implements SharedLibrary {
  /** {@code int64_t f(void *)}. */
  private static final CallContext LONG_OF_POINTER =
      CallContext.getCallContext(
          Type.SINT64, new Type[] {Type.POINTER}, CallingConvention.DEFAULT, false);

  private final Path file;
  private final Library library;

  private JnrLibrary(Path file, Library library) {
    this.file = file;
    this.library = library;
  }

  /** Opens libraries with {@link Library#openLibrary}; libc is the process's default scope. */
  static final SharedLibrary.Loader LOADER =
      new SharedLibrary.Loader() {
        @Override
        public SharedLibrary load(Path file) {
          Library library = Library.openLibrary(file.toString(), Library.LAZY | Library.LOCAL);
          if (library == null) {
            throw new UnsatisfiedLinkError(Library.getLastError());
          }
          return new JnrLibrary(file, library);
        }

        @Override
        public long libcFunction(String name) {
          long address = Library.getDefault().getSymbolAddress(name);
          if (address == 0) {
            throw new UnsatisfiedLinkError(
                "no function " + name + " in the C library: " + Library.getLastError());
          }
          return address;
        }
      };

  @Override
  public long address(String symbol) {
    long address = library.getSymbolAddress(symbol);
    if (address == 0) {
      throw new UnsatisfiedLinkError(
          "no symbol " + symbol + " in " + file + ": " + Library.getLastError());
    }
    return address;
  }

  @Override
  public LongUnaryOperator function(String symbol) {
    long function = address(symbol);
    Invoker invoker = Invoker.getInstance();
    return argument -> invoker.invokeN1(LONG_OF_POINTER, function, argument);
  }
}
