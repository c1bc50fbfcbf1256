/*
 * Runs the native walker's C tests: walker_test [NAME...] runs those named, or all; it prints one
 * line per test and exits 1 if any failed. The tests of another file of this directory are run
 * by its NAME_tests function, declared and called here.
 */
#include <stdint.h>
#include <string.h>

#include "walker_test.h"

int walker_test_failures;

static void abi_version_is_the_headers(void) {
  CHECK_EQ(WEAVE_WALKER_ABI_VERSION, weave_walker_abi_version(NULL));
  CHECK_EQ(2, weave_walker_abi_version(NULL));
}

static void probe_returns_the_whole_word_complemented(void) {
  static const uint64_t words[] = {0, 1, 0x7fffffffffffffffULL, 0x8000000000000000ULL,
                                   0xffffffffffffffffULL, 0x0123456789abcdefULL};
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
    CHECK(weave_walker_probe((void *)(uintptr_t)words[i]) == (int64_t)~words[i]);
  }
}

void walk_tests(void (*run)(const char *name, void (*test)(void)));
void close_tests(void (*run)(const char *name, void (*test)(void)));

static int test_argc;
static char **test_argv;
static int tests_run, tests_failed;

static int selected(const char *name) {
  if (test_argc < 2) {
    return 1;
  }
  for (int i = 1; i < test_argc; i++) {
    if (strcmp(test_argv[i], name) == 0) {
      return 1;
    }
  }
  return 0;
}

static void run_test(const char *name, void (*test)(void)) {
  if (!selected(name)) {
    return;
  }
  int before = walker_test_failures;
  test();
  tests_run++;
  if (walker_test_failures != before) {
    tests_failed++;
  }
  printf("%s %s\n", walker_test_failures == before ? "ok  " : "FAIL", name);
  fflush(stdout);
}

int main(int argc, char **argv) {
  test_argc = argc;
  test_argv = argv;
  run_test("abi_version_is_the_headers", abi_version_is_the_headers);
  run_test("probe_returns_the_whole_word_complemented", probe_returns_the_whole_word_complemented);
  walk_tests(run_test);
  close_tests(run_test);
  printf("%d test(s), %d failed\n", tests_run, tests_failed);
  return tests_failed == 0 && tests_run > 0 ? 0 : 1;
}
