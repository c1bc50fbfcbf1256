/* libweave_walker: see weave_walker.h, and weave-api/LIFECYCLE.md ("The native walker"). */
#include "weave_walker.h"

#include <stddef.h>

/* This OS thread's walks at death, of this copy of the library: glibc visits a key at most once a
 * pass, so the count says how far into its 4 passes the thread is (LIFECYCLE.md). */
static __thread int64_t walks_at_death;

int64_t weave_walker_abi_version(void *unused) {
  (void)unused;
  return WEAVE_WALKER_ABI_VERSION;
}

int64_t weave_walker_probe(void *argument) {
  return (int64_t)~(uintptr_t)argument;
}

int64_t weave_walker_layout(void *which) {
  static const int64_t layout[WEAVE_WALKER_LAYOUTS] = {
      [WEAVE_WALKER_LAYOUT_RECORD_SIZE] = sizeof(struct weave_walker_record),
      [WEAVE_WALKER_LAYOUT_ENTRY_SIZE] = sizeof(struct weave_walker_entry),
      [WEAVE_WALKER_LAYOUT_RECORD_CHUNKS] = offsetof(struct weave_walker_record, chunks),
      [WEAVE_WALKER_LAYOUT_RECORD_INLINE_ENTRIES] =
          offsetof(struct weave_walker_record, inline_entries),
      [WEAVE_WALKER_LAYOUT_RECORD_NEXT_WALKED] = offsetof(struct weave_walker_record, next_walked),
      [WEAVE_WALKER_LAYOUT_CONFIG_SIZE] = sizeof(struct weave_walker_config),
      [WEAVE_WALKER_LAYOUT_CONFIG_WALKED] = offsetof(struct weave_walker_config, walked),
  };
  uintptr_t i = (uintptr_t)which;
  return i < WEAVE_WALKER_LAYOUTS ? layout[i] : -1;
}

int64_t weave_walker_walks_at_death(void *unused) {
  (void)unused;
  return walks_at_death;
}

int64_t weave_walker_java_vm(void *get_created_java_vms) {
  int32_t (*get_created)(weave_walker_jvm *, int32_t, int32_t *) =
      (int32_t(*)(weave_walker_jvm *, int32_t, int32_t *))(uintptr_t)get_created_java_vms;
  weave_walker_jvm vm = NULL;
  int32_t count = 0;
  if (get_created == NULL || get_created(&vm, 1, &count) != WEAVE_WALKER_JNI_OK || count < 1) {
    return 0;
  }
  return (int64_t)(uintptr_t)vm;
}

int64_t weave_walker_take_walked(void *config) {
  struct weave_walker_config *c = config;
  return (int64_t)(uintptr_t)__atomic_exchange_n(&c->walked, NULL, __ATOMIC_ACQUIRE);
}

static int shutting_down(const struct weave_walker_config *config) {
  return __atomic_load_n(&config->shutting_down, __ATOMIC_ACQUIRE) != 0;
}

/* Makes sure the thread is attached to the JVM before a call into Java: asked before every call,
 * since another library may have detached it since the last one (JNA's own thread-exit key does,
 * when it comes before this walk in glibc's pass). Sets *attached if this walk attached it. */
static int enter_java(const struct weave_walker_config *config, int *attached) {
  if (shutting_down(config)) {
    return 0;
  }
  weave_walker_jvm vm = config->java_vm;
  void *env = NULL;
  int32_t status = (*vm)->get_env(vm, &env, WEAVE_WALKER_JNI_VERSION_1_6);
  if (status == WEAVE_WALKER_JNI_OK) {
    return 1;
  }
  if (status != WEAVE_WALKER_JNI_EDETACHED ||
      (*vm)->attach_current_thread_as_daemon(vm, &env, NULL) != WEAVE_WALKER_JNI_OK) {
    return 0;
  }
  *attached = 1;
  return 1;
}

/* Detaches what this walk attached, if it is still attached. */
static void leave_java(const struct weave_walker_config *config) {
  weave_walker_jvm vm = config->java_vm;
  void *env = NULL;
  if ((*vm)->get_env(vm, &env, WEAVE_WALKER_JNI_VERSION_1_6) == WEAVE_WALKER_JNI_OK) {
    (*vm)->detach_current_thread(vm);
  }
}

static void hook(const struct weave_walker_config *config, struct weave_walker_record *record,
                 int64_t point) {
  if (config->test_hook != NULL) {
    config->test_hook(record, point);
  }
}

/* Runs entry i, which the walk has taken. The handshake with a closing slot (LIFECYCLE.md): the
 * walk publishes the entry in record->running, then reads its flags again; a closer marks it
 * DROPPED, then reads record->running. Both sides' accesses are sequentially consistent, so
 * either the walk sees DROPPED and skips the entry, or the closer sees it running and waits. */
static void run(struct weave_walker_record *record, int64_t i, int *attached) {
  const struct weave_walker_config *config = record->config;
  __atomic_store_n(&record->running, i + 1, __ATOMIC_SEQ_CST);
  hook(config, record, WEAVE_WALKER_HOOK_PUBLISHED);
  struct weave_walker_entry *entry = &record->entries[i];
  if ((__atomic_load_n(&entry->meta, __ATOMIC_SEQ_CST) & WEAVE_WALKER_DROPPED) == 0) {
    if (entry->function != NULL) {
      entry->function(__atomic_load_n(entry->variable, __ATOMIC_RELAXED));
    } else if (enter_java(config, attached)) {
      record->call = WEAVE_WALKER_CALL_RUN;
      config->upcall(record); /* may append or unregister entries, and move the array */
    }
  }
  __atomic_store_n(&record->running, 0, __ATOMIC_SEQ_CST);
}

static void push_walked(struct weave_walker_config *config, struct weave_walker_record *record) {
  struct weave_walker_record *head = __atomic_load_n(&config->walked, __ATOMIC_RELAXED);
  do {
    record->next_walked = head;
  } while (!__atomic_compare_exchange_n(&config->walked, &head, record, 1, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED));
}

void weave_walker_walk(void *value) {
  struct weave_walker_record *record = value;
  struct weave_walker_config *config = record->config;
  walks_at_death++;
  if (shutting_down(config)) {
    return; /* rule 10: a thread dying at exit runs nothing; its memory stays to the end */
  }
  __atomic_store_n(&record->status, WEAVE_WALKER_WALKING, __ATOMIC_RELEASE);
  int attached = 0;
  /* count and entries are read again after every entry: a Java destructor may have added some */
  for (int64_t i = record->next; i < record->count; i = record->next) {
    int64_t meta = __atomic_load_n(&record->entries[i].meta, __ATOMIC_ACQUIRE);
    record->next = i + 1;
    if ((meta & (WEAVE_WALKER_REMOVED | WEAVE_WALKER_DROPPED)) != 0) {
      continue;
    }
    int64_t round = (meta >> WEAVE_WALKER_ROUND_SHIFT) & 0xff;
    if (round >= WEAVE_WALKER_MAX_ROUNDS) {
      record->dropped++;
      continue;
    }
    record->round = round;
    run(record, i, &attached);
  }
  if (record->dropped > 0 && enter_java(config, &attached)) {
    record->call = WEAVE_WALKER_CALL_REPORT;
    config->upcall(record);
  }
  if (attached) {
    leave_java(config);
  }
  if (config->free_chunk != NULL) {
    for (int chunk = 0; chunk < WEAVE_WALKER_MAX_CHUNKS; chunk++) {
      if (record->chunks[chunk] != NULL) {
        config->free_chunk(record->chunks[chunk]);
        record->chunks[chunk] = NULL;
      }
    }
  }
  __atomic_store_n(&record->status, WEAVE_WALKER_WALKED, __ATOMIC_RELEASE);
  push_walked(config, record); /* the engine may free it from here on */
}
