/*
 * The native walker's C tests: every test is a void f(void) that states its expectations with
 * CHECK, which records a failure (file, line, expression) and goes on. walker_test.c runs them;
 * build.sh builds every .c file here against each platform's libweave_walker.so and runs the
 * result on that platform (under qemu-user for a foreign CPU).
 */
#ifndef WALKER_TEST_H
#define WALKER_TEST_H

#include <stdio.h>

#include "weave_walker.h"

extern int walker_test_failures;

#define CHECK(condition)                                                               \
  do {                                                                                 \
    if (!(condition)) {                                                                \
      walker_test_failures++;                                                          \
      fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #condition); \
    }                                                                                  \
  } while (0)

#define CHECK_EQ(expected, actual)                                                         \
  do {                                                                                     \
    long long expected_ = (long long)(expected), actual_ = (long long)(actual);            \
    if (expected_ != actual_) {                                                            \
      walker_test_failures++;                                                              \
      fprintf(stderr, "  %s:%d: CHECK_EQ(%s, %s): expected %lld, got %lld\n", __FILE__, \
              __LINE__, #expected, #actual, expected_, actual_);                           \
    }                                                                                      \
  } while (0)

#endif
