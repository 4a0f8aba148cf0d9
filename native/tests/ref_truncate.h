/* The test reference for HF's longest_first truncation (tokenizers' truncate_encodings) on the
 * sequence lengths, written apart from src/encode.c so the tests check the library against an
 * independent statement of the rule. Shared by the C tests and the fuzz harnesses. */
#ifndef ET_TEST_REF_TRUNCATE_H
#define ET_TEST_REF_TRUNCATE_H

#include <stddef.h>

static inline void ref_truncate(size_t m, size_t *n1, size_t *n2, int pair) {
  size_t total = *n1 + (pair ? *n2 : 0);
  if (m == 0) {
    *n1 = *n2 = 0;
    return;
  }
  if (total <= m) return;
  if (!pair) {
    *n1 = m;
    return;
  }
  size_t a = *n1, b = *n2;
  int swap = a > b;
  if (swap) {
    a = *n2;
    b = *n1;
  }
  b = a > m ? a : (m - a > a ? m - a : a);
  if (a + b > m) {
    a = m / 2;
    b = a + m % 2;
  }
  if (swap) {
    size_t x = a;
    a = b;
    b = x;
  }
  if (a < *n1) *n1 = a;
  if (b < *n2) *n2 = b;
}

#endif
