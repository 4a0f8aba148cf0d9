/* Regression tests for hostile inputs (issue 13): vocabularies and texts
 * built to blow up memory or time, and the smaller findings (offsets after
 * canonical reordering, empty rows).  Prints "N passed, M failed"; exit
 * status 1 on any failure.  Self-contained like test_tokenizer.c, so the
 * same binary runs under the sanitizers and valgrind.
 *
 * Time limits are CPU seconds with wide margins (the sanitizer and valgrind
 * builds are 5-50x slower); each input is sized so that the old quadratic
 * code needs far more than the limit. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edgetext.h"

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

/* slower builds get a proportionally larger limit (EDGETEXT_SLOW=N) */
static double time_limit(double seconds) {
  const char *s = getenv("EDGETEXT_SLOW");
  double f = s ? atof(s) : 1.0;
  return seconds * (f > 1.0 ? f : 1.0);
}

static double cpu_now(void) { return (double)clock() / CLOCKS_PER_SEC; }

/* ---- helpers ---------------------------------------------------------- */

typedef struct {
  char *p;
  size_t len, cap;
} Buf;

static void buf_add(Buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = (b->len + n + 1) * 2;
    char *p = realloc(b->p, cap);
    if (!p) abort();
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}
static void buf_str(Buf *b, const char *s) { buf_add(b, s, strlen(s)); }
static void buf_rep(Buf *b, const char *s, size_t times) {
  for (size_t i = 0; i < times; i++) buf_str(b, s);
}

static EtTokenizer *create(const char *vocab, size_t n, size_t max_chars, const char *compiled,
                           size_t compiled_size, EtError *err) {
  EtTokenizerOptions o;
  et_tokenizer_options_init(&o);
  o.max_input_chars_per_word = max_chars;
  o.compiled_model = compiled;
  o.compiled_model_size = compiled_size;
  EtTokenizer *t = NULL;
  if (et_tokenizer_create_from_buffer(vocab, n, &o, &t, err) != ET_OK) return NULL;
  return t;
}

static size_t model_size(const EtTokenizer *t) {
  size_t n = 0;
  et_tokenizer_save_model(t, NULL, 0, &n, NULL);
  return n;
}

static char *save_model(const EtTokenizer *t, size_t *size) {
  *size = model_size(t);
  char *b = malloc(*size);
  if (b && et_tokenizer_save_model(t, b, *size, size, NULL) != ET_OK) {
    free(b);
    return NULL;
  }
  return b;
}

/* greedy longest-match-first WordPiece, the definition (O(n * tokens)):
 * writes the token strings' indices into out, returns their count or -1
 * (the word is [UNK]) */
static int greedy(char **toks, int ntok, const char *w, int n, int *out) {
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

/* the tokenizer (no special tokens) agrees with greedy() on word w */
static int agrees_with_greedy(const EtTokenizer *t, char **toks, int ntok, const char *w, int n) {
  int *want = malloc(sizeof(int) * (size_t)(n + 1));
  int32_t *ids = malloc(sizeof(int32_t) * (size_t)(n + 1));
  int32_t *offs = malloc(2 * sizeof(int32_t) * (size_t)(n + 1));
  int k = greedy(toks, ntok, w, n, want), ok = 1;
  EtEncoding enc = {ids, NULL, NULL, offs, (size_t)n + 1, 0};
  EtEncodeOptions eo;
  et_encode_options_init(&eo);
  eo.add_special_tokens = 0;
  if (et_encode(t, w, (size_t)n, NULL, 0, &eo, &enc, NULL) != ET_OK) {
    ok = 0;
  } else if (k < 0) {
    ok = enc.length == 1 && ids[0] == et_tokenizer_unk_id(t) && offs[0] == 0 && offs[1] == n;
  } else {
    ok = enc.length == (size_t)k;
    int32_t at = 0;
    for (int j = 0; j < k && ok; j++) {
      size_t len;
      const char *s = et_tokenizer_id_to_token(t, ids[j], &len);
      const char *want_s = toks[want[j]];
      ok = s && len == strlen(want_s) && memcmp(s, want_s, len) == 0;
      int32_t bytes = (int32_t)len - (j > 0 ? 2 : 0); /* ASCII: bytes = chars */
      ok = ok && offs[2 * j] == at && offs[2 * j + 1] == at + bytes;
      at += bytes;
    }
  }
  if (!ok) fprintf(stderr, "LinMaxMatch != greedy on a word of %d bytes: '%.60s'\n", n, w);
  free(want);
  free(ids);
  free(offs);
  return ok;
}

/* ---- finding 3: failure-pop memory bomb ------------------------------- */

/* `a`, `##a`, `a`*L+`b`: node a^k's failure pops are `a` + (k-2) x `##a`;
 * copied per node they were O(L^2) (8 KB of vocabulary -> 490 MB, 16 KB
 * -> 2 GB).  Shared chains keep the model linear: the compiled model (which
 * holds every node and pop) stays within a constant per vocabulary byte, and
 * the tokens equal greedy longest-match-first. */
static void test_vocab_pop_bomb(void) {
  static const size_t sizes[] = {64, 4096, 1u << 17};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    size_t L = sizes[s];
    Buf v = {0};
    buf_str(&v, "[UNK]\n[CLS]\n[SEP]\na\n##a\n");
    buf_rep(&v, "a", L);
    buf_str(&v, "b\n");
    double t0 = cpu_now();
    EtError err;
    EtTokenizer *t = create(v.p, v.len, L + 8, NULL, 0, &err);
    CHECK(t != NULL);
    if (!t) {
      fprintf(stderr, "bomb L=%zu: %s\n", L, err.message);
      free(v.p);
      return;
    }
    size_t blob = model_size(t);
    /* linear: edges (8 bytes a slot, at least 2/3 full... ), nodes (12), pops (12) per byte */
    int linear = blob <= 64 * v.len + 65536;
    CHECK(linear);
    fprintf(stderr, "  pop bomb L=%zu: vocabulary %zu B, compiled model %zu B, %.3f s CPU\n", L, v.len, blob,
            cpu_now() - t0);
    Buf longest = {0}; /* the long token, for greedy() */
    buf_rep(&longest, "a", L);
    buf_str(&longest, "b");
    char *toks[] = {"[UNK]", "[CLS]", "[SEP]", "a", "##a", longest.p};
    Buf w = {0};
    buf_rep(&w, "a", L);
    /* a^k (k a few sizes) and a^k b: long words walk the longest chains */
    size_t ks[] = {1, 2, 3, L / 2, L - 1, L};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0] && L <= 4096; i++) {
      CHECK(agrees_with_greedy(t, toks, 6, w.p, (int)ks[i]));
      Buf x = {0};
      buf_add(&x, w.p, ks[i]);
      buf_str(&x, "b");
      CHECK(agrees_with_greedy(t, toks, 6, x.p, (int)x.len));
      free(x.p);
    }
    if (L > 4096) { /* greedy() is quadratic itself: check the shape only */
      int32_t *ids = malloc(sizeof(int32_t) * (L + 2)), *offs = malloc(8 * (L + 2));
      EtEncoding enc = {ids, NULL, NULL, offs, L + 2, 0};
      EtEncodeOptions eo;
      et_encode_options_init(&eo);
      eo.add_special_tokens = 0;
      int ok = et_encode(t, w.p, L, NULL, 0, &eo, &enc, NULL) == ET_OK && enc.length == L;
      for (size_t j = 0; ok && j < L; j++)
        ok = ids[j] == (j ? 4 : 3) && offs[2 * j] == (int32_t)j && offs[2 * j + 1] == (int32_t)j + 1;
      CHECK(ok);
      free(ids);
      free(offs);
    }
    /* through the compiled-model blob: the same tokens */
    size_t n = 0;
    char *b = save_model(t, &n);
    EtTokenizer *l = b ? create(v.p, v.len, L + 8, b, n, &err) : NULL;
    CHECK(l != NULL);
    if (l && L <= 4096) CHECK(agrees_with_greedy(l, toks, 6, w.p, (int)L));
    et_tokenizer_delete(l);
    free(b);
    free(w.p);
    free(v.p);
    free(longest.p);
    et_tokenizer_delete(t);
    if (!linear) return; /* the old builder would need gigabytes for the next size */
  }
}

/* Siblings of the bomb: the same blow-up inside the continuation trie
 * (`##x`, `##a`, `##x`+a*L+`b`, reached from word-start tokens), several
 * long chains sharing pops, and random vocabularies over two letters with
 * long tokens.  Memory stays linear, tokens equal greedy. */
static void test_vocab_pop_bomb_siblings(void) {
  unsigned seed = 7;
  for (int round = 0; round < 12; round++) {
    Buf v = {0};
    char *toks[64];
    int ntok = 0;
    char *store = calloc(64, 700);
    const char *fixed[] = {"[UNK]", "[CLS]", "[SEP]", "a", "##a", "##x", "y", "##c", "##b", "x"};
    for (int i = 0; i < 10; i++) {
      strcpy(store + 700 * ntok, fixed[i]);
      toks[ntok] = store + 700 * ntok;
      ntok++;
    }
    size_t L = 100 + 50 * (size_t)round;
    /* ##x a^L b, y x a^k c, x a^L b, random long tokens over {a, b} */
    for (int j = 0; j < 3; j++) {
      char *s = store + 700 * ntok;
      size_t p = 0;
      if (j == 0) p += (size_t)sprintf(s, "##x");
      else if (j == 1) p += (size_t)sprintf(s, "yx");
      else p += (size_t)sprintf(s, "x");
      for (size_t q = 0; q < L - (size_t)j * 7; q++) s[p++] = 'a';
      s[p++] = j == 1 ? 'c' : 'b';
      s[p] = 0;
      toks[ntok++] = s;
    }
    while (ntok < 40) {
      char *s = store + 700 * ntok;
      size_t p = 0;
      seed = seed * 1103515245u + 12345u;
      if ((seed >> 16) & 1) p += (size_t)sprintf(s, "##");
      size_t len = 1 + ((seed >> 17) % 60);
      for (size_t q = 0; q < len; q++) {
        seed = seed * 1103515245u + 12345u;
        s[p++] = ((seed >> 16) % 5) ? 'a' : 'b';
      }
      s[p] = 0;
      toks[ntok++] = s;
    }
    for (int i = 0; i < ntok; i++) {
      buf_str(&v, toks[i]);
      buf_str(&v, "\n");
    }
    EtError err;
    EtTokenizer *t = create(v.p, v.len, 100000, NULL, 0, &err);
    CHECK(t != NULL);
    if (t) {
      CHECK(model_size(t) <= 64 * v.len + 65536);
      int ok = 1;
      for (int q = 0; q < 60 && ok; q++) {
        char w[1400];
        int n = 0;
        seed = seed * 1103515245u + 12345u;
        int kind = (int)((seed >> 16) % 4);
        if (kind == 0) n = sprintf(w, "x");
        else if (kind == 1) n = sprintf(w, "yx");
        else if (kind == 2) n = sprintf(w, "y");
        seed = seed * 1103515245u + 12345u;
        int len = (int)((seed >> 16) % (L + 40));
        for (int j = 0; j < len; j++) {
          seed = seed * 1103515245u + 12345u;
          unsigned r = (seed >> 16) % 100;
          w[n++] = r < 90 ? 'a' : r < 95 ? 'b' : r < 98 ? 'c' : 'x';
        }
        if (n == 0) w[n++] = 'a';
        ok = agrees_with_greedy(t, toks, ntok, w, n);
      }
      CHECK(ok);
    }
    et_tokenizer_delete(t);
    free(store);
    free(v.p);
  }
}

int main(void) {
  test_vocab_pop_bomb();
  test_vocab_pop_bomb_siblings();
  printf("%d passed, %d failed\n", g_pass, g_fail);
  return g_fail ? 1 : 0;
}
