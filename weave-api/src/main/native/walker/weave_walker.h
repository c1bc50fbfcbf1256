/*
 * libweave_walker: weave's native walker (issue 20), the pthread key destructor that runs a dying
 * thread's native registrations without entering the JVM, and enters it only for Java ones.
 *
 * weave-api ships it per platform (META-INF/native/<platform>/libweave_walker.so) and every
 * backend loads it through its own FFI library (dev.weave.spi.WalkerLibrary); nothing links
 * against it but its C tests (src/test/native).
 *
 * ONE SHAPE. Every function Java calls is int64_t f(void *argument), so that a backend binds them
 * all the same way (dev.weave.spi.SharedLibrary#function); more arguments go in a struct in native
 * memory that Java writes word by word.
 *
 * OLD GLIBC. The library may need no glibc symbol version above GLIBC_2.3.2 (x86-64) or
 * GLIBC_2.17 (aarch64), and build.sh fails the build if it does. Built on Debian 12, a call to
 * pthread_key_*, pthread_getspecific/setspecific, pthread_create, sem_* or dlsym needs GLIBC_2.34,
 * so the walker gets such functions from Java as function pointers instead of calling them
 * (dev.weave.spi.SharedLibrary.Loader#libcFunction finds them).
 *
 * LIFETIME. Linked with -z nodelete: once loaded it stays mapped whatever the FFI library does
 * when its handle is closed or collected, since a pthread key destructor may point into it until
 * the process ends.
 */
#ifndef WEAVE_WALKER_H
#define WEAVE_WALKER_H

#include <stdint.h>

/* What weave_walker_abi_version returns; dev.weave.spi.WalkerLibrary.ABI_VERSION must match. */
#define WEAVE_WALKER_ABI_VERSION 1

#define WEAVE_WALKER_EXPORT __attribute__((visibility("default")))

/* The version of the interface between this library and weave-api's Java code; the argument is
 * unused. */
WEAVE_WALKER_EXPORT int64_t weave_walker_abi_version(void *unused);

/* The bitwise complement of the argument: proves that a call passes and returns a whole 64-bit
 * word through a backend's FFI library. */
WEAVE_WALKER_EXPORT int64_t weave_walker_probe(void *argument);

#endif
