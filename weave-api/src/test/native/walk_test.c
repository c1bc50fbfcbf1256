/*
 * The walk (weave_walker_walk) against records built here as the engine builds them, with a fake
 * JavaVM that counts attaches, and Java destructors played by C functions called from the fake
 * call into Java. The engine's side of the handshake with a closing slot is close_slot below, the
 * steps of dev.weave.spi.ThreadState#drop in C.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>

#include "walker_test.h"

/* ---- a fake JavaVM: attached or not per thread, with every call counted ---- */

static __thread int attached_here;
static int get_envs, attaches, detaches;
static int fake_env;

static int32_t fake_get_env(weave_walker_jvm vm, void **env, int32_t version) {
  (void)vm;
  (void)version;
  __atomic_add_fetch(&get_envs, 1, __ATOMIC_SEQ_CST);
  if (!attached_here) {
    *env = NULL;
    return WEAVE_WALKER_JNI_EDETACHED;
  }
  *env = &fake_env;
  return WEAVE_WALKER_JNI_OK;
}

static int32_t fake_attach(weave_walker_jvm vm, void **env, void *args) {
  (void)vm;
  (void)args;
  __atomic_add_fetch(&attaches, 1, __ATOMIC_SEQ_CST);
  attached_here = 1;
  *env = &fake_env;
  return WEAVE_WALKER_JNI_OK;
}

static int32_t fake_detach(weave_walker_jvm vm) {
  (void)vm;
  __atomic_add_fetch(&detaches, 1, __ATOMIC_SEQ_CST);
  attached_here = 0;
  return WEAVE_WALKER_JNI_OK;
}

static const struct weave_walker_jvm_functions fake_functions = {
    NULL, NULL, NULL, NULL, fake_attach, fake_detach, fake_get_env, fake_attach};
static const struct weave_walker_jvm_functions *fake_vm_table = &fake_functions;

/* ---- what destructors did, in order ---- */

#define MAX_CALLS 64
static int64_t calls[MAX_CALLS][2]; /* who, value */
static int call_count;

static void record_call(int64_t who, void *value) {
  int at = __atomic_fetch_add(&call_count, 1, __ATOMIC_SEQ_CST);
  if (at < MAX_CALLS) {
    calls[at][0] = who;
    calls[at][1] = (int64_t)(intptr_t)value;
  }
}

#define CHECK_CALL(at, who, value)                  \
  do {                                              \
    CHECK_EQ(who, calls[at][0]);                    \
    CHECK_EQ((int64_t)(intptr_t)(value), calls[at][1]); \
  } while (0)

static void *v1, *v2, *v3;

static void d1(void *value) { record_call(1, value); }
static void d2(void *value) { record_call(2, value); }
static void d3(void *value) { record_call(3, value); }

/* d1's variable's destructor, which changes v2 before d2 reads it. */
static void d1_sets_v2(void *value) {
  record_call(1, value);
  v2 = (void *)(intptr_t)42;
}

static void d2_records_whether_attached(void *value) {
  (void)value;
  record_call(2, (void *)(intptr_t)attached_here);
}

/* ---- records, as the engine builds them ---- */

typedef void (*java_destructor)(struct weave_walker_record *record, void *value);

#define MAX_ENTRIES 64
static java_destructor java_destructors[MAX_ENTRIES]; /* at an entry's index, as in Record.java */
static int64_t capacity;
static int reports;
static int64_t reported_dropped;

static struct weave_walker_config config;

static void fake_upcall(struct weave_walker_record *record) {
  CHECK(attached_here); /* the walk attaches before any call into Java */
  if (record->call == WEAVE_WALKER_CALL_REPORT) {
    reports++;
    reported_dropped = record->dropped;
    return;
  }
  CHECK_EQ(WEAVE_WALKER_CALL_RUN, record->call);
  int64_t i = record->running - 1;
  CHECK(i >= 0 && i < record->count && record->entries[i].function == NULL);
  java_destructors[i](record, *record->entries[i].variable);
}

static int chunks_freed;

static void count_free(void *chunk) {
  chunks_freed++;
  free(chunk);
}

static void reset(void) {
  memset(&config, 0, sizeof config);
  config.java_vm = &fake_vm_table;
  config.upcall = fake_upcall;
  config.free_chunk = count_free;
  memset(calls, 0, sizeof calls);
  memset(java_destructors, 0, sizeof java_destructors);
  call_count = 0;
  get_envs = attaches = detaches = 0;
  attached_here = 0;
  reports = 0;
  reported_dropped = 0;
  chunks_freed = 0;
  v1 = (void *)(intptr_t)11;
  v2 = (void *)(intptr_t)22;
  v3 = (void *)(intptr_t)33;
}

static struct weave_walker_record *new_record(void) {
  struct weave_walker_record *record = calloc(1, sizeof *record);
  record->config = &config;
  record->entries = record->inline_entries;
  capacity = WEAVE_WALKER_INLINE_ENTRIES;
  return record;
}

/* Record.add: grows the array as the engine does, moving it (the walk reads it again). */
static int64_t add(struct weave_walker_record *record, void **variable, void (*function)(void *),
                   java_destructor java, int64_t round) {
  if (record->count == capacity) {
    struct weave_walker_entry *larger = calloc((size_t)capacity * 2, sizeof *larger);
    memcpy(larger, record->entries, (size_t)record->count * sizeof *larger);
    if (record->entries != record->inline_entries) {
      free(record->entries);
    }
    record->entries = larger;
    capacity *= 2;
  }
  int64_t i = record->count;
  record->entries[i].variable = variable;
  record->entries[i].function = function;
  record->entries[i].meta = round << WEAVE_WALKER_ROUND_SHIFT;
  java_destructors[i] = java;
  record->count = i + 1;
  return i;
}

static void free_record(struct weave_walker_record *record) {
  if (record->entries != record->inline_entries) {
    free(record->entries);
  }
  free(record);
}

/* Walks a record as glibc would, and checks it ended up on the walked list. */
static void walk(struct weave_walker_record *record) {
  weave_walker_walk(record);
  CHECK_EQ(WEAVE_WALKER_WALKED, record->status);
  CHECK(weave_walker_take_walked(&config) == (int64_t)(intptr_t)record);
  CHECK_EQ(0, record->running);
}

/* ---- the tests ---- */

static void native_destructors_run_in_order_with_the_value_at_call_time(void) {
  reset();
  struct weave_walker_record *record = new_record();
  add(record, &v1, d1_sets_v2, NULL, 0);
  add(record, &v2, d2, NULL, 0);
  add(record, &v3, d3, NULL, 0);
  walk(record);
  CHECK_EQ(3, call_count);
  CHECK_CALL(0, 1, 11);
  CHECK_CALL(1, 2, 42); /* the value d1 left, not the one at registration */
  CHECK_CALL(2, 3, 33);
  CHECK_EQ(0, get_envs); /* no Java: the JVM is never asked, let alone attached */
  CHECK_EQ(0, attaches);
  free_record(record);
}

static void removed_and_dropped_entries_are_skipped(void) {
  reset();
  struct weave_walker_record *record = new_record();
  add(record, &v1, d1, NULL, 0);
  int64_t removed = add(record, &v2, d2, NULL, 0);
  int64_t dropped = add(record, &v3, d3, NULL, 0);
  add(record, &v1, d1, NULL, 0);
  record->entries[removed].meta |= WEAVE_WALKER_REMOVED;
  record->entries[dropped].meta |= WEAVE_WALKER_DROPPED;
  walk(record);
  CHECK_EQ(2, call_count);
  CHECK_CALL(0, 1, 11);
  CHECK_CALL(1, 1, 11);
  free_record(record);
}

static void java_runs_native(struct weave_walker_record *record, void *value) {
  (void)record;
  record_call(100, value);
}

static void java_destructors_are_called_attached_and_the_walk_detaches_what_it_attached(void) {
  reset();
  struct weave_walker_record *record = new_record();
  add(record, &v1, d1, NULL, 0);
  add(record, &v2, NULL, java_runs_native, 0);
  add(record, &v3, d3, NULL, 0);
  add(record, &v1, NULL, java_runs_native, 0);
  add(record, &v2, d2_records_whether_attached, NULL, 0);
  walk(record);
  CHECK_EQ(5, call_count);
  CHECK_CALL(0, 1, 11);
  CHECK_CALL(1, 100, 22);
  CHECK_CALL(2, 3, 33);
  CHECK_CALL(3, 100, 11);
  CHECK_CALL(4, 2, 1); /* still attached: detached once, at the end */
  CHECK_EQ(1, attaches);
  CHECK_EQ(1, detaches);
  CHECK(!attached_here);
  free_record(record);
}

static void a_thread_attached_already_is_neither_attached_nor_detached(void) {
  reset();
  attached_here = 1; /* a weave.h thread, or a JNI one, that exits attached */
  struct weave_walker_record *record = new_record();
  add(record, &v1, NULL, java_runs_native, 0);
  walk(record);
  CHECK_EQ(1, call_count);
  CHECK_EQ(0, attaches);
  CHECK_EQ(0, detaches);
  CHECK(attached_here);
  free_record(record);
}

/* What JNA's thread-exit key does when it comes first in glibc's pass: detaches the thread. */
static void java_detaches(struct weave_walker_record *record, void *value) {
  java_runs_native(record, value);
  fake_detach(NULL);
}

static void a_thread_detached_behind_the_walks_back_is_attached_again(void) {
  reset();
  struct weave_walker_record *record = new_record();
  add(record, &v1, NULL, java_detaches, 0);
  add(record, &v2, NULL, java_runs_native, 0);
  walk(record);
  CHECK_EQ(2, call_count);
  CHECK_EQ(2, attaches);
  CHECK_EQ(2, detaches); /* the one behind its back, and its own */
  CHECK(!attached_here);
  free_record(record);

  reset();
  record = new_record();
  add(record, &v1, NULL, java_runs_native, 0);
  add(record, &v2, NULL, java_detaches, 0);
  walk(record);
  CHECK_EQ(1, attaches);
  CHECK_EQ(1, detaches); /* detached already: the walk does not detach again */
  free_record(record);
}

/* Registers, as a Java destructor does: the next round, at the end. */
static void java_registers_in_the_next_round(struct weave_walker_record *record, void *value) {
  record_call(100 + record->round, value);
  add(record, &v1, NULL, java_registers_in_the_next_round, record->round + 1);
  add(record, &v2, d2, NULL, record->round + 1);
}

static void registrations_made_while_walking_run_in_later_rounds_up_to_the_fourth(void) {
  reset();
  struct weave_walker_record *record = new_record();
  add(record, &v1, NULL, java_registers_in_the_next_round, 0);
  add(record, &v3, d3, NULL, 0);
  walk(record);
  /* round 0: java, d3; then each round: java (which registers two more), d2 */
  CHECK_EQ(2 + 2 * 3, call_count);
  CHECK_CALL(0, 100, 11);
  CHECK_CALL(1, 3, 33);
  CHECK_CALL(2, 101, 11);
  CHECK_CALL(3, 2, 22);
  CHECK_CALL(4, 102, 11);
  CHECK_CALL(5, 2, 22);
  CHECK_CALL(6, 103, 11);
  CHECK_CALL(7, 2, 22);
  CHECK_EQ(2, record->dropped); /* round 4's two */
  CHECK_EQ(1, reports);
  CHECK_EQ(2, reported_dropped);
  CHECK_EQ(1, attaches); /* the report was made in the attachment of the Java destructors */
  CHECK_EQ(1, detaches);
  free_record(record);
}

static int64_t to_remove;

static void java_unregisters(struct weave_walker_record *record, void *value) {
  record_call(100, value);
  record->entries[to_remove].meta |= WEAVE_WALKER_REMOVED;
}

static void an_entry_unregistered_by_an_earlier_destructor_does_not_run(void) {
  reset();
  struct weave_walker_record *record = new_record();
  add(record, &v1, NULL, java_unregisters, 0);
  to_remove = add(record, &v2, d2, NULL, 0);
  add(record, &v3, d3, NULL, 0);
  walk(record);
  CHECK_EQ(2, call_count);
  CHECK_CALL(0, 100, 11);
  CHECK_CALL(1, 3, 33);
  free_record(record);
}

static void java_registers_many(struct weave_walker_record *record, void *value) {
  record_call(100, value);
  for (int i = 0; i < 10; i++) {
    add(record, &v3, d3, NULL, record->round + 1);
  }
}

static void the_walk_follows_the_entries_when_a_destructor_moves_them(void) {
  reset();
  struct weave_walker_record *record = new_record();
  add(record, &v1, NULL, java_registers_many, 0);
  add(record, &v2, d2, NULL, 0);
  walk(record);
  CHECK(record->entries != record->inline_entries);
  CHECK_EQ(12, call_count);
  CHECK_CALL(1, 2, 22);
  CHECK_CALL(11, 3, 33);
  free_record(record);
}

static int64_t *cells;

static void reads_the_cell(void *value) {
  record_call(1, value);
  record_call(2, (void *)(intptr_t)chunks_freed);
}

static void chunks_are_freed_after_every_destructor_or_left_to_the_engine(void) {
  reset();
  struct weave_walker_record *record = new_record();
  cells = calloc(64, sizeof *cells);
  cells[3] = 7;
  record->chunks[0] = cells;
  record->chunks[2] = calloc(256, sizeof *cells);
  add(record, (void **)&cells[3], reads_the_cell, NULL, 0);
  walk(record);
  CHECK_CALL(0, 1, 7);
  CHECK_CALL(1, 2, 0); /* cells outlive destructors */
  CHECK_EQ(2, chunks_freed);
  CHECK(record->chunks[0] == NULL && record->chunks[2] == NULL);
  free_record(record);

  reset();
  config.free_chunk = NULL; /* checked mode: the engine frees them, and sees it */
  record = new_record();
  record->chunks[0] = &fake_env;
  walk(record);
  CHECK(record->chunks[0] == &fake_env);
  free_record(record);
}

static void java_sets_shutdown(struct weave_walker_record *record, void *value) {
  (void)record;
  (void)value;
  __atomic_store_n(&config.shutting_down, 1, __ATOMIC_SEQ_CST);
}

static void d_sets_shutdown(void *value) {
  java_sets_shutdown(NULL, value);
  record_call(1, value);
}

static void nothing_calls_into_java_once_shutdown_began(void) {
  reset();
  config.shutting_down = 1; /* the key is deleted then; a walk that begins anyway does nothing */
  struct weave_walker_record *record = new_record();
  add(record, &v1, d1, NULL, 0);
  weave_walker_walk(record);
  CHECK_EQ(0, call_count);
  CHECK_EQ(WEAVE_WALKER_ALIVE, record->status);
  CHECK(weave_walker_take_walked(&config) == 0);
  free_record(record);

  reset();
  record = new_record();
  add(record, &v1, d_sets_shutdown, NULL, 0);
  add(record, &v2, NULL, java_runs_native, 0);
  add(record, &v3, d3, NULL, 0);
  walk(record);
  CHECK_EQ(2, call_count); /* the Java destructor is skipped; the native ones still run */
  CHECK_CALL(1, 3, 33);
  CHECK_EQ(0, get_envs);
  free_record(record);
}

static void walked_records_are_taken_whole_last_first(void) {
  reset();
  struct weave_walker_record *first = new_record();
  struct weave_walker_record *second = new_record();
  weave_walker_walk(first);
  weave_walker_walk(second);
  CHECK(weave_walker_take_walked(&config) == (int64_t)(intptr_t)second);
  CHECK(second->next_walked == first);
  CHECK(first->next_walked == NULL);
  CHECK(weave_walker_take_walked(&config) == 0);
  free_record(first);
  free_record(second);
}

static int64_t walks_seen;

static void *walk_twice(void *unused) {
  (void)unused;
  struct weave_walker_record *record = new_record();
  weave_walker_walk(record);
  weave_walker_walk(record);
  walks_seen = weave_walker_walks_at_death(NULL);
  return NULL;
}

static void walks_at_death_are_counted_per_thread(void) {
  reset();
  pthread_t thread;
  CHECK_EQ(0, pthread_create(&thread, NULL, walk_twice, NULL));
  CHECK_EQ(0, pthread_join(thread, NULL));
  CHECK_EQ(2, walks_seen);
  struct weave_walker_record *taken =
      (struct weave_walker_record *)(intptr_t)weave_walker_take_walked(&config);
  CHECK(taken != NULL && taken->next_walked == taken); /* the same record, pushed twice */
  free(taken);
  int64_t before = weave_walker_walks_at_death(NULL);
  struct weave_walker_record *record = new_record();
  weave_walker_walk(record);
  CHECK_EQ(before + 1, weave_walker_walks_at_death(NULL));
  weave_walker_take_walked(&config);
  free_record(record);
}

static int32_t fake_get_created(weave_walker_jvm *vms, int32_t length, int32_t *count) {
  CHECK_EQ(1, length);
  vms[0] = &fake_vm_table;
  *count = 1;
  return WEAVE_WALKER_JNI_OK;
}

static int32_t no_jvm(weave_walker_jvm *vms, int32_t length, int32_t *count) {
  (void)vms;
  (void)length;
  *count = 0;
  return WEAVE_WALKER_JNI_OK;
}

static void the_java_vm_is_found_through_jni_get_created_java_vms(void) {
  CHECK(weave_walker_java_vm((void *)(intptr_t)fake_get_created) ==
        (int64_t)(intptr_t)&fake_vm_table);
  CHECK_EQ(0, weave_walker_java_vm((void *)(intptr_t)no_jvm));
  CHECK_EQ(0, weave_walker_java_vm(NULL));
}

static void the_layout_is_the_headers(void) {
  CHECK_EQ(sizeof(struct weave_walker_record),
           weave_walker_layout((void *)WEAVE_WALKER_LAYOUT_RECORD_SIZE));
  CHECK_EQ(376, weave_walker_layout((void *)WEAVE_WALKER_LAYOUT_RECORD_SIZE));
  CHECK_EQ(24, weave_walker_layout((void *)WEAVE_WALKER_LAYOUT_ENTRY_SIZE));
  CHECK_EQ(88, weave_walker_layout((void *)WEAVE_WALKER_LAYOUT_RECORD_CHUNKS));
  CHECK_EQ(280, weave_walker_layout((void *)WEAVE_WALKER_LAYOUT_RECORD_INLINE_ENTRIES));
  CHECK_EQ(80, weave_walker_layout((void *)WEAVE_WALKER_LAYOUT_RECORD_NEXT_WALKED));
  CHECK_EQ(48, weave_walker_layout((void *)WEAVE_WALKER_LAYOUT_CONFIG_SIZE));
  CHECK_EQ(32, weave_walker_layout((void *)WEAVE_WALKER_LAYOUT_CONFIG_WALKED));
  CHECK_EQ(-1, weave_walker_layout((void *)WEAVE_WALKER_LAYOUTS));
}

/* Tests of the handshake with a closing slot, in close_test.c, use these. */
void walk_test_reset(void) { reset(); }

struct weave_walker_config *walk_test_config(void) { return &config; }

struct weave_walker_record *walk_test_new_record(void) { return new_record(); }

int64_t walk_test_add(struct weave_walker_record *record, void **variable,
                      void (*function)(void *)) {
  return add(record, variable, function, NULL, 0);
}

void walk_test_free_record(struct weave_walker_record *record) { free_record(record); }

void walk_tests(void (*run)(const char *name, void (*test)(void))) {
  run("native_destructors_run_in_order_with_the_value_at_call_time",
      native_destructors_run_in_order_with_the_value_at_call_time);
  run("removed_and_dropped_entries_are_skipped", removed_and_dropped_entries_are_skipped);
  run("java_destructors_are_called_attached_and_the_walk_detaches_what_it_attached",
      java_destructors_are_called_attached_and_the_walk_detaches_what_it_attached);
  run("a_thread_attached_already_is_neither_attached_nor_detached",
      a_thread_attached_already_is_neither_attached_nor_detached);
  run("a_thread_detached_behind_the_walks_back_is_attached_again",
      a_thread_detached_behind_the_walks_back_is_attached_again);
  run("registrations_made_while_walking_run_in_later_rounds_up_to_the_fourth",
      registrations_made_while_walking_run_in_later_rounds_up_to_the_fourth);
  run("an_entry_unregistered_by_an_earlier_destructor_does_not_run",
      an_entry_unregistered_by_an_earlier_destructor_does_not_run);
  run("the_walk_follows_the_entries_when_a_destructor_moves_them",
      the_walk_follows_the_entries_when_a_destructor_moves_them);
  run("chunks_are_freed_after_every_destructor_or_left_to_the_engine",
      chunks_are_freed_after_every_destructor_or_left_to_the_engine);
  run("nothing_calls_into_java_once_shutdown_began", nothing_calls_into_java_once_shutdown_began);
  run("walked_records_are_taken_whole_last_first", walked_records_are_taken_whole_last_first);
  run("walks_at_death_are_counted_per_thread", walks_at_death_are_counted_per_thread);
  run("the_java_vm_is_found_through_jni_get_created_java_vms",
      the_java_vm_is_found_through_jni_get_created_java_vms);
  run("the_layout_is_the_headers", the_layout_is_the_headers);
}
