/*
 * close() on another thread racing the walk: the engine's side of the handshake is close_slot
 * below, dev.weave.spi.ThreadState#drop in C (a plain store of DROPPED, a full fence, then plain
 * reads of running, as Java's putWord, VarHandle.fullFence() and getWord do). Whatever the
 * interleaving, once close_slot has returned no destructor of the slot may start. The three ways a
 * close meets an entry are each forced with semaphores and the walk's test hook; a last test
 * races them freely.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>

#include "walker_test.h"

void walk_test_reset(void);
struct weave_walker_config *walk_test_config(void);
struct weave_walker_record *walk_test_new_record(void);
int64_t walk_test_add(struct weave_walker_record *record, void **variable,
                      void (*function)(void *));
void walk_test_free_record(struct weave_walker_record *record);

#define MAX_ENTRIES 64

/* Which entries are the closed slot's. */
static int of_slot[MAX_ENTRIES];
static int saw_running; /* the closer found an entry of its slot running, and waited */

/* ThreadState.drop: marks the slot's entries not taken yet DROPPED (here: all), then waits while
 * the walk runs one of them. */
static void close_slot(struct weave_walker_record *record) {
  for (int64_t i = 0; i < record->count; i++) {
    if (of_slot[i]) {
      int64_t meta = __atomic_load_n(&record->entries[i].meta, __ATOMIC_RELAXED);
      __atomic_store_n(&record->entries[i].meta, meta | WEAVE_WALKER_DROPPED, __ATOMIC_RELAXED);
    }
  }
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  for (;;) {
    int64_t running = __atomic_load_n(&record->running, __ATOMIC_RELAXED);
    if (running == 0 || !of_slot[running - 1]) {
      return;
    }
    __atomic_store_n(&saw_running, 1, __ATOMIC_SEQ_CST);
    sched_yield();
  }
}

static sem_t started, release;
static int slot_ran, blocker_done, close_returned, done_when_close_returned;
static void *v_block, *v_slot;

static void blocks(void *value) {
  (void)value;
  sem_post(&started);
  while (sem_wait(&release) != 0) {
  }
  __atomic_store_n(&blocker_done, 1, __ATOMIC_SEQ_CST);
}

static void slot_destructor(void *value) {
  (void)value;
  __atomic_add_fetch(&slot_ran, 1, __ATOMIC_SEQ_CST);
}

static struct weave_walker_record *record;

static void *walk_it(void *unused) {
  (void)unused;
  weave_walker_walk(record);
  return NULL;
}

static void *close_it(void *unused) {
  (void)unused;
  close_slot(record);
  __atomic_store_n(&done_when_close_returned, __atomic_load_n(&blocker_done, __ATOMIC_SEQ_CST),
                   __ATOMIC_SEQ_CST);
  __atomic_store_n(&close_returned, 1, __ATOMIC_SEQ_CST);
  return NULL;
}

static void begin(void) {
  walk_test_reset();
  memset(of_slot, 0, sizeof of_slot);
  saw_running = slot_ran = blocker_done = close_returned = done_when_close_returned = 0;
  sem_init(&started, 0, 0);
  sem_init(&release, 0, 0);
  record = walk_test_new_record();
}

static void end(void) {
  CHECK(weave_walker_take_walked(walk_test_config()) == (int64_t)(intptr_t)record);
  walk_test_free_record(record);
  sem_destroy(&started);
  sem_destroy(&release);
}

static void wait_started(void) {
  while (sem_wait(&started) != 0) {
  }
}

/* The close comes before the walk takes the entry: the walk skips it. */
static void a_close_before_the_walk_takes_an_entry_drops_it(void) {
  begin();
  walk_test_add(record, &v_block, blocks);
  of_slot[walk_test_add(record, &v_slot, slot_destructor)] = 1;
  pthread_t walker;
  CHECK_EQ(0, pthread_create(&walker, NULL, walk_it, NULL));
  wait_started(); /* the walk runs the entry before the slot's */
  close_slot(record);
  CHECK(!saw_running);
  sem_post(&release);
  CHECK_EQ(0, pthread_join(walker, NULL));
  CHECK_EQ(0, slot_ran);
  end();
}

/* The close comes while the entry runs: it waits for the destructor to return. */
static void a_close_while_the_entry_runs_waits_for_it(void) {
  begin();
  of_slot[walk_test_add(record, &v_block, blocks)] = 1;
  pthread_t walker, closer;
  CHECK_EQ(0, pthread_create(&walker, NULL, walk_it, NULL));
  wait_started();
  CHECK_EQ(0, pthread_create(&closer, NULL, close_it, NULL));
  while (!__atomic_load_n(&saw_running, __ATOMIC_SEQ_CST)) {
    sched_yield();
  }
  CHECK(!__atomic_load_n(&close_returned, __ATOMIC_SEQ_CST));
  sem_post(&release);
  CHECK_EQ(0, pthread_join(closer, NULL));
  CHECK_EQ(1, done_when_close_returned);
  CHECK_EQ(0, pthread_join(walker, NULL));
  end();
}

/* The close comes between the walk's publishing the entry and its reading the flags again: the
 * closer sees it running and waits; the walk sees it dropped and skips it. */
static pthread_t hooked_closer;

static void close_at_the_publish(struct weave_walker_record *walked, int64_t point) {
  if (point != WEAVE_WALKER_HOOK_PUBLISHED || !of_slot[walked->running - 1]) {
    return;
  }
  CHECK_EQ(0, pthread_create(&hooked_closer, NULL, close_it, NULL));
  while (!__atomic_load_n(&saw_running, __ATOMIC_SEQ_CST)) {
    sched_yield();
  }
}

static void a_close_between_the_publish_and_the_second_look_drops_the_entry(void) {
  begin();
  walk_test_config()->test_hook = close_at_the_publish;
  walk_test_add(record, &v_block, NULL); /* removed below: only its slot is of use */
  record->entries[0].meta |= WEAVE_WALKER_REMOVED;
  of_slot[walk_test_add(record, &v_slot, slot_destructor)] = 1;
  weave_walker_walk(record);
  CHECK_EQ(0, pthread_join(hooked_closer, NULL));
  CHECK(__atomic_load_n(&close_returned, __ATOMIC_SEQ_CST));
  CHECK_EQ(0, slot_ran);
  end();
}

/* Free races: every entry checks, as it starts, that no close of its slot has returned. */
#define RACE_ENTRIES 16
#define RACES 300

static int closes_returned;
static int started_after_close;
static int starting_line;

static void checks_no_close_returned(void *value) {
  (void)value;
  if (__atomic_load_n(&closes_returned, __ATOMIC_SEQ_CST)) {
    __atomic_add_fetch(&started_after_close, 1, __ATOMIC_SEQ_CST);
  }
  __atomic_add_fetch(&slot_ran, 1, __ATOMIC_SEQ_CST);
}

static void other_destructor(void *value) { (void)value; }

static void *race_walk(void *unused) {
  (void)unused;
  __atomic_add_fetch(&starting_line, 1, __ATOMIC_SEQ_CST);
  while (__atomic_load_n(&starting_line, __ATOMIC_SEQ_CST) < 2) {
  }
  weave_walker_walk(record);
  return NULL;
}

static void *race_close(void *unused) {
  (void)unused;
  __atomic_add_fetch(&starting_line, 1, __ATOMIC_SEQ_CST);
  while (__atomic_load_n(&starting_line, __ATOMIC_SEQ_CST) < 2) {
  }
  close_slot(record);
  __atomic_store_n(&closes_returned, 1, __ATOMIC_SEQ_CST);
  return NULL;
}

static void no_destructor_of_a_slot_starts_once_its_close_returned(void) {
  int ran = 0, dropped = 0;
  for (int race = 0; race < RACES; race++) {
    begin();
    closes_returned = 0;
    started_after_close = 0;
    starting_line = 0;
    for (int i = 0; i < RACE_ENTRIES; i++) {
      int slot = (i + race) % 2;
      int64_t at = walk_test_add(record, &v_slot, slot ? checks_no_close_returned : other_destructor);
      of_slot[at] = slot;
    }
    pthread_t walker, closer;
    CHECK_EQ(0, pthread_create(&walker, NULL, race_walk, NULL));
    CHECK_EQ(0, pthread_create(&closer, NULL, race_close, NULL));
    CHECK_EQ(0, pthread_join(walker, NULL));
    CHECK_EQ(0, pthread_join(closer, NULL));
    CHECK_EQ(0, started_after_close);
    ran += slot_ran;
    dropped += RACE_ENTRIES / 2 - slot_ran;
    end();
  }
  printf("  %d races: %d destructors of the closed slot ran before its close returned, %d were "
         "dropped\n",
         RACES, ran, dropped);
}

void close_tests(void (*run)(const char *name, void (*test)(void))) {
  run("a_close_before_the_walk_takes_an_entry_drops_it",
      a_close_before_the_walk_takes_an_entry_drops_it);
  run("a_close_while_the_entry_runs_waits_for_it", a_close_while_the_entry_runs_waits_for_it);
  run("a_close_between_the_publish_and_the_second_look_drops_the_entry",
      a_close_between_the_publish_and_the_second_look_drops_the_entry);
  run("no_destructor_of_a_slot_starts_once_its_close_returned",
      no_destructor_of_a_slot_starts_once_its_close_returned);
}
