package dev.weave.ffm;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.weave.spi.SharedLibrary;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.function.LongUnaryOperator;

/** A library of weave's own, opened with {@link SymbolLookup#libraryLookup} in the global arena. */
final class FfmLibrary implements SharedLibrary {
  /** {@code int64_t f(void *)}: the argument is passed as the word it is. */
  private static final FunctionDescriptor LONG_OF_WORD =
      FunctionDescriptor.of(JAVA_LONG, JAVA_LONG);

  private final Path file;
  private final SymbolLookup symbols;

  private FfmLibrary(Path file, SymbolLookup symbols) {
    this.file = file;
    this.symbols = symbols;
  }

  /**
   * Opens libraries for the JVM's life (the global arena is never closed); libc is the linker's.
   */
  static final SharedLibrary.Loader LOADER =
      new SharedLibrary.Loader() {
        @Override
        public SharedLibrary load(Path file) {
          return new FfmLibrary(file, SymbolLookup.libraryLookup(file, Arena.global()));
        }

        @Override
        public long libcFunction(String name) {
          return Linker.nativeLinker()
              .defaultLookup()
              .find(name)
              .orElseThrow(
                  () -> new UnsatisfiedLinkError("no function " + name + " in the C library"))
              .address();
        }

        /** The linker's default lookup is the C library's alone: libjvm is looked up by path. */
        @Override
        public long jvmFunction(String name) {
          Path libjvm = FfmPrimitives.libjvm();
          return SymbolLookup.libraryLookup(libjvm, Arena.global())
              .find(name)
              .orElseThrow(() -> new UnsatisfiedLinkError("no function " + name + " in " + libjvm))
              .address();
        }
      };

  @Override
  public long address(String symbol) {
    return find(symbol).address();
  }

  @Override
  public LongUnaryOperator function(String symbol) {
    MethodHandle function = Linker.nativeLinker().downcallHandle(find(symbol), LONG_OF_WORD);
    return argument -> {
      try {
        return (long) function.invokeExact(argument);
      } catch (RuntimeException | Error e) {
        throw e;
      } catch (Throwable t) {
        throw new IllegalStateException(t);
      }
    };
  }

  private MemorySegment find(String symbol) {
    return symbols
        .find(symbol)
        .orElseThrow(() -> new UnsatisfiedLinkError("no symbol " + symbol + " in " + file));
  }
}
