/*
 * Runs the native walker's C tests: walker_test [NAME...] runs those named, or all; it prints one
 * line per test and exits 1 if any failed. A test in another file of this directory is declared
 * here and listed in TESTS.
 */
#include <stdint.h>
#include <string.h>

#include "walker_test.h"

int walker_test_failures;

static void abi_version_is_the_headers(void) {
  CHECK_EQ(WEAVE_WALKER_ABI_VERSION, weave_walker_abi_version(NULL));
  CHECK_EQ(1, weave_walker_abi_version(NULL));
}

static void probe_returns_the_whole_word_complemented(void) {
  static const uint64_t words[] = {0, 1, 0x7fffffffffffffffULL, 0x8000000000000000ULL,
                                   0xffffffffffffffffULL, 0x0123456789abcdefULL};
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
    CHECK(weave_walker_probe((void *)(uintptr_t)words[i]) == (int64_t)~words[i]);
  }
}

static const struct {
  const char *name;
  void (*run)(void);
} TESTS[] = {
    {"abi_version_is_the_headers", abi_version_is_the_headers},
    {"probe_returns_the_whole_word_complemented", probe_returns_the_whole_word_complemented},
};

static int selected(const char *name, int argc, char **argv) {
  if (argc < 2) {
    return 1;
  }
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], name) == 0) {
      return 1;
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  int run = 0, failed = 0;
  for (size_t i = 0; i < sizeof TESTS / sizeof TESTS[0]; i++) {
    if (!selected(TESTS[i].name, argc, argv)) {
      continue;
    }
    int before = walker_test_failures;
    TESTS[i].run();
    run++;
    if (walker_test_failures != before) {
      failed++;
    }
    printf("%s %s\n", walker_test_failures == before ? "ok  " : "FAIL", TESTS[i].name);
  }
  printf("%d test(s), %d failed\n", run, failed);
  return failed == 0 && run > 0 ? 0 : 1;
}
