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
#include "edgetext_bindings.h"
#include "ref_greedy.h"
#include "ref_truncate.h"

#include "check.h"

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

/* the tokenizer (no special tokens) agrees with greedy() on word w */
static int agrees_with_greedy(const EtTokenizer *t, const char **toks, int ntok, const char *w, int n) {
  int32_t *want = malloc(sizeof(int32_t) * (size_t)(n + 1));
  int32_t *ids = malloc(sizeof(int32_t) * (size_t)(n + 1));
  int32_t *offs = malloc(2 * sizeof(int32_t) * (size_t)(n + 1));
  int k = ref_greedy(toks, ntok, w, n, want), ok = 1;
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
    const char *toks[] = {"[UNK]", "[CLS]", "[SEP]", "a", "##a", longest.p};
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
    const char *toks[64];
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

/* ---- finding 4: combining-mark floods -------------------------------- */

static void buf_cp(Buf *b, uint32_t c) { /* UTF-8 of one code point */
  char u[4];
  size_t n;
  if (c < 0x80) {
    u[0] = (char)c;
    n = 1;
  } else if (c < 0x800) {
    u[0] = (char)(0xC0 | (c >> 6));
    u[1] = (char)(0x80 | (c & 0x3F));
    n = 2;
  } else if (c < 0x10000) {
    u[0] = (char)(0xE0 | (c >> 12));
    u[1] = (char)(0x80 | ((c >> 6) & 0x3F));
    u[2] = (char)(0x80 | (c & 0x3F));
    n = 3;
  } else {
    u[0] = (char)(0xF0 | (c >> 18));
    u[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    u[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    u[3] = (char)(0x80 | (c & 0x3F));
    n = 4;
  }
  buf_add(b, u, n);
}

/* Vocabulary for the mark tests: "a", and continuation tokens of the two
 * spacing non-starters U+1D165 (ccc 216) and U+302F (ccc 224), which survive
 * strip_accents (Mc, not Mn), so their order and offsets are visible. */
static const char MARK_VOCAB[] = "[UNK]\n[CLS]\n[SEP]\na\n##\xf0\x9d\x85\xa5\n##\xe3\x80\xaf\nb\n";
enum { ID_A = 3, ID_STEM = 4, ID_TONE = 5, ID_B = 6 };

/* "a" + U+0301 * n + U+0316 * n (ccc 230 before 220: one run of 2n marks
 * to reorder) took 1.6 s at 160 KB and 6.1 s at 320 KB (insertion sort over
 * the run); now O(n): 800 KB must take well under a second.  Siblings:
 * marks of many classes in descending order, spacing marks whose moves show
 * in the tokens, floods in a pair and in a batch. */
static void test_mark_flood_is_linear(void) {
  EtTokenizer *t = create(MARK_VOCAB, sizeof MARK_VOCAB - 1, 100, NULL, 0, NULL);
  CHECK(t != NULL);
  if (!t) return;
  size_t n = 200000;
  Buf x = {0};
  buf_str(&x, "a");
  for (size_t i = 0; i < n; i++) buf_str(&x, "\xcc\x81"); /* U+0301, ccc 230 */
  for (size_t i = 0; i < n; i++) buf_str(&x, "\xcc\x96"); /* U+0316, ccc 220 */
  int32_t ids[8], offs[16];
  EtEncoding enc = {ids, NULL, NULL, offs, 8, 0};
  double t0 = cpu_now();
  EtStatus st = et_encode(t, x.p, x.len, NULL, 0, NULL, &enc, NULL);
  double dt = cpu_now() - t0;
  fprintf(stderr, "  mark flood: %zu bytes in %.3f s CPU\n", x.len, dt);
  CHECK(st == ET_OK && enc.length == 3 && ids[1] == ID_A && offs[2] == 0 && offs[3] == 1);
  CHECK(dt < time_limit(1.0));
  /* all 230 classes, each class a block, blocks in descending order */
  Buf y = {0};
  buf_str(&y, "a");
  static const uint32_t marks[] = {0x0345 /* 240 */, 0x0301 /* 230 */, 0x031B /* 216 */, 0x0316 /* 220 */,
                                   0x0327 /* 202 */, 0x0334 /* 1 */, 0x05B0 /* 10 */, 0x0E38 /* 103 */};
  for (size_t r = 0; r < 8; r++)
    for (size_t i = 0; i < 20000; i++) buf_cp(&y, marks[r]);
  t0 = cpu_now();
  st = et_encode(t, y.p, y.len, NULL, 0, NULL, &enc, NULL);
  dt = cpu_now() - t0;
  CHECK(st == ET_OK && enc.length == 3 && ids[1] == ID_A);
  CHECK(dt < time_limit(1.0));
  /* in a pair and in a batch (several threads) */
  EtEncoding e2 = {ids, NULL, NULL, offs, 8, 0};
  t0 = cpu_now();
  CHECK(et_encode(t, x.p, x.len, y.p, y.len, NULL, &e2, NULL) == ET_OK && e2.length == 5);
  const char *texts[] = {x.p, y.p, x.p, "a"};
  size_t sizes[] = {x.len, y.len, x.len, 1};
  EtBatch *b = NULL;
  CHECK(et_encode_batch(t, 4, texts, sizes, NULL, NULL, NULL, 2, &b, NULL) == ET_OK && et_batch_total_tokens(b) == 12);
  et_batch_delete(b);
  CHECK(cpu_now() - t0 < time_limit(2.0));
  free(x.p);
  free(y.p);
  et_tokenizer_delete(t);
}

/* The order and offsets after a long reorder (the counting-sort path) are
 * the same as after a short one (insertion sort): "a" + (U+0301 U+302F
 * U+1D165)*k, marks of ccc 230, 224, 216: stable by class, so the word is
 * a + U+1D165*k + U+302F*k; nothing is inserted (each mark is an original
 * char), so alignments are positional: the p-th char of the sorted run keeps
 * the p-th original char of the run. */
static void test_long_reorder_keeps_order_and_offsets(void) {
  EtTokenizer *t = create(MARK_VOCAB, sizeof MARK_VOCAB - 1, 100000, NULL, 0, NULL);
  CHECK(t != NULL);
  if (!t) return;
  static const size_t ks[] = {1, 5, 10, 11, 12, 40, 1000};
  for (size_t q = 0; q < sizeof ks / sizeof ks[0]; q++) {
    size_t k = ks[q];
    Buf x = {0};
    buf_str(&x, "a");
    for (size_t i = 0; i < k; i++) {
      buf_cp(&x, 0x0301);
      buf_cp(&x, 0x302F);
      buf_cp(&x, 0x1D165);
    }
    size_t cap = 2 * k + 4;
    int32_t *ids = malloc(cap * sizeof(int32_t)), *offs = malloc(2 * cap * sizeof(int32_t));
    EtEncoding enc = {ids, NULL, NULL, offs, cap, 0};
    int ok = et_encode(t, x.p, x.len, NULL, 0, NULL, &enc, NULL) == ET_OK && enc.length == 2 * k + 3;
    ok = ok && ids[1] == ID_A && offs[2] == 0 && offs[3] == 1;
    for (size_t i = 0; ok && i < k; i++) {
      size_t stem = 2 + i, tone = 2 + k + i;
      ok = ids[stem] == ID_STEM && offs[2 * stem] == (int32_t)(1 + i) && ids[tone] == ID_TONE &&
           offs[2 * tone] == (int32_t)(1 + k + i) && offs[2 * tone + 1] == (int32_t)(2 + k + i);
    }
    if (!ok) fprintf(stderr, "reorder of a run of %zu marks: wrong tokens or offsets\n", 3 * k);
    CHECK(ok);
    free(ids);
    free(offs);
    free(x.p);
  }
  et_tokenizer_delete(t);
}

/* ---- finding 11: offsets of chars NFD inserted, after reordering -------- */

/* "á" U+302F under strip_accents: á is a + U+0301 (inserted by NFD), and
 * U+302F (ccc 224) moves before U+0301 (230).  HF (tokens 0.23.3) gives
 * ##U+302F the offsets (1, 2), its own char; positional alignments gave
 * (0, 1), one char early.  Inserted chars carry their change as they move:
 * the same for a long run (counting sort) and with a pair. */
static void test_offsets_after_reorder_of_inserted_marks(void) {
  EtTokenizer *t = create(MARK_VOCAB, sizeof MARK_VOCAB - 1, 100000, NULL, 0, NULL);
  CHECK(t != NULL);
  if (!t) return;
  int32_t ids[64], offs[128];
  EtEncoding enc = {ids, NULL, NULL, offs, 64, 0};
  /* text, expected (id, start, end) of the tokens after [CLS] */
  static const struct {
    const char *text;
    int n;
    int32_t tok[4][3];
  } cases[] = {
      {"\xc3\xa1\xe3\x80\xaf", 2, {{ID_A, 0, 1}, {ID_TONE, 1, 2}}},                 /* á U+302F (HF) */
      {"a\xcc\x81\xe3\x80\xaf", 2, {{ID_A, 0, 1}, {ID_TONE, 1, 2}}},                /* a U+0301 U+302F (HF) */
      {"a\xcc\x96\xcc\x81\xe3\x80\xaf", 2, {{ID_A, 0, 1}, {ID_TONE, 2, 3}}},      /* a U+0316 U+0301 U+302F (HF) */
      {"b \xc3\xa1\xe3\x80\xaf", 3, {{ID_B, 0, 1}, {ID_A, 2, 3}, {ID_TONE, 3, 4}}}, /* (HF) */
      {"\xc3\xa1\xe3\x80\xaf\xcc\x81", 2, {{ID_A, 0, 1}, {ID_TONE, 1, 2}}},       /* á U+302F U+0301 (HF) */
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    int ok = et_encode(t, cases[c].text, strlen(cases[c].text), NULL, 0, NULL, &enc, NULL) == ET_OK &&
             enc.length == (size_t)cases[c].n + 2;
    for (int i = 0; ok && i < cases[c].n; i++)
      ok = ids[1 + i] == cases[c].tok[i][0] && offs[2 + 2 * i] == cases[c].tok[i][1] &&
           offs[3 + 2 * i] == cases[c].tok[i][2];
    if (!ok) fprintf(stderr, "offsets after reordering: case %zu\n", c);
    CHECK(ok);
  }
  /* á + U+302F * 40 (a run of 41: the counting-sort path): U+302F number i
   * stays on original char 1 + i */
  Buf x = {0};
  buf_str(&x, "\xc3\xa1");
  for (int i = 0; i < 40; i++) buf_cp(&x, 0x302F);
  int ok = et_encode(t, x.p, x.len, NULL, 0, NULL, &enc, NULL) == ET_OK && enc.length == 43;
  for (int i = 0; ok && i < 40; i++) ok = ids[2 + i] == ID_TONE && offs[4 + 2 * i] == 1 + i && offs[5 + 2 * i] == 2 + i;
  CHECK(ok);
  /* in a pair: the second sequence's offsets too */
  EtEncoding e2 = {ids, NULL, NULL, offs, 64, 0};
  CHECK(et_encode(t, "a", 1, "\xc3\xa1\xe3\x80\xaf", 5, NULL, &e2, NULL) == ET_OK && e2.length == 6 &&
        ids[4] == ID_TONE && offs[8] == 1 && offs[9] == 2);
  free(x.p);
  et_tokenizer_delete(t);
}

/* ---- finding 4 (second part): truncation stops tokenizing early --------- */

static unsigned lcg(unsigned *s) {
  *s = *s * 1103515245u + 12345u;
  return (*s >> 16) & 0x7fff;
}

/* a random text: words of the vocabulary and not, punctuation, CJK, marks
 * that need reordering (also after the point where truncation can stop) */
static void random_text(Buf *b, unsigned *seed, int words) {
  static const char *pieces[] = {"a",  "b",    "ab",   "aab", "xyz",       " ",           ",",
                                 "!",  "\xe4\xb8\xad", "a\xcc\x81\xcc\x96", "\xc3\xa1\xe3\x80\xaf", "  ", "ba",
                                 "\x01", "\xf0\x9d\x85\xa5"};
  for (int i = 0; i < words; i++) {
    buf_str(b, pieces[lcg(seed) % (sizeof pieces / sizeof pieces[0])]);
    if (lcg(seed) % 2) buf_str(b, " ");
  }
}

/* With truncation, a text's tokens are computed only as far as truncation
 * can keep (a single text: max_length - 2 tokens; a pair: budget + 1 of
 * each, both in full when both are longer and the budget is odd).  The
 * rows must equal "tokenize everything, then truncate": ids, types and
 * offsets, single and pair, every max_length, with and without special
 * tokens, and invalid UTF-8 after the stopping point is still an error. */
static void test_truncation_stops_early_exactly(void) {
  static const char V[] = "[UNK]\n[CLS]\n[SEP]\na\nb\n##b\n##a\nab\n,\n!\n\xe4\xb8\xad\n##\xe3\x80\xaf\n";
  EtTokenizer *t = create(V, sizeof V - 1, 100, NULL, 0, NULL);
  CHECK(t != NULL);
  if (!t) return;
  unsigned seed = 99;
  int ok = 1, rounds = 0;
  for (int r = 0; r < 300 && ok; r++) {
    Buf x = {0}, y = {0};
    random_text(&x, &seed, (int)(lcg(&seed) % 24));
    random_text(&y, &seed, (int)(lcg(&seed) % 24));
    int32_t fa[512], fo[1024], fb[512], fbo[1024];
    EtEncodeOptions full;
    et_encode_options_init(&full);
    full.add_special_tokens = 0;
    EtEncoding ea = {fa, NULL, NULL, fo, 512, 0}, eb = {fb, NULL, NULL, fbo, 512, 0};
    if (et_encode(t, x.p ? x.p : "", x.len, NULL, 0, &full, &ea, NULL) != ET_OK ||
        et_encode(t, y.p ? y.p : "", y.len, NULL, 0, &full, &eb, NULL) != ET_OK) {
      ok = 0;
      break;
    }
    for (int pair = 0; pair <= 1 && ok; pair++)
      for (int sp = 0; sp <= 1 && ok; sp++)
        for (size_t ml = 0; ml <= 20 && ok; ml++) {
          EtEncodeOptions eo;
          et_encode_options_init(&eo);
          eo.add_special_tokens = sp;
          eo.truncation = 1;
          eo.max_length = ml;
          int32_t ids[1100], types[1100], offs[2200];
          EtEncoding e = {ids, types, NULL, offs, 1100, 0};
          ok = et_encode(t, x.p ? x.p : "", x.len, pair ? (y.p ? y.p : "") : NULL, pair ? y.len : 0, &eo, &e,
                         NULL) == ET_OK;
          size_t n1 = ea.length, n2 = pair ? eb.length : 0, added = sp ? (pair ? 3u : 2u) : 0u;
          if (ml > 0 && ml >= added) ref_truncate(ml - added, &n1, &n2, pair);
          size_t k = 0;
          ok = ok && e.length == n1 + n2 + added;
          if (ok && sp) ok = ids[k++] == 1;
          for (size_t i = 0; ok && i < n1; i++, k++)
            ok = ids[k] == fa[i] && types[k] == 0 && offs[2 * k] == fo[2 * i] && offs[2 * k + 1] == fo[2 * i + 1];
          if (ok && sp) ok = ids[k++] == 2;
          for (size_t i = 0; ok && i < n2; i++, k++)
            ok = ids[k] == fb[i] && types[k] == 1 && offs[2 * k] == fbo[2 * i] && offs[2 * k + 1] == fbo[2 * i + 1];
          if (!ok) fprintf(stderr, "truncated row != full then truncated: pair %d specials %d max_length %zu on '%s' / '%s'\n", pair, sp, ml, x.p ? x.p : "", y.p ? y.p : "");
          rounds++;
        }
    /* the batch path stops the same way */
    if (ok) {
      EtEncodeOptions eo;
      et_encode_options_init(&eo);
      eo.truncation = 1;
      eo.max_length = 1 + lcg(&seed) % 12;
      const char *texts[] = {x.p ? x.p : ""}, *pairs[] = {y.p ? y.p : ""};
      size_t ts[] = {x.len}, ps[] = {y.len};
      int32_t ids[1100];
      EtEncoding e = {ids, NULL, NULL, NULL, 1100, 0};
      EtBatch *b = NULL;
      ok = et_encode(t, texts[0], ts[0], pairs[0], ps[0], &eo, &e, NULL) == ET_OK &&
           et_encode_batch(t, 1, texts, ts, pairs, ps, &eo, 1, &b, NULL) == ET_OK;
      const int32_t *row = NULL;
      ok = ok && et_batch_row(b, 0, &row, NULL, NULL) == e.length && memcmp(row, ids, e.length * 4) == 0;
      et_batch_delete(b);
    }
    free(x.p);
    free(y.p);
  }
  CHECK(ok);
  /* long texts (the prefix path: more than 1 KB, few tokens kept), cut
   * points rare or absent: long words, marks to reorder, CJK with full-width
   * punctuation and ideographic spaces, removed chars */
  static const char *long_pieces[] = {"ab", "a", " ", "\xe4\xb8\xad", "\xef\xbc\x8c", "\xe3\x80\x80",
                                      "a\xcc\x81\xcc\x96", "\xc3\xa1\xe3\x80\xaf", "\x01", "b", "!", "aaaa",
                                      "\xcc\x96\xcc\x81", "\xe2\x80\x8b"};
  for (int r = 0; r < 60 && ok; r++) {
    Buf x = {0}, y = {0};
    int pieces = 100 + (int)(lcg(&seed) % 3000), spaces = (int)(lcg(&seed) % 4); /* 0: hardly any cut point */
    for (int i = 0; i < pieces; i++) {
      unsigned q = lcg(&seed) % (sizeof long_pieces / sizeof long_pieces[0]);
      if (spaces == 0 && (q == 2 || q == 4 || q == 5 || q == 10 || q == 3)) q = 0;
      buf_str(&x, long_pieces[q]);
    }
    random_text(&y, &seed, 10 + (int)(lcg(&seed) % 400));
    enum { BIG = 40000 };
    int32_t *fa = malloc(BIG * 4), *fo = malloc(BIG * 8), *fb = malloc(BIG * 4), *fbo = malloc(BIG * 8);
    int32_t *ids = malloc(BIG * 4), *types = malloc(BIG * 4), *offs = malloc(BIG * 8);
    EtEncodeOptions full;
    et_encode_options_init(&full);
    full.add_special_tokens = 0;
    EtEncoding ea = {fa, NULL, NULL, fo, BIG, 0}, eb = {fb, NULL, NULL, fbo, BIG, 0};
    ok = et_encode(t, x.p, x.len, NULL, 0, &full, &ea, NULL) == ET_OK &&
         et_encode(t, y.p, y.len, NULL, 0, &full, &eb, NULL) == ET_OK;
    static const size_t mls[] = {1, 2, 3, 4, 5, 8, 17, 40, 64, 129, 512};
    for (size_t m = 0; ok && m < sizeof mls / sizeof mls[0]; m++)
      for (int pair = 0; pair <= 1 && ok; pair++) {
        EtEncodeOptions eo;
        et_encode_options_init(&eo);
        eo.truncation = 1;
        eo.max_length = mls[m];
        EtEncoding e = {ids, types, NULL, offs, BIG, 0};
        /* the pair both ways: the long text first and second */
        for (int swap = 0; swap <= pair && ok; swap++) {
          const Buf *A = swap ? &y : &x, *B = swap ? &x : &y;
          const EtEncoding *FA = swap ? &eb : &ea, *FB = swap ? &ea : &eb;
          ok = et_encode(t, A->p, A->len, pair ? B->p : NULL, pair ? B->len : 0, &eo, &e, NULL) == ET_OK;
          size_t n1 = FA->length, n2 = pair ? FB->length : 0, added = pair ? 3 : 2;
          if (mls[m] >= added) ref_truncate(mls[m] - added, &n1, &n2, pair);
          ok = ok && e.length == n1 + n2 + added;
          for (size_t i = 0; ok && i < n1; i++)
            ok = ids[1 + i] == FA->ids[i] && offs[2 + 2 * i] == FA->offsets[2 * i] &&
                 offs[3 + 2 * i] == FA->offsets[2 * i + 1];
          for (size_t i = 0; ok && i < n2; i++)
            ok = ids[2 + n1 + i] == FB->ids[i] && offs[2 * (2 + n1 + i)] == FB->offsets[2 * i] && types[2 + n1 + i] == 1;
          if (!ok) fprintf(stderr, "long text: truncated row != full then truncated (max_length %zu, pair %d, swap %d)\n", mls[m], pair, swap);
          rounds++;
        }
      }
    free(fa);
    free(fo);
    free(fb);
    free(fbo);
    free(ids);
    free(types);
    free(offs);
    free(x.p);
    free(y.p);
  }
  CHECK(ok);
  fprintf(stderr, "  truncation: %d truncated rows == full rows truncated\n", rounds);
  /* invalid UTF-8 long after the tokens truncation keeps: still an error,
   * naming the same byte */
  Buf z = {0};
  buf_rep(&z, "a b ", 100);
  buf_str(&z, "\xc3(");
  EtEncodeOptions eo;
  et_encode_options_init(&eo);
  eo.truncation = 1;
  eo.max_length = 4;
  int32_t ids[512];
  EtEncoding e = {ids, NULL, NULL, NULL, 512, 0};
  EtError err;
  CHECK(et_encode(t, z.p, z.len, NULL, 0, &eo, &e, &err) == ET_ERR_INVALID_UTF8 && strstr(err.message, "byte 400"));
  CHECK(et_encode(t, "a", 1, z.p, z.len, &eo, &e, &err) == ET_ERR_INVALID_UTF8 && strstr(err.message, "byte 400") &&
        strstr(err.message, "text_pair"));
  eo.max_length = 2; /* a budget of 0 tokens */
  CHECK(et_encode(t, z.p, z.len, NULL, 0, &eo, &e, &err) == ET_ERR_INVALID_UTF8);
  /* a long text with a short max_length: bounded by the kept tokens, not
   * the text (4 MB of words) */
  Buf big = {0};
  buf_rep(&big, "ab ba aab ", 400000);
  eo.max_length = 16;
  double t0 = cpu_now();
  CHECK(et_encode(t, big.p, big.len, NULL, 0, &eo, &e, NULL) == ET_OK && e.length == 16);
  double stopped = cpu_now() - t0;
  eo.truncation = 0;
  eo.max_length = 0;
  int32_t *all = malloc(sizeof(int32_t) * 3000000);
  EtEncoding ef = {all, NULL, NULL, NULL, 3000000, 0};
  t0 = cpu_now();
  CHECK(et_encode(t, big.p, big.len, NULL, 0, &eo, &ef, NULL) == ET_OK && memcmp(all, ids, 15 * 4) == 0);
  fprintf(stderr, "  4 MB text: %.4f s CPU truncated to 16 tokens, %.4f s in full (%zu tokens)\n", stopped,
          cpu_now() - t0, ef.length);
  free(all);
  free(big.p);
  free(z.p);
  et_tokenizer_delete(t);
}

/* ---- finding 11: an empty row ----------------------------------------- */

/* encode_batch([""], add_special_tokens=False): a row of no tokens made the
 * worker memcpy(dst, NULL, 0) (undefined; UBSan's nonnull-attribute check
 * in the sanitizer build).  Rows of zero tokens anywhere in a batch, both
 * batch forms, several threads. */
static void test_empty_rows_in_batch(void) {
  static const char VOCAB[] = "[UNK]\n[CLS]\n[SEP]\n[PAD]\na\n";
  EtTokenizer *t = create(VOCAB, sizeof VOCAB - 1, 100, NULL, 0, NULL);
  CHECK(t != NULL);
  if (!t) return;
  EtEncodeOptions eo;
  et_encode_options_init(&eo);
  eo.add_special_tokens = 0;
  const char *texts[] = {"", "", "a", "", " \t", "\x01"}; /* the last two: no tokens either */
  size_t sizes[] = {0, 0, 1, 0, 2, 1}, want[] = {0, 0, 1, 0, 0, 0};
  size_t n = sizeof texts / sizeof texts[0];
  char packed[16];
  size_t bounds[7] = {0};
  for (size_t i = 0; i < n; i++) {
    memcpy(packed + bounds[i], texts[i], sizes[i]);
    bounds[i + 1] = bounds[i] + sizes[i];
  }
  for (size_t threads = 1; threads <= 3; threads++) {
    for (size_t first = 0; first < n; first++) { /* batches starting at each row: empty first rows */
      EtBatch *b = NULL;
      CHECK(et_encode_batch(t, n - first, texts + first, sizes + first, NULL, NULL, &eo, threads, &b, NULL) == ET_OK);
      int ok = b != NULL && et_batch_size(b) == n - first;
      for (size_t i = first; ok && i < n; i++) ok = et_batch_row(b, i - first, NULL, NULL, NULL) == want[i];
      CHECK(ok);
      et_batch_delete(b);
      b = NULL;
      CHECK(et_encode_batch_packed(t, n - first, packed, bounds + first, NULL, NULL, &eo, threads, &b, NULL) == ET_OK);
      ok = b != NULL && et_batch_total_tokens(b) == (first <= 2 ? 1u : 0u);
      CHECK(ok);
      et_batch_delete(b);
    }
    EtBatch *b = NULL; /* pairs of empty texts */
    const char *pairs[] = {"", "", "", "", "", ""};
    size_t zeros[6] = {0};
    CHECK(et_encode_batch(t, n, texts, sizes, pairs, zeros, &eo, threads, &b, NULL) == ET_OK);
    CHECK(b && et_batch_total_tokens(b) == 1);
    et_batch_delete(b);
  }
  int32_t ids[4];
  EtEncoding enc = {ids, NULL, NULL, NULL, 0, 0}; /* single encode, capacity 0: fits */
  CHECK(et_encode(t, "", 0, NULL, 0, &eo, &enc, NULL) == ET_OK && enc.length == 0);
  et_tokenizer_delete(t);
}

int main(void) {
  test_vocab_pop_bomb();
  test_vocab_pop_bomb_siblings();
  test_mark_flood_is_linear();
  test_long_reorder_keeps_order_and_offsets();
  test_offsets_after_reorder_of_inserted_marks();
  test_truncation_stops_early_exactly();
  test_empty_rows_in_batch();
  printf("%d passed, %d failed\n", g_pass, g_fail);
  return g_fail ? 1 : 0;
}
