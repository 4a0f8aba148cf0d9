/* The test reference for WordPiece: greedy longest-match-first, the definition (O(n * tokens)).
 * Writes the indices of the matching token strings into out and returns their count, or -1 when
 * the word is [UNK]. Shared by the C tests; LinMaxMatch must agree with it. */
#ifndef ET_TEST_REF_GREEDY_H
#define ET_TEST_REF_GREEDY_H

#include <stdint.h>
#include <string.h>

static inline int ref_greedy(const char **toks, int ntok, const char *w, int n, int32_t *out) {
  int pos = 0, k = 0;
  while (pos < n) {
    int best = -1, best_len = 0;
    for (int i = 0; i < ntok; i++) {
      const char *s = toks[i];
      int cont = s[0] == '#' && s[1] == '#';
      if (cont != (pos > 0)) continue;
      if (cont) s += 2;
      int len = (int)strlen(s);
      if (len > best_len && len <= n - pos && memcmp(s, w + pos, (size_t)len) == 0) {
        best = i;
        best_len = len;
      }
    }
    if (best < 0) return -1;
    out[k++] = best;
    pos += best_len;
  }
  return k;
}

#endif
