/*
 * libweave_walker: weave's native walker, the pthread key destructor that runs a dying thread's
 * registrations (weave_walker_walk). It runs native destructors itself, without entering the JVM,
 * and enters the JVM only for Java ones, through one call into Java per engine (config->upcall).
 *
 * weave-api ships it per platform (META-INF/native/<platform>/libweave_walker.so) and every
 * backend loads it through its own FFI library (dev.weave.spi.WalkerLibrary); nothing links
 * against it but its C tests (src/test/native). Who writes what, and the handshake with a closing
 * slot, are in weave-api/LIFECYCLE.md ("The native walker").
 *
 * ONE SHAPE. Every function Java calls is int64_t f(void *argument), so that a backend binds them
 * all the same way (dev.weave.spi.SharedLibrary#function); more arguments go in a struct in native
 * memory that Java writes word by word. weave_walker_walk is no such function: Java only takes its
 * address, for the walker key.
 *
 * OLD GLIBC. The library may need no glibc symbol version above GLIBC_2.3.2 (x86-64) or
 * GLIBC_2.17 (aarch64), and build.sh fails the build if it does. Built on Debian 12, a call to
 * pthread_key_*, pthread_getspecific/setspecific, pthread_create, sem_* or dlsym needs GLIBC_2.34,
 * so the walker calls none of them: what it needs (free, the JavaVM) it is given by Java in its
 * configuration, and it reaches the JVM through the JavaVM's function table alone.
 *
 * LIFETIME. Linked with -z nodelete: once loaded it stays mapped whatever the FFI library does
 * when its handle is closed or collected, since a pthread key destructor may point into it until
 * the process ends.
 */
#ifndef WEAVE_WALKER_H
#define WEAVE_WALKER_H

#include <stdint.h>

/* What weave_walker_abi_version returns; dev.weave.spi.WalkerLibrary.ABI_VERSION must match. */
#define WEAVE_WALKER_ABI_VERSION 2

#define WEAVE_WALKER_EXPORT __attribute__((visibility("default")))

/* As glibc's PTHREAD_DESTRUCTOR_ITERATIONS: an entry of a later round is dropped. */
#define WEAVE_WALKER_MAX_ROUNDS 4

/* How many chunks of cells a thread has at most (dev.weave.spi.Chunks.MAX_CHUNKS). */
#define WEAVE_WALKER_MAX_CHUNKS 24

/* Entries in a record's own block; more go to an array of their own. */
#define WEAVE_WALKER_INLINE_ENTRIES 4

/* An entry's flags, in the low bits of its meta word; its round is in bits 8 to 15. */
#define WEAVE_WALKER_REMOVED 1 /* unregistered by its thread */
#define WEAVE_WALKER_DROPPED 2 /* dropped by a close of its slot */
#define WEAVE_WALKER_ROUND_SHIFT 8

/* A record's status: the walk's progress. */
#define WEAVE_WALKER_ALIVE 0
#define WEAVE_WALKER_WALKING 1
#define WEAVE_WALKER_WALKED 2 /* the walk at death is done; the record is on config->walked */

/* What a call into Java (config->upcall) is for, in record->call. */
#define WEAVE_WALKER_CALL_RUN 1    /* run the Java destructor of entry record->running - 1 */
#define WEAVE_WALKER_CALL_REPORT 2 /* report record->dropped entries past the last round */

/* Where the walk calls config->test_hook, if set. */
#define WEAVE_WALKER_HOOK_PUBLISHED 1 /* record->running is set; the entry's flags not read again */

/* The JNI Invocation API as far as the walker uses it (jni.h's JNIInvokeInterface_). */
struct weave_walker_jvm_functions {
  void *reserved0;
  void *reserved1;
  void *reserved2;
  int32_t (*destroy_java_vm)(const struct weave_walker_jvm_functions **vm);
  int32_t (*attach_current_thread)(const struct weave_walker_jvm_functions **vm, void **env,
                                   void *args);
  int32_t (*detach_current_thread)(const struct weave_walker_jvm_functions **vm);
  int32_t (*get_env)(const struct weave_walker_jvm_functions **vm, void **env, int32_t version);
  int32_t (*attach_current_thread_as_daemon)(const struct weave_walker_jvm_functions **vm,
                                             void **env, void *args);
};

/* A JavaVM*, as JNI_GetCreatedJavaVMs gives it. */
typedef const struct weave_walker_jvm_functions **weave_walker_jvm;

#define WEAVE_WALKER_JNI_OK 0
#define WEAVE_WALKER_JNI_EDETACHED (-2)
#define WEAVE_WALKER_JNI_VERSION_1_6 0x00010006

struct weave_walker_record;

/* An engine's configuration (dev.weave.spi.NativeWalker): written by Java once, before any record
 * names it, and never freed. */
struct weave_walker_config {
  weave_walker_jvm java_vm;
  /* Into Java, on a thread the walk has made sure is attached: does what record->call says. */
  void (*upcall)(struct weave_walker_record *record);
  /* Frees a chunk of cells at the end of a walk at death; NULL leaves the chunks to the engine
   * (checked mode, which must see every free). */
  void (*free_chunk)(void *chunk);
  /* Set by the engine when the JVM's shutdown begins: the walk then calls no more into Java. */
  int64_t shutting_down;
  /* Records walked at death, for the engine to free: a stack, pushed by walks, taken whole by
   * weave_walker_take_walked. */
  struct weave_walker_record *walked;
  /* Tests only (NULL in weave): called at the points named WEAVE_WALKER_HOOK_*. */
  void (*test_hook)(struct weave_walker_record *record, int64_t point);
};

/* A registration. */
struct weave_walker_entry {
  void **variable;
  void (*function)(void *); /* NULL for a Java destructor */
  int64_t meta;             /* flags | round << WEAVE_WALKER_ROUND_SHIFT */
};

/* An armed thread's registrations (dev.weave.spi.Record): the walker key's value. The engine
 * allocates and frees it; the walk never frees it. */
struct weave_walker_record {
  int64_t status;      /* WEAVE_WALKER_ALIVE, _WALKING, _WALKED: written by the walk at death */
  int64_t armed_index; /* the state's index in the engine's armed table */
  struct weave_walker_config *config;
  struct weave_walker_entry *entries; /* inline_entries, or an array of its own */
  int64_t count;                      /* entries written */
  int64_t next;                       /* the first entry no walk has taken */
  int64_t round;                      /* the round of the entry taken last */
  int64_t running;                    /* the index + 1 of the entry being run, 0 when none */
  int64_t call;                       /* what the call into Java is for */
  int64_t dropped;                    /* entries dropped for being past the last round */
  struct weave_walker_record *next_walked;
  void *chunks[WEAVE_WALKER_MAX_CHUNKS]; /* the thread's chunks of cells, freed after the walk */
  struct weave_walker_entry inline_entries[WEAVE_WALKER_INLINE_ENTRIES];
};

/* The version of the interface between this library and weave-api's Java code; the argument is
 * unused. */
WEAVE_WALKER_EXPORT int64_t weave_walker_abi_version(void *unused);

/* The bitwise complement of the argument: proves that a call passes and returns a whole 64-bit
 * word through a backend's FFI library. */
WEAVE_WALKER_EXPORT int64_t weave_walker_probe(void *argument);

/* The layout Java must agree with: for argument i = 0, 1, ..., the size or offset named by the
 * i-th WEAVE_WALKER_LAYOUT_* below; -1 past the last. */
WEAVE_WALKER_EXPORT int64_t weave_walker_layout(void *which);

#define WEAVE_WALKER_LAYOUT_RECORD_SIZE 0
#define WEAVE_WALKER_LAYOUT_ENTRY_SIZE 1
#define WEAVE_WALKER_LAYOUT_RECORD_CHUNKS 2
#define WEAVE_WALKER_LAYOUT_RECORD_INLINE_ENTRIES 3
#define WEAVE_WALKER_LAYOUT_RECORD_NEXT_WALKED 4
#define WEAVE_WALKER_LAYOUT_CONFIG_SIZE 5
#define WEAVE_WALKER_LAYOUT_CONFIG_WALKED 6
#define WEAVE_WALKER_LAYOUTS 7

/* The walker key's destructor: runs the dying thread's registrations in record (a struct
 * weave_walker_record *), then frees its chunks (if config->free_chunk is set) and pushes it onto
 * config->walked. */
WEAVE_WALKER_EXPORT void weave_walker_walk(void *record);

/* Takes every record off config->walked (a struct weave_walker_config *), atomically: the first
 * one, whose next_walked links the others, or 0. */
WEAVE_WALKER_EXPORT int64_t weave_walker_take_walked(void *config);

/* How many walks at death the calling OS thread has had, of this library (one copy per engine);
 * the argument is unused. */
WEAVE_WALKER_EXPORT int64_t weave_walker_walks_at_death(void *unused);

/* Calls JNI_GetCreatedJavaVMs, whose address is the argument, and returns the first JavaVM*, or 0
 * if there is none. */
WEAVE_WALKER_EXPORT int64_t weave_walker_java_vm(void *get_created_java_vms);

#endif
