/* The C tests' one assertion: count passes and failures, name the failed condition, keep going
   (a test program prints "N passed, M failed" and exits non-zero on any failure). One per test program. */
#ifndef ET_TESTS_CHECK_H
#define ET_TESTS_CHECK_H

#include <stdio.h>

static int g_pass, g_fail;

#define CHECK(cond)                                                        \
  do {                                                                     \
    if (cond) {                                                            \
      g_pass++;                                                            \
    } else {                                                               \
      g_fail++;                                                            \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                      \
  } while (0)

#endif
