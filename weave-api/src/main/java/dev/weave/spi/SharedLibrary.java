package dev.weave.spi;

import java.nio.file.Path;
import java.util.function.LongUnaryOperator;

/**
 * A shared library of weave's own, loaded through a backend's FFI library: today the native walker
 * ({@link WalkerLibrary}). It stays loaded for the JVM's life: weave links its libraries with
 * {@code -z nodelete}, so a pthread key destructor in one never outlives its code, whatever the FFI
 * library does when its handle is closed or collected.
 */
public interface SharedLibrary {
  /**
   * @param symbol a function or variable the library defines
   * @return its address
   * @throws UnsatisfiedLinkError if the library does not define it
   */
  long address(String symbol);

  /**
   * Binds the library's C function {@code int64_t symbol(void *argument)}: the one shape of every
   * function of weave's libraries that Java calls (further arguments go in a struct in native
   * memory).
   *
   * @param symbol the function's name
   * @return an operator that calls it with the operand as the argument and returns its result; bind
   *     once, call often
   * @throws UnsatisfiedLinkError if the library does not define it
   */
  LongUnaryOperator function(String symbol);

  /**
   * How a backend's FFI library links weave's native code ({@link
   * NativePrimitives#libraryLoader()}): it loads weave's libraries, and finds the C library's
   * functions for them. Built on Debian 12, a library that calls {@code pthread_setspecific},
   * {@code pthread_key_create}, {@code sem_post} or even {@code dlsym} itself needs glibc 2.34, so
   * weave's libraries are handed such functions' addresses from Java instead.
   */
  interface Loader {
    /**
     * @param file the absolute path of the library; it is deleted once this returns, so this must
     *     have opened it by then
     * @return the loaded library
     * @throws Exception or a {@link LinkageError}, if it cannot be loaded: weave then runs its Java
     *     walker, and says why
     */
    SharedLibrary load(Path file) throws Exception;

    /**
     * @param name a function of the C library
     * @return its address, as this process's dynamic linker finds it by default
     * @throws UnsatisfiedLinkError if there is none
     */
    long libcFunction(String name);

    /**
     * @param name a function of the JVM's own library (libjvm), such as {@code
     *     JNI_GetCreatedJavaVMs}
     * @return its address; by default as {@link #libcFunction} finds it, which works where the
     *     launcher loaded libjvm into the global scope (the {@code java} launcher does)
     * @throws UnsatisfiedLinkError if there is none
     */
    default long jvmFunction(String name) {
      return libcFunction(name);
    }
  }
}
