/* C unit tests of libedgetext.  Prints "N passed, M failed"; exit status 1 on
 * any failure.  Self-contained (in-memory vocabularies), so the same binary
 * runs under sanitizers and under qemu for cross builds. */
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgetext.h"
#include "edgetext_bindings.h"
#include "ref_greedy.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#if defined(__linux__) && !defined(ET_NO_THREADS) && !defined(SANITIZED)
#define THREAD_FAILURE_TEST 1
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

/* internal (libedgetext.a): the checksum of a compiled-model blob, so the
 * tests can forge blobs that get past it and reach the structural checks */
uint64_t et_wordpiece_blob_checksum(const unsigned char *blob, size_t size);

/* Compile-time check that ET_ERR_TRUNCATION (documented, never returned)
 * is gone from edgetext.h: were it still an enumerator of EtStatus, this
 * enumerator of the same name would not compile. */
enum { ET_ERR_TRUNCATION = -1 };

#include "check.h"

static const char *VOCAB =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n"           /* 0-4 */
    "hello\nworld\n##s\n##ing\nplay\n"              /* 5-9 */
    ",\n.\n!\n中\n国\n"                             /* 10-14 */
    "un\n##aff\n##able\ncafe\ni\n"                   /* 15-19 */
    "a\n##a\n##b\nab\n";                             /* 20-23 */

static EtTokenizer *make(int lowercase) {
  EtTokenizerOptions o;
  et_tokenizer_options_init(&o);
  o.lowercase = lowercase;
  EtTokenizer *t = NULL;
  EtError err;
  EtStatus st = et_tokenizer_create_from_buffer(VOCAB, strlen(VOCAB), &o, &t, &err);
  if (st != ET_OK) fprintf(stderr, "create failed: %s\n", err.message);
  return t;
}

/* encode `text` and compare with the expected ids (terminated by -1) */
static int encode_is(const EtTokenizer *t, const char *text, const int32_t *expect) {
  int32_t ids[256], types[256], mask[256], offs[512];
  EtEncoding enc = {ids, types, mask, offs, 256, 0};
  EtError err;
  if (et_encode(t, text, strlen(text), NULL, 0, NULL, &enc, &err) != ET_OK) {
    fprintf(stderr, "encode failed: %s\n", err.message);
    return 0;
  }
  size_t n = 0;
  while (expect[n] >= 0) n++;
  if (enc.length != n) {
    fprintf(stderr, "'%s': %zu tokens, expected %zu\n", text, enc.length, n);
    return 0;
  }
  for (size_t i = 0; i < n; i++)
    if (ids[i] != expect[i]) {
      fprintf(stderr, "'%s': token %zu is %d, expected %d\n", text, i, ids[i], expect[i]);
      return 0;
    }
  return 1;
}

static void test_basic_pipeline(void) {
  EtTokenizer *t = make(1);
  CHECK(t != NULL);
  if (!t) return;
  CHECK(encode_is(t, "Hello, World!", (const int32_t[]){2, 5, 10, 6, 12, 3, -1}));
  CHECK(encode_is(t, "", (const int32_t[]){2, 3, -1}));
  CHECK(encode_is(t, "   \t\n ", (const int32_t[]){2, 3, -1}));
  CHECK(encode_is(t, "playing plays", (const int32_t[]){2, 9, 8, 9, 7, 3, -1}));
  CHECK(encode_is(t, "unaffable", (const int32_t[]){2, 15, 16, 17, 3, -1}));
  CHECK(encode_is(t, "unaffablex", (const int32_t[]){2, 1, 3, -1})); /* any failure: whole word [UNK] */
  CHECK(encode_is(t, "中国", (const int32_t[]){2, 13, 14, 3, -1}));    /* CJK isolated */
  CHECK(encode_is(t, "CAFÉ", (const int32_t[]){2, 18, 3, -1}));       /* lowercase + strip accents */
  CHECK(encode_is(t, "caf\xc3\xa9\xe2\x80\x8b", (const int32_t[]){2, 18, 3, -1})); /* ZWSP (Cf) removed */
  CHECK(encode_is(t, "\xc4\xb0", (const int32_t[]){2, 19, 3, -1}));   /* U+0130: NFD I U+0307, strip, lowercase */
  CHECK(encode_is(t, "aab", (const int32_t[]){2, 20, 21, 22, 3, -1}));
  CHECK(encode_is(t, "aba", (const int32_t[]){2, 23, 21, 3, -1}));
  et_tokenizer_delete(t);
  t = make(0);
  CHECK(encode_is(t, "Hello", (const int32_t[]){2, 1, 3, -1})); /* cased: no match */
  CHECK(encode_is(t, "\xc4\xb0", (const int32_t[]){2, 1, 3, -1}));
  et_tokenizer_delete(t);
}

static void test_offsets_are_characters(void) {
  EtTokenizer *t = make(1);
  int32_t ids[16], offs[32];
  EtEncoding enc = {ids, NULL, NULL, offs, 16, 0};
  const char *text = "中 plays";
  CHECK(et_encode(t, text, strlen(text), NULL, 0, NULL, &enc, NULL) == ET_OK);
  CHECK(enc.length == 5);
  CHECK(offs[0] == 0 && offs[1] == 0);            /* [CLS] */
  CHECK(offs[2] == 0 && offs[3] == 1);            /* 中: one character, three bytes */
  CHECK(offs[4] == 2 && offs[5] == 6);            /* play */
  CHECK(offs[6] == 6 && offs[7] == 7);            /* ##s */
  et_tokenizer_delete(t);
}

static void test_long_words_become_unk(void) {
  EtTokenizerOptions o;
  et_tokenizer_options_init(&o);
  EtTokenizer *t = NULL;
  CHECK(et_tokenizer_create_from_buffer(VOCAB, strlen(VOCAB), &o, &t, NULL) == ET_OK);
  char word[512];
  for (int len = 99; len <= 101; len++) {
    memset(word, 'a', (size_t)len); /* "a" + "##a" * (len - 1) */
    int32_t ids[256];
    EtEncoding enc = {ids, NULL, NULL, NULL, 256, 0};
    CHECK(et_encode(t, word, (size_t)len, NULL, 0, NULL, &enc, NULL) == ET_OK);
    if (len <= 100) CHECK(enc.length == (size_t)len + 2 && ids[1] == 20 && ids[len] == 21);
    else CHECK(enc.length == 3 && ids[1] == 1);
  }
  /* a word after an over-long word starts clean (regression: stale word buffer) */
  {
    char text[300];
    memset(text, 'b', 150);
    memcpy(text + 150, " aab unaffable", 14);
    int32_t ids[16], offs[32];
    EtEncoding enc = {ids, NULL, NULL, offs, 16, 0};
    CHECK(et_encode(t, text, 164, NULL, 0, NULL, &enc, NULL) == ET_OK);
    CHECK(enc.length == 9 && ids[1] == 1 && ids[2] == 20 && ids[3] == 21 && ids[4] == 22 && ids[5] == 15);
    CHECK(offs[2] == 0 && offs[3] == 150 && offs[4] == 151 && offs[5] == 152 && offs[10] == 155);
  }
  /* the limit counts characters, not bytes: 100 x U+00E9 (200 bytes) is one word of 100 chars */
  o.lowercase = 0;
  o.strip_accents = 0;
  EtTokenizer *cased = NULL;
  CHECK(et_tokenizer_create_from_buffer(VOCAB, strlen(VOCAB), &o, &cased, NULL) == ET_OK);
  for (int i = 0; i < 100; i++) memcpy(word + 2 * i, "\xc3\xa9", 2);
  int32_t ids[8], offs[16];
  EtEncoding enc = {ids, NULL, NULL, offs, 8, 0};
  CHECK(et_encode(cased, word, 200, NULL, 0, NULL, &enc, NULL) == ET_OK);
  CHECK(enc.length == 3 && ids[1] == 1 && offs[2] == 0 && offs[3] == 100);
  et_tokenizer_delete(cased);
  et_tokenizer_delete(t);
}

static void test_invalid_utf8_is_an_error(void) {
  EtTokenizer *t = make(1);
  const char *bad[] = {"\xff", "a\xc3", "\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80", "ab\xe4\xb8"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int32_t ids[8];
    EtEncoding enc = {ids, NULL, NULL, NULL, 8, 0};
    EtError err = {ET_OK, ""};
    CHECK(et_encode(t, bad[i], strlen(bad[i]), NULL, 0, NULL, &enc, &err) == ET_ERR_INVALID_UTF8);
    CHECK(err.status == ET_ERR_INVALID_UTF8 && strstr(err.message, "UTF-8") != NULL);
  }
  /* explicit lengths: an embedded NUL is a character (removed by clean_text), not the end */
  int32_t ids[8];
  EtEncoding enc = {ids, NULL, NULL, NULL, 8, 0};
  CHECK(et_encode(t, "a\0b", 3, NULL, 0, NULL, &enc, NULL) == ET_OK);
  CHECK(enc.length == 3 && ids[1] == 23); /* "ab" */
  et_tokenizer_delete(t);
}

static void test_buffer_too_small_reports_need(void) {
  EtTokenizer *t = make(1);
  int32_t ids[2];
  EtEncoding enc = {ids, NULL, NULL, NULL, 2, 0};
  EtError err;
  CHECK(et_encode(t, "hello world", 11, NULL, 0, NULL, &enc, &err) == ET_ERR_BUFFER_TOO_SMALL);
  CHECK(enc.length == 4);
  et_tokenizer_delete(t);
}

static void test_pair_truncation_longest_first(void) {
  EtTokenizer *t = make(1);
  EtEncodeOptions eo;
  et_encode_options_init(&eo);
  eo.max_length = 8;
  eo.truncation = 1;
  eo.padding = ET_PAD_TO_MAX_LENGTH;
  int32_t ids[16], types[16], mask[16];
  EtEncoding enc = {ids, types, mask, NULL, 16, 0};
  /* 4 + 3 tokens, budget 8 - 3 = 5: HF longest-first gives 3 + 2 */
  const char *a = "hello world hello world", *b = "play play play";
  CHECK(et_encode(t, a, strlen(a), b, strlen(b), &eo, &enc, NULL) == ET_OK);
  CHECK(enc.length == 8);
  int32_t expect[8] = {2, 5, 6, 5, 3, 9, 9, 3};
  int32_t expect_types[8] = {0, 0, 0, 0, 0, 1, 1, 1};
  int ok = 1;
  for (int i = 0; i < 8; i++) ok &= ids[i] == expect[i] && types[i] == expect_types[i] && mask[i] == 1;
  CHECK(ok);
  eo.max_length = 12;
  CHECK(et_encode(t, "hello", 5, NULL, 0, &eo, &enc, NULL) == ET_OK);
  CHECK(enc.length == 12 && ids[2] == 3 && ids[3] == 0 && mask[2] == 1 && mask[3] == 0 && types[11] == 0);
  et_tokenizer_delete(t);
}

static void test_batch_equals_serial(void) {
  EtTokenizer *t = make(1);
  enum { N = 64 };
  const char *pool[] = {"hello world", "中国 play", "unaffable, cafe!", "", "aab aba", "x y z"};
  const char *texts[N];
  size_t sizes[N];
  for (int i = 0; i < N; i++) {
    texts[i] = pool[i % 6];
    sizes[i] = strlen(texts[i]);
  }
  for (size_t threads = 1; threads <= 8; threads *= 2) {
    EtBatch *b = NULL;
    EtError err;
    CHECK(et_encode_batch(t, N, texts, sizes, NULL, NULL, NULL, threads, &b, &err) == ET_OK);
    if (!b) continue;
    CHECK(et_batch_size(b) == N);
    int same = 1;
    for (int i = 0; i < N; i++) {
      int32_t ids[64];
      EtEncoding enc = {ids, NULL, NULL, NULL, 64, 0};
      et_encode(t, texts[i], sizes[i], NULL, 0, NULL, &enc, NULL);
      const int32_t *row;
      size_t n = et_batch_row(b, (size_t)i, &row, NULL, NULL);
      same &= n == enc.length && memcmp(row, ids, n * sizeof(int32_t)) == 0;
    }
    CHECK(same);
    int64_t dense[N * 8];
    int64_t mask[N * 8];
    et_batch_fill_i64(b, 8, dense, NULL, mask, NULL);
    CHECK(dense[3 * 8 + 0] == 2 && dense[3 * 8 + 1] == 3 && dense[3 * 8 + 2] == 0 && mask[3 * 8 + 2] == 0);
    et_batch_delete(b);
  }
  /* an invalid text fails the batch and names it */
  texts[5] = "\xff";
  sizes[5] = 1;
  EtBatch *b = NULL;
  EtError err;
  CHECK(et_encode_batch(t, N, texts, sizes, NULL, NULL, NULL, 4, &b, &err) == ET_ERR_INVALID_UTF8);
  CHECK(b == NULL && strstr(err.message, "text 5") != NULL);
  et_tokenizer_delete(t);
}

static void test_vocab_errors(void) {
  EtTokenizer *t = NULL;
  EtError err;
  CHECK(et_tokenizer_create_from_buffer("", 0, NULL, &t, &err) == ET_ERR_VOCAB && t == NULL);
  CHECK(et_tokenizer_create_from_buffer("[CLS]\n[SEP]\n", 12, NULL, &t, &err) == ET_ERR_VOCAB);
  CHECK(strstr(err.message, "[UNK]") != NULL);
  CHECK(et_tokenizer_create_from_buffer("[UNK]\n\xff\n", 8, NULL, &t, &err) == ET_ERR_VOCAB);
  CHECK(et_tokenizer_create_from_file("/nonexistent/vocab.txt", NULL, &t, &err) == ET_ERR_IO);
  CHECK(et_tokenizer_create_from_buffer(NULL, 5, NULL, &t, &err) == ET_ERR_INVALID_ARGUMENT);
  EtTokenizerOptions o;
  et_tokenizer_options_init(&o);
  o.strip_accents = 7;
  CHECK(et_tokenizer_create_from_buffer(VOCAB, strlen(VOCAB), &o, &t, &err) == ET_ERR_INVALID_ARGUMENT);
  /* duplicates: the last line wins (HF), trailing whitespace is trimmed */
  const char *dup = "[UNK]\n[CLS]\n[SEP]\nx\nx \ny\r\n";
  CHECK(et_tokenizer_create_from_buffer(dup, strlen(dup), NULL, &t, &err) == ET_OK);
  CHECK(et_tokenizer_vocab_size(t) == 5);
  CHECK(et_tokenizer_token_to_id(t, "x", 1) == 4);
  CHECK(et_tokenizer_token_to_id(t, "y", 1) == 5);
  size_t n;
  CHECK(et_tokenizer_id_to_token(t, 3, &n) == NULL);
  CHECK(et_tokenizer_id_to_token(t, 99, &n) == NULL);
  CHECK(et_tokenizer_pad_id(t) == -1);
  et_tokenizer_delete(t);
  CHECK(strcmp(et_status_string(ET_ERR_INVALID_UTF8), "invalid UTF-8") == 0);
}

/* LinMaxMatch must equal greedy longest-match-first on random vocabularies */
static unsigned rnd_state = 12345u;
static unsigned rnd(void) {
  rnd_state = rnd_state * 1103515245u + 12345u;
  return (rnd_state >> 16) & 0x7fff;
}


static void test_linmaxmatch_equals_greedy(void) {
  int agree = 1;
  for (int round = 0; round < 200; round++) {
    char store[64][12];
    const char *toks[64];
    char vocab[1024];
    size_t vlen = 0;
    int ntok = 0;
    const char *specials[] = {"[UNK]", "[CLS]", "[SEP]"};
    for (int i = 0; i < 3; i++) {
      toks[ntok] = specials[i];
      vlen += (size_t)sprintf(vocab + vlen, "%s\n", specials[ntok++]);
    }
    int extra = 3 + (int)(rnd() % 30);
    for (int i = 0; i < extra; i++) {
      char *s = store[i];
      int p = 0;
      if (rnd() % 2) {
        s[p++] = '#';
        s[p++] = '#';
      }
      int len = 1 + (int)(rnd() % 4);
      for (int j = 0; j < len; j++) s[p++] = (char)('a' + rnd() % 3);
      s[p] = 0;
      toks[ntok++] = s;
      vlen += (size_t)sprintf(vocab + vlen, "%s\n", s);
    }
    EtTokenizer *t = NULL;
    if (et_tokenizer_create_from_buffer(vocab, vlen, NULL, &t, NULL) != ET_OK) {
      agree = 0;
      break;
    }
    for (int q = 0; q < 50; q++) {
      char w[16];
      int n = 1 + (int)(rnd() % 12);
      for (int j = 0; j < n; j++) w[j] = (char)('a' + rnd() % 3);
      int32_t want[32], ids[40];
      int k = ref_greedy(toks, ntok, w, n, want);
      EtEncoding enc = {ids, NULL, NULL, NULL, 40, 0};
      EtEncodeOptions eo;
      et_encode_options_init(&eo);
      eo.add_special_tokens = 0;
      if (et_encode(t, w, (size_t)n, NULL, 0, &eo, &enc, NULL) != ET_OK) {
        agree = 0;
        continue;
      }
      /* duplicates in the random vocab: compare token strings, not ids */
      if (k < 0) {
        agree &= enc.length == 1 && ids[0] == et_tokenizer_unk_id(t);
      } else {
        agree &= enc.length == (size_t)k;
        for (int j = 0; j < k && (size_t)j < enc.length; j++) {
          size_t len;
          const char *s = et_tokenizer_id_to_token(t, ids[j], &len);
          agree &= s && len == strlen(toks[want[j]]) && memcmp(s, toks[want[j]], len) == 0;
        }
      }
      if (!agree) {
        fprintf(stderr, "LinMaxMatch != greedy on '%.*s' (round %d)\n", n, w, round);
        break;
      }
    }
    et_tokenizer_delete(t);
    if (!agree) break;
  }
  CHECK(agree);
}

/* et_encode_ids_call: ids, the length as the result, -status on failure */
static void test_encode_ids_call(void) {
  EtTokenizer *t = make(1);
  int32_t ids[4];
  EtError err;
  EtIdsCall c = {t, NULL, ids, 4, 0, &err};
  CHECK(et_encode_ids_call(&c, "hello world", 11) == 4);
  CHECK(c.length == 4 && ids[0] == 2 && ids[1] == 5 && ids[2] == 6 && ids[3] == 3);
  CHECK(et_encode_ids_call(&c, "hello world hello", 17) == -(int64_t)ET_ERR_BUFFER_TOO_SMALL);
  CHECK(c.length == 5);
  CHECK(et_encode_ids_call(&c, "\xff", 1) == -(int64_t)ET_ERR_INVALID_UTF8);
  CHECK(et_encode_ids_call(NULL, "a", 1) == -(int64_t)ET_ERR_INVALID_ARGUMENT);
  c.err = NULL;
  CHECK(et_encode_ids_call(&c, "", 0) == 2);
  et_tokenizer_delete(t);
}

/* ASCII words keep their per-byte bookkeeping lazily: offsets must stay
 * right when a removed character splits the original positions, and when a
 * word mixes ASCII and non-ASCII characters */
static void test_ascii_word_offsets(void) {
  EtTokenizer *t = make(1);
  int32_t ids[16], offs[32];
  EtEncoding enc = {ids, NULL, NULL, offs, 16, 0};
  const char *text = "pl\x01" "ays";       /* U+0001 removed by clean_text: "plays" */
  CHECK(et_encode(t, text, strlen(text), NULL, 0, NULL, &enc, NULL) == ET_OK);
  CHECK(enc.length == 4 && ids[1] == 9 && ids[2] == 7);
  CHECK(offs[2] == 0 && offs[3] == 5);  /* play: p l (removed) a y */
  CHECK(offs[4] == 5 && offs[5] == 6);  /* ##s */
  text = "PLAY\xc3\x8dNG";            /* "playÍng" -> "playing": ASCII, then a stripped accent */
  CHECK(et_encode(t, text, strlen(text), NULL, 0, NULL, &enc, NULL) == ET_OK);
  CHECK(enc.length == 4 && ids[1] == 9 && ids[2] == 8);
  CHECK(offs[2] == 0 && offs[3] == 4 && offs[4] == 4 && offs[5] == 7);
  text = "x hello\x7fs";                /* DEL removed: "hellos" = hello ##s, ##s after the gap */
  CHECK(et_encode(t, text, strlen(text), NULL, 0, NULL, &enc, NULL) == ET_OK);
  CHECK(enc.length == 5 && ids[1] == 1 && ids[2] == 5 && ids[3] == 7);
  CHECK(offs[4] == 2 && offs[5] == 7 && offs[6] == 8 && offs[7] == 9);
  text = "hellx\x7fo";                  /* [UNK] spans the whole word, gap included */
  CHECK(et_encode(t, text, strlen(text), NULL, 0, NULL, &enc, NULL) == ET_OK);
  CHECK(enc.length == 3 && ids[1] == 1 && offs[2] == 0 && offs[3] == 7);
  et_tokenizer_delete(t);
}

/* ---- ABI: version, struct_size, status codes ---- */

static void test_abi_version(void) {
  CHECK(et_abi_version() == ET_ABI_VERSION);
  CHECK(ET_ABI_VERSION == 2);
}

/* every EtStatus of edgetext.h (check_units.py checks this list is complete) */
static const EtStatus ALL_STATUS[] = {ET_OK,           ET_ERR_INVALID_ARGUMENT, ET_ERR_INVALID_UTF8,
                                      ET_ERR_BUFFER_TOO_SMALL, ET_ERR_VOCAB, ET_ERR_IO,
                                      ET_ERR_NO_MEMORY, ET_ERR_THREAD};
enum { N_STATUS = sizeof ALL_STATUS / sizeof ALL_STATUS[0] };

static void test_status_strings_and_ranges(void) {
  int named = 1, distinct = 1, ranged = 1;
  for (int i = 0; i < N_STATUS; i++) {
    const char *s = et_status_string(ALL_STATUS[i]);
    named &= s != NULL && s[0] != 0 && strcmp(s, "unknown status") != 0;
    for (int j = 0; j < i; j++) distinct &= strcmp(s, et_status_string(ALL_STATUS[j])) != 0;
  }
  CHECK(named);
  CHECK(distinct);
  /* 1xx: the caller's input, 2xx: data, 3xx: resources */
  ranged &= ET_OK == 0;
  ranged &= ET_ERR_INVALID_ARGUMENT / 100 == 1 && ET_ERR_INVALID_UTF8 / 100 == 1 &&
            ET_ERR_BUFFER_TOO_SMALL / 100 == 1;
  ranged &= ET_ERR_VOCAB / 100 == 2 && ET_ERR_IO / 100 == 2;
  ranged &= ET_ERR_NO_MEMORY / 100 == 3 && ET_ERR_THREAD / 100 == 3;
  CHECK(ranged);
  /* values that are no EtStatus (old numbering, out of range) still get a description */
  const int unknown[] = {-1, 1, 7, 99, 103, 299, 302, 1000, INT32_MAX};
  int ok = 1;
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
    const char *s = et_status_string((EtStatus)unknown[i]);
    ok &= s != NULL && s[0] != 0 && strcmp(s, "unknown status") == 0;
  }
  CHECK(ok);
}

static void test_struct_size_is_checked(void) {
  EtTokenizer *t = NULL;
  EtError err;
  EtTokenizerOptions o;
  et_tokenizer_options_init(&o);
  CHECK(o.struct_size == sizeof(EtTokenizerOptions));
  /* too small (0: a struct that never went through et_tokenizer_options_init) */
  /* the oldest layout read: ABI 2's first, up to compiled_model_size */
  const size_t old_size = offsetof(EtTokenizerOptions, compiled_model_size) + sizeof(size_t);
  const size_t small[] = {0, 1, sizeof(size_t), old_size - 1};
  for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) {
    o.struct_size = small[i];
    err.message[0] = 0;
    CHECK(et_tokenizer_create_from_buffer(VOCAB, strlen(VOCAB), &o, &t, &err) == ET_ERR_INVALID_ARGUMENT);
    CHECK(t == NULL && err.status == ET_ERR_INVALID_ARGUMENT);
    CHECK(strstr(err.message, "EtTokenizerOptions.struct_size") != NULL &&
          strstr(err.message, "et_tokenizer_options_init") != NULL);
  }
  CHECK(et_tokenizer_create_from_file("/nonexistent/vocab.txt", &o, &t, &err) == ET_ERR_IO);
  /* larger than this library's layout (a program built against a newer header) */
  struct {
    EtTokenizerOptions o;
    char newer_fields[16];
  } big;
  memset(&big, 0, sizeof big);
  et_tokenizer_options_init(&big.o);
  big.o.struct_size = sizeof big;
  CHECK(et_tokenizer_create_from_buffer(VOCAB, strlen(VOCAB), &big.o, &t, &err) == ET_ERR_INVALID_ARGUMENT);
  CHECK(t == NULL && strstr(err.message, "newer") != NULL);
  /* the right size, and NULL options, are accepted */
  et_tokenizer_options_init(&o);
  CHECK(et_tokenizer_create_from_buffer(VOCAB, strlen(VOCAB), &o, &t, &err) == ET_OK);
  EtTokenizer *t2 = NULL;
  CHECK(et_tokenizer_create_from_buffer(VOCAB, strlen(VOCAB), NULL, &t2, &err) == ET_OK);
  et_tokenizer_delete(t2);
  if (!t) return;

  EtEncodeOptions eo;
  et_encode_options_init(&eo);
  CHECK(eo.struct_size == sizeof(EtEncodeOptions));
  int32_t ids[16];
  EtEncoding enc = {ids, NULL, NULL, NULL, 16, 0};
  size_t len = 0;
  const char *texts[2] = {"hello", "world"};
  const size_t sizes[2] = {5, 5}, bounds[3] = {0, 5, 10};
  EtIdsCall call = {t, &eo, ids, 16, 0, &err};
  const size_t bad[] = {0, sizeof(EtEncodeOptions) - 1, sizeof(EtEncodeOptions) + 8};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct {
      EtEncodeOptions o;
      char newer_fields[16];
    } e;
    memset(&e, 0, sizeof e);
    et_encode_options_init(&e.o);
    e.o.struct_size = bad[i];
    call.options = &e.o;
    EtBatch *b = (EtBatch *)&e; /* must be set to NULL */
    err.message[0] = 0;
    CHECK(et_encode(t, "hello", 5, NULL, 0, &e.o, &enc, &err) == ET_ERR_INVALID_ARGUMENT);
    CHECK(strstr(err.message, "EtEncodeOptions.struct_size") != NULL);
    CHECK(et_encode_ids(t, "hello", 5, &e.o, ids, 16, &len, &err) == ET_ERR_INVALID_ARGUMENT);
    CHECK(et_encode_ids_call(&call, "hello", 5) == -(int64_t)ET_ERR_INVALID_ARGUMENT);
    CHECK(et_encode_batch(t, 2, texts, sizes, NULL, NULL, &e.o, 1, &b, &err) == ET_ERR_INVALID_ARGUMENT);
    CHECK(b == NULL);
    CHECK(et_encode_batch_packed(t, 2, "helloworld", bounds, NULL, NULL, &e.o, 1, &b, &err) ==
          ET_ERR_INVALID_ARGUMENT);
    CHECK(b == NULL);
  }
  call.options = &eo;
  CHECK(et_encode_ids_call(&call, "hello", 5) == 3);
  CHECK(et_encode(t, "hello", 5, NULL, 0, NULL, &enc, &err) == ET_OK && enc.length == 3);
  et_tokenizer_delete(t);
}

/* as HF, a max_length smaller than the special tokens truncates nothing: no
 * error (the case ET_ERR_TRUNCATION used to be documented for) */
static void test_short_max_length_is_not_an_error(void) {
  EtTokenizer *t = make(1);
  EtEncodeOptions eo;
  et_encode_options_init(&eo);
  eo.truncation = 1;
  int32_t ids[16];
  EtEncoding enc = {ids, NULL, NULL, NULL, 16, 0};
  eo.max_length = 1; /* < [CLS] [SEP] */
  CHECK(et_encode(t, "hello world", 11, NULL, 0, &eo, &enc, NULL) == ET_OK && enc.length == 4);
  for (size_t max = 1; max <= 2; max++) { /* < [CLS] [SEP] [SEP] */
    eo.max_length = max;
    CHECK(et_encode(t, "hello", 5, "world", 5, &eo, &enc, NULL) == ET_OK && enc.length == 5);
  }
  eo.max_length = 2; /* room for the specials only */
  CHECK(et_encode(t, "hello world", 11, NULL, 0, &eo, &enc, NULL) == ET_OK && enc.length == 2);
  eo.max_length = 3; /* one token left for the text */
  CHECK(et_encode(t, "hello world", 11, NULL, 0, &eo, &enc, NULL) == ET_OK && enc.length == 3);
  et_tokenizer_delete(t);
}

/* ET_ERR_THREAD: a batch whose worker threads cannot start, in a child whose
 * address space has no room left for a thread stack (64 threads: more than
 * glibc keeps cached from earlier batches).  1 = pass, 0 = fail, -1 = the
 * limit does not bite here (e.g. qemu-user ignores RLIMIT_AS): skipped. */
static int thread_failure_in_child(const EtTokenizer *t) {
#if defined(THREAD_FAILURE_TEST)
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%ld", &pages) != 1) _exit(77);
    fclose(f);
    rlim_t lim = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (1u << 20);
    struct rlimit r = {lim, lim};
    if (setrlimit(RLIMIT_AS, &r) != 0) _exit(77);
    void *probe = malloc((size_t)1 << 30); /* far beyond the limit (and any free heap): must fail */
    if (probe != NULL) _exit(77);            /* the limit does not apply */
    enum { N = 64 };
    const char *texts[N];
    size_t sizes[N];
    for (int i = 0; i < N; i++) {
      texts[i] = "hello world";
      sizes[i] = 11;
    }
    EtBatch *b = (EtBatch *)texts;
    EtError err = {ET_OK, ""};
    EtStatus st = et_encode_batch(t, N, texts, sizes, NULL, NULL, NULL, N, &b, &err);
    _exit(st == ET_ERR_THREAD && b == NULL && err.status == ET_ERR_THREAD &&
                  strstr(err.message, "thread") != NULL
              ? 0
              : 1);
  }
  int ws = 0;
  if (waitpid(pid, &ws, 0) != pid || !WIFEXITED(ws)) return 0;
  return WEXITSTATUS(ws) == 0 ? 1 : WEXITSTATUS(ws) == 77 ? -1 : 0;
#else
  (void)t;
  return -1;
#endif
}

/* every status code is returned by some call (none is reserved) */
static void test_every_status_is_returned(void) {
  int returned[N_STATUS] = {0};
  EtTokenizer *t = NULL;
  EtError err;
  int32_t ids[4];
  EtEncoding enc = {ids, NULL, NULL, NULL, 4, 0};
  EtStatus got[N_STATUS];
  got[0] = et_tokenizer_create_from_buffer(VOCAB, strlen(VOCAB), NULL, &t, &err);
  got[1] = et_encode(t, NULL, 3, NULL, 0, NULL, &enc, &err);
  got[2] = et_encode(t, "\xff", 1, NULL, 0, NULL, &enc, &err);
  got[3] = et_encode(t, "hello world hello", 17, NULL, 0, NULL, &enc, &err);
  EtTokenizer *none = NULL;
  got[4] = et_tokenizer_create_from_buffer("[UNK]\n", 6, NULL, &none, &err); /* no [CLS] */
  got[5] = et_tokenizer_create_from_file("/nonexistent/vocab.txt", NULL, &none, &err);
  /* a batch too large to allocate its row table: the same out-of-memory
   * path as any failed allocation (texts are not read before it) */
  const char *texts[1] = {"a"};
  const size_t sizes[1] = {1};
  EtBatch *b = NULL;
  got[6] = et_encode_batch(t, SIZE_MAX / sizeof(size_t), texts, sizes, NULL, NULL, NULL, 1, &b, &err);
  CHECK(b == NULL);
  int thread = t ? thread_failure_in_child(t) : 0;
  got[7] = thread == 1 ? ET_ERR_THREAD : ET_OK;
  for (int i = 0; i < N_STATUS; i++)
    for (int j = 0; j < N_STATUS; j++) returned[j] |= got[i] == ALL_STATUS[j];
  if (thread < 0) {
    returned[7] = 1;
    printf("(ET_ERR_THREAD not provoked here: RLIMIT_AS does not bite, or a sanitizer build)\n");
  }
  int all = 1;
  for (int j = 0; j < N_STATUS; j++) {
    if (!returned[j]) fprintf(stderr, "status %d (%s) was not returned\n", (int)ALL_STATUS[j],
                              et_status_string(ALL_STATUS[j]));
    all &= returned[j];
  }
  CHECK(all);
  CHECK(got[0] == ET_OK && got[1] == ET_ERR_INVALID_ARGUMENT && got[2] == ET_ERR_INVALID_UTF8);
  CHECK(got[3] == ET_ERR_BUFFER_TOO_SMALL && got[4] == ET_ERR_VOCAB && got[5] == ET_ERR_IO);
  CHECK(got[6] == ET_ERR_NO_MEMORY && err.status == ET_ERR_NO_MEMORY);
  CHECK(thread != 0);
  et_tokenizer_delete(t);
}

/* edgetext_bindings.h: the packed batch equals the pointer batch */
static void test_packed_batch_equals_pointer_batch(void) {
  EtTokenizer *t = make(1);
  const char *texts[4] = {"hello world", "", "中国 play", "unaffable, cafe!"};
  const char *pairs[4] = {"plays", "aab", "", "x"};
  size_t ts[4], ps[4], tb[5] = {0}, pb[5] = {0};
  char data[128] = "", pdata[64] = "";
  for (int i = 0; i < 4; i++) {
    ts[i] = strlen(texts[i]);
    ps[i] = strlen(pairs[i]);
    strcat(data, texts[i]);
    strcat(pdata, pairs[i]);
    tb[i + 1] = tb[i] + ts[i];
    pb[i + 1] = pb[i] + ps[i];
  }
  for (int with_pairs = 0; with_pairs <= 1; with_pairs++) {
    EtBatch *a = NULL, *b = NULL;
    CHECK(et_encode_batch(t, 4, texts, ts, with_pairs ? pairs : NULL, with_pairs ? ps : NULL, NULL, 2,
                          &a, NULL) == ET_OK);
    CHECK(et_encode_batch_packed(t, 4, data, tb, with_pairs ? pdata : NULL, with_pairs ? pb : NULL, NULL,
                                 2, &b, NULL) == ET_OK);
    if (!a || !b) continue;
    CHECK(et_batch_total_tokens(a) == et_batch_total_tokens(b));
    CHECK(memcmp(et_batch_all_ids(a), et_batch_all_ids(b), et_batch_total_tokens(a) * sizeof(int32_t)) == 0);
    CHECK(memcmp(et_batch_row_starts(a), et_batch_row_starts(b), 5 * sizeof(size_t)) == 0);
    et_batch_delete(a);
    et_batch_delete(b);
  }
  size_t down[3] = {0, 5, 4};
  EtBatch *b = NULL;
  EtError err;
  CHECK(et_encode_batch_packed(t, 2, data, down, NULL, NULL, NULL, 1, &b, &err) == ET_ERR_INVALID_ARGUMENT);
  CHECK(b == NULL && strstr(err.message, "text 1") != NULL);
  et_tokenizer_delete(t);
}

/* ---- compiled model (et_tokenizer_save_model / EtTokenizerOptions.compiled_model) ---- */

static unsigned char *save_model(const EtTokenizer *t, size_t *size) {
  EtError err;
  *size = 0;
  if (et_tokenizer_save_model(t, NULL, 0, size, &err) != ET_ERR_BUFFER_TOO_SMALL || *size == 0) return NULL;
  unsigned char *blob = malloc(*size);
  size_t again = 0;
  if (blob && et_tokenizer_save_model(t, blob, *size, &again, &err) != ET_OK) {
    free(blob);
    return NULL;
  }
  return again == *size ? blob : NULL;
}

static EtStatus load_model(const char *vocab, size_t vocab_size, const char *prefix, const void *blob,
                           size_t size, EtTokenizer **out, EtError *err) {
  EtTokenizerOptions o;
  et_tokenizer_options_init(&o);
  o.continuing_subword_prefix = prefix;
  o.compiled_model = blob;
  o.compiled_model_size = size;
  return et_tokenizer_create_from_buffer(vocab, vocab_size, &o, out, err);
}

/* same ids and offsets from both tokenizers */
static int same_encoding(const EtTokenizer *a, const EtTokenizer *b, const char *text, size_t n) {
  int32_t ia[128], ib[128], oa[256], ob[256];
  EtEncoding ea = {ia, NULL, NULL, oa, 128, 0}, eb = {ib, NULL, NULL, ob, 128, 0};
  EtStatus sa = et_encode(a, text, n, NULL, 0, NULL, &ea, NULL);
  EtStatus sb = et_encode(b, text, n, NULL, 0, NULL, &eb, NULL);
  return sa == sb && (sa != ET_OK || (ea.length == eb.length && memcmp(ia, ib, ea.length * 4) == 0 &&
                                      memcmp(oa, ob, ea.length * 8) == 0));
}

static void test_compiled_model_round_trip(void) {
  EtTokenizer *t = make(1);
  size_t size;
  unsigned char *blob = save_model(t, &size);
  CHECK(blob != NULL && size > 32 && memcmp(blob, "EtWpMdl", 7) == 0);
  EtTokenizer *l = NULL;
  EtError err;
  CHECK(blob && load_model(VOCAB, strlen(VOCAB), NULL, blob, size, &l, &err) == ET_OK);
  if (l) {
    const char *texts[] = {"Hello, World!", "playing plays", "unaffable", "unaffablex", "中国", "CAFÉ",
                           "aab aba", "pl\x01" "ays", "x hello\x7fs", ""};
    int same = 1;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) same &= same_encoding(t, l, texts[i], strlen(texts[i]));
    CHECK(same);
    size_t size2;
    unsigned char *blob2 = save_model(l, &size2); /* a loaded model saves to the same bytes */
    CHECK(blob2 && size2 == size && memcmp(blob, blob2, size) == 0);
    free(blob2);
  }
  et_tokenizer_delete(l);
  /* random vocabularies (multi-byte characters too): loaded == compiled */
  int agree = 1;
  for (int round = 0; round < 100 && agree; round++) {
    static const char *alpha[] = {"a", "b", "\xc3\xa9", "\xe4\xb8\xad"};
    char vocab[2048] = "[UNK]\n[CLS]\n[SEP]\n";
    size_t vlen = strlen(vocab);
    int extra = 3 + (int)(rnd() % 40);
    for (int i = 0; i < extra; i++) {
      if (rnd() % 2) vlen += (size_t)sprintf(vocab + vlen, "##");
      int len = 1 + (int)(rnd() % 4);
      for (int j = 0; j < len; j++) vlen += (size_t)sprintf(vocab + vlen, "%s", alpha[rnd() % 4]);
      vocab[vlen++] = '\n';
    }
    EtTokenizer *c = NULL, *d = NULL;
    size_t n;
    unsigned char *b = NULL;
    agree &= et_tokenizer_create_from_buffer(vocab, vlen, NULL, &c, NULL) == ET_OK;
    if (c) b = save_model(c, &n);
    agree &= b != NULL && load_model(vocab, vlen, NULL, b, n, &d, NULL) == ET_OK;
    for (int q = 0; q < 40 && agree && d; q++) {
      char w[64];
      size_t wl = 0;
      int chars = 1 + (int)(rnd() % 10);
      for (int j = 0; j < chars; j++) wl += (size_t)sprintf(w + wl, "%s", rnd() % 9 ? alpha[rnd() % 4] : " ");
      agree &= same_encoding(c, d, w, wl);
      if (!agree) fprintf(stderr, "compiled model != build on '%.*s' (round %d)\n", (int)wl, w, round);
    }
    free(b);
    et_tokenizer_delete(c);
    et_tokenizer_delete(d);
  }
  CHECK(agree);
  free(blob);
  et_tokenizer_delete(t);
}

/* little-endian u32 at p (the blob's byte order) */
static uint32_t rd32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void wr32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void reseal(unsigned char *b, size_t size) { /* a forger recomputes the checksum */
  uint64_t c = et_wordpiece_blob_checksum(b, size);
  for (int i = 0; i < 8; i++) b[size - 8 + (size_t)i] = (unsigned char)(c >> (8 * i));
}

/* a damaged, forged or foreign model is ET_ERR_VOCAB with a message, never a crash */
static int refused(const unsigned char *blob, size_t size, const char *vocab, const char *prefix,
                   const char *why) {
  EtTokenizer *t = (EtTokenizer *)blob;
  EtError err = {ET_OK, ""};
  EtStatus st = load_model(vocab, strlen(vocab), prefix, blob, size, &t, &err);
  int ok = st == ET_ERR_VOCAB && t == NULL && strstr(err.message, "compiled model") && strstr(err.message, why);
  if (!ok) fprintf(stderr, "expected refusal '%s', got %d '%s'\n", why, (int)st, err.message);
  return ok;
}

static void test_compiled_model_refused(void) {
  EtTokenizer *t = make(1);
  size_t size = 0, need = 0;
  unsigned char *blob = save_model(t, &size);
  CHECK(blob != NULL);
  if (!blob) return;
  unsigned char small[16];
  EtError err;
  CHECK(et_tokenizer_save_model(t, small, sizeof small, &need, &err) == ET_ERR_BUFFER_TOO_SMALL && need == size);
  CHECK(et_tokenizer_save_model(NULL, small, sizeof small, &need, &err) == ET_ERR_INVALID_ARGUMENT);
  CHECK(et_tokenizer_save_model(t, NULL, 5, &need, &err) == ET_ERR_INVALID_ARGUMENT);
  EtTokenizerOptions o;
  et_tokenizer_options_init(&o);
  o.compiled_model_size = 10; /* without the model */
  EtTokenizer *x = NULL;
  CHECK(et_tokenizer_create_from_buffer(VOCAB, strlen(VOCAB), &o, &x, &err) == ET_ERR_INVALID_ARGUMENT);

  unsigned char *b = malloc(size);
  uint32_t n_nodes = rd32(blob + 8), n_pops = rd32(blob + 12), cap = rd32(blob + 16); /* format 3: n_edges */
  size_t edges = 32, nodes = edges + 8 * (size_t)cap, pops = nodes + 12 * (size_t)n_nodes;
  CHECK(pops + 12 * (size_t)n_pops + 8 == size);
  /* integrity */
  CHECK(refused(blob, 10, VOCAB, NULL, "magic"));
  CHECK(refused(blob, size - 1, VOCAB, NULL, "size"));
  memcpy(b, blob, size);
  b[7] = 1; /* format 1: flat pop copies, O(L^2) for hostile vocabularies */
  CHECK(refused(b, size, VOCAB, NULL, "version"));
  b[7] = 2; /* format 2: the edge table as a fixed hash function laid it out */
  CHECK(refused(b, size, VOCAB, NULL, "version"));
  b[7] = 4;
  CHECK(refused(b, size, VOCAB, NULL, "version"));
  memcpy(b, blob, size);
  b[size / 2] ^= 0x10;
  CHECK(refused(b, size, VOCAB, NULL, "checksum"));
  /* another vocabulary, another prefix */
  const char *other = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n##s\n";
  CHECK(refused(blob, size, other, NULL, "another vocabulary"));
  CHECK(refused(blob, size, VOCAB, "@@", "another vocabulary"));
  /* forged (checksum recomputed): each structural check */
  memcpy(b, blob, size);
  wr32(b + 8, 1); /* n_nodes */
  reseal(b, size);
  CHECK(refused(b, size, VOCAB, NULL, "header"));
  memcpy(b, blob, size);
  wr32(b + 16, cap - 1); /* n_edges: not one edge into every node */
  reseal(b, size);
  CHECK(refused(b, size, VOCAB, NULL, "header"));
  memcpy(b, blob, size);
  wr32(b + 8, n_nodes + 1); /* size no longer matches */
  wr32(b + 16, cap + 1);     /* (n_edges stays n_nodes - 2) */
  reseal(b, size);
  CHECK(refused(b, size, VOCAB, NULL, "size"));
  /* find one used edge slot and one node with a failure link */
  size_t e = 0, v = 0;
  while (e < cap && rd32(b + edges + 8 * e) == 0) e++;
  while (v < n_nodes && rd32(blob + nodes + 12 * v) == UINT32_MAX) v++;
  CHECK(e < cap && v < n_nodes);
  if (e < cap && v < n_nodes) {
    memcpy(b, blob, size);
    wr32(b + edges + 8 * e + 4, 0); /* child: the root */
    reseal(b, size);
    CHECK(refused(b, size, VOCAB, NULL, "not a tree"));
    memcpy(b, blob, size);
    wr32(b + edges + 8 * e + 4, n_nodes); /* child out of range */
    reseal(b, size);
    CHECK(refused(b, size, VOCAB, NULL, "not a tree"));
    if (cap >= 2) { /* the same key twice (the list is sorted: a repeat is out of order) */
      memcpy(b, blob, size);
      wr32(b + edges + 8, rd32(blob + edges));
      reseal(b, size);
      CHECK(refused(b, size, VOCAB, NULL, "increasing key order"));
    }
    memcpy(b, blob, size);
    wr32(b + nodes + 12 * v, (uint32_t)v); /* fail: itself (would loop forever) */
    reseal(b, size);
    CHECK(refused(b, size, VOCAB, NULL, "does not go back"));
    memcpy(b, blob, size);
    wr32(b + nodes + 12 * v + 4, n_pops); /* pops_last past the end */
    reseal(b, size);
    CHECK(refused(b, size, VOCAB, NULL, "out of range"));
    memcpy(b, blob, size);
    wr32(b + nodes + 12 * v + 8, rd32(blob + nodes + 12 * v + 8) + 1); /* pops_len: longer than the chain */
    reseal(b, size);
    CHECK(refused(b, size, VOCAB, NULL, "out of range"));
    uint32_t off = rd32(blob + nodes + 12 * v + 4);
    memcpy(b, blob, size);
    wr32(b + pops + 12 * off + 4, rd32(blob + pops + 12 * off + 4) + 1); /* consumes a byte too many */
    reseal(b, size);
    CHECK(refused(b, size, VOCAB, NULL, "do not match"));
    memcpy(b, blob, size);
    wr32(b + pops + 12 * off, 9999); /* an id beyond the vocabulary */
    reseal(b, size);
    CHECK(refused(b, size, VOCAB, NULL, "no token"));
    memcpy(b, blob, size);
    wr32(b + pops + 12 * off + 8, off); /* prev: itself (a cycle) */
    reseal(b, size);
    CHECK(refused(b, size, VOCAB, NULL, "chain back"));
    memcpy(b, blob, size);
    wr32(b + pops + 12 * off + 4, 0); /* a pop of no bytes */
    reseal(b, size);
    CHECK(refused(b, size, VOCAB, NULL, "no bytes"));
  }
  /* a forgery that passes every structural check but ends a failure pop
   * inside a character: "é" (2 bytes, nodes 2 -> 3) pops 1 byte and links to
   * node 2 (depth 1); the offsets must still be computed in bounds */
  {
    const char *v2 = "[UNK]\n[CLS]\n[SEP]\n\xc3\xa9\n##x\n";
    EtTokenizerOptions co;
    et_tokenizer_options_init(&co);
    co.lowercase = 0;
    co.strip_accents = 0;
    EtTokenizer *c = NULL, *f = NULL;
    CHECK(et_tokenizer_create_from_buffer(v2, strlen(v2), &co, &c, NULL) == ET_OK);
    size_t n2 = 0;
    unsigned char *fb = c ? save_model(c, &n2) : NULL;
    CHECK(fb != NULL);
    if (fb) {
      size_t cap2 = rd32(fb + 16), nodes2 = 32 + 8 * cap2;
      size_t pops2 = nodes2 + 12 * (size_t)rd32(fb + 8); /* pops: i32 id, u32 end, u32 prev */
      uint32_t na = 0, nb = 0; /* root -C3-> na -A9-> nb */
      for (size_t i = 0; i < cap2; i++)
        if (rd32(fb + 32 + 8 * i) == (0u << 8 | 0xC3) + 1) na = rd32(fb + 32 + 8 * i + 4);
      for (size_t i = 0; i < cap2; i++)
        if (na && rd32(fb + 32 + 8 * i) == (na << 8 | 0xA9) + 1) nb = rd32(fb + 32 + 8 * i + 4);
      uint32_t off = rd32(fb + nodes2 + 12 * nb + 4);
      CHECK(nb && rd32(fb + nodes2 + 12 * nb) == 1 && rd32(fb + pops2 + 12 * off + 4) == 2); /* f = suffix root, pops é */
      wr32(fb + nodes2 + 12 * nb, na);
      wr32(fb + pops2 + 12 * off + 4, 1);
      reseal(fb, n2);
      co.compiled_model = fb;
      co.compiled_model_size = n2;
      CHECK(et_tokenizer_create_from_buffer(v2, strlen(v2), &co, &f, NULL) == ET_OK);
      int32_t ids[8], offs[16];
      EtEncoding enc = {ids, NULL, NULL, offs, 8, 0};
      CHECK(f && et_encode(f, "\xc3\xa9x", 3, NULL, 0, NULL, &enc, NULL) == ET_OK && enc.length == 3 &&
            ids[1] == 0 && offs[2] == 0 && offs[3] == 2); /* [UNK] over the word */
    }
    free(fb);
    et_tokenizer_delete(c);
    et_tokenizer_delete(f);
  }
  /* every single-byte change of a resealed blob: refused, or a model that
   * encodes without any out-of-bounds access (the sanitizer build checks) */
  int fine = 1;
  for (size_t at = 8; at < size - 8; at += 1 + at / 64) {
    memcpy(b, blob, size);
    b[at] ^= (unsigned char)(1u << (at % 8));
    reseal(b, size);
    EtTokenizer *f = NULL;
    EtStatus st = load_model(VOCAB, strlen(VOCAB), NULL, b, size, &f, NULL);
    fine &= st == ET_OK || st == ET_ERR_VOCAB;
    if (f) {
      int32_t ids[64], offs[128];
      EtEncoding enc = {ids, NULL, NULL, offs, 64, 0};
      const char *text = "unaffable playing 中国 aab ab\xc3\xa9";
      fine &= et_encode(f, text, strlen(text), NULL, 0, NULL, &enc, NULL) == ET_OK;
      for (size_t i = 0; i < enc.length; i++) fine &= ids[i] >= 0 && ids[i] < 24 && offs[2 * i] <= offs[2 * i + 1];
    }
    et_tokenizer_delete(f);
  }
  CHECK(fine);
  free(b);
  free(blob);
  et_tokenizer_delete(t);
}

/* encode text; ids (terminated by -1) and, when offs_expect is not NULL, the
 * offsets (2 per token) must match */
static int encode_offs_is(const EtTokenizer *t, const char *text, size_t size, const EtEncodeOptions *eo,
                          const int32_t *expect, const int32_t *offs_expect) {
  int32_t ids[256], types[256], mask[256], offs[512];
  EtEncoding enc = {ids, types, mask, offs, 256, 0};
  EtError err;
  if (et_encode(t, text, size, NULL, 0, eo, &enc, &err) != ET_OK) {
    fprintf(stderr, "encode failed: %s\n", err.message);
    return 0;
  }
  size_t n = 0;
  while (expect[n] >= 0) n++;
  int ok = enc.length == n;
  for (size_t i = 0; ok && i < n; i++) ok = ids[i] == expect[i];
  for (size_t i = 0; ok && offs_expect && i < 2 * n; i++) ok = offs[i] == offs_expect[i];
  if (!ok) {
    fprintf(stderr, "'%.*s': got", (int)size, text);
    for (size_t i = 0; i < enc.length; i++) fprintf(stderr, " %d(%d,%d)", ids[i], offs[2 * i], offs[2 * i + 1]);
    fprintf(stderr, "\n");
  }
  return ok;
}

/* HF's AddedVocabulary: specials matched in the raw text, before normalization */
static void test_special_tokens_in_text(void) {
  EtTokenizer *t = make(1), *cased = make(0);
  CHECK(t && cased);
  if (!t || !cased) return;
  const char *s1 = "hello [MASK] world";
  CHECK(encode_offs_is(t, s1, strlen(s1), NULL, (const int32_t[]){2, 5, 4, 6, 3, -1},
                       (const int32_t[]){0, 0, 0, 5, 6, 12, 13, 18, 0, 0}));
  CHECK(encode_offs_is(cased, s1, strlen(s1), NULL, (const int32_t[]){2, 5, 4, 6, 3, -1}, NULL));
  /* adjacent, nested, typed in a word, around CJK, several */
  CHECK(encode_offs_is(t, "[CLS][SEP]", 10, NULL, (const int32_t[]){2, 2, 3, 3, -1},
                       (const int32_t[]){0, 0, 0, 5, 5, 10, 0, 0}));
  CHECK(encode_offs_is(t, "[[MASK]]", 8, NULL, (const int32_t[]){2, 1, 4, 1, 3, -1},
                       (const int32_t[]){0, 0, 0, 1, 1, 7, 7, 8, 0, 0}));
  CHECK(encode_offs_is(t, "play[UNK]s", 10, NULL, (const int32_t[]){2, 9, 1, 1, 3, -1},
                       (const int32_t[]){0, 0, 0, 4, 4, 9, 9, 10, 0, 0}));
  const char *s2 = "\xe4\xb8\xad[SEP]\xe5\x9b\xbd"; /* 中[SEP]国 */
  CHECK(encode_offs_is(t, s2, strlen(s2), NULL, (const int32_t[]){2, 13, 3, 14, 3, -1},
                       (const int32_t[]){0, 0, 0, 1, 1, 6, 6, 7, 0, 0}));
  CHECK(encode_offs_is(t, "[PAD] [PAD][MASK]", 17, NULL, (const int32_t[]){2, 0, 0, 4, 3, -1}, NULL));
  /* case-sensitive, before lowercasing: "[mask]" is text ('[' ']' 'mask' unknown) */
  CHECK(encode_offs_is(t, "[mask]", 6, NULL, (const int32_t[]){2, 1, 1, 1, 3, -1}, NULL));
  CHECK(encode_offs_is(t, "[MASK", 5, NULL, (const int32_t[]){2, 1, 1, 3, -1}, NULL));
  /* the text around a special is normalized on its own: a mark after it starts a piece */
  const char *s3 = "[MASK]\xcc\x81" "a"; /* [MASK] U+0301 a: the mark is stripped */
  CHECK(encode_offs_is(t, s3, strlen(s3), NULL, (const int32_t[]){2, 4, 20, 3, -1},
                       (const int32_t[]){0, 0, 0, 6, 7, 8, 0, 0}));
  /* a NUL byte next to one (clean_text drops it) */
  CHECK(encode_offs_is(t, "\0[SEP]\0", 7, NULL, (const int32_t[]){2, 3, 3, -1}, (const int32_t[]){0, 0, 1, 6, 0, 0}));
  /* truncation counts them as tokens of the sequence */
  EtEncodeOptions eo;
  et_encode_options_init(&eo);
  eo.truncation = 1;
  eo.max_length = 4;
  CHECK(encode_offs_is(t, "[MASK] hello [SEP] world", 24, &eo, (const int32_t[]){2, 4, 5, 3, -1}, NULL));
  eo.max_length = 2;
  CHECK(encode_offs_is(t, "[MASK][MASK]", 12, &eo, (const int32_t[]){2, 3, -1}, NULL));
  /* errors still name the byte of the whole text, also after an early stop */
  int32_t ids[16], offs[32];
  EtEncoding enc = {ids, NULL, NULL, offs, 16, 0};
  EtError err;
  CHECK(et_encode(t, "[MASK]a\xff", 8, NULL, 0, NULL, &enc, &err) == ET_ERR_INVALID_UTF8 &&
        strstr(err.message, "byte 7") != NULL);
  CHECK(et_encode(t, "[MASK] a [SEP] \xff", 16, NULL, 0, &eo, &enc, &err) == ET_ERR_INVALID_UTF8 &&
        strstr(err.message, "byte 15") != NULL);
  /* split_special_tokens: ordinary text */
  EtTokenizerOptions o;
  et_tokenizer_options_init(&o);
  CHECK(o.split_special_tokens == 0 && o.mask_token == NULL);
  o.split_special_tokens = 1;
  EtTokenizer *split = NULL;
  CHECK(et_tokenizer_create_from_buffer(VOCAB, strlen(VOCAB), &o, &split, NULL) == ET_OK);
  if (split) CHECK(encode_offs_is(split, s1, strlen(s1), NULL, (const int32_t[]){2, 5, 1, 1, 1, 6, 3, -1}, NULL));
  et_tokenizer_delete(split);
  /* another mask token, absent from the vocabulary: "[MASK]" is text, nothing else changes */
  et_tokenizer_options_init(&o);
  o.mask_token = "<mask>";
  EtTokenizer *other = NULL;
  CHECK(et_tokenizer_create_from_buffer(VOCAB, strlen(VOCAB), &o, &other, NULL) == ET_OK);
  if (other) {
    CHECK(encode_offs_is(other, "[MASK][SEP]", 11, NULL, (const int32_t[]){2, 1, 1, 1, 3, 3, -1}, NULL));
    CHECK(encode_offs_is(other, "<mask>", 6, NULL, (const int32_t[]){2, 1, 1, 1, 3, -1}, NULL));
  }
  et_tokenizer_delete(other);
  /* a program built against the older layout (no split_special_tokens) gets the default */
  et_tokenizer_options_init(&o);
  o.struct_size = offsetof(EtTokenizerOptions, compiled_model_size) + sizeof(size_t);
  EtTokenizer *old = NULL;
  CHECK(et_tokenizer_create_from_buffer(VOCAB, strlen(VOCAB), &o, &old, NULL) == ET_OK);
  if (old) CHECK(encode_offs_is(old, "[MASK]", 6, NULL, (const int32_t[]){2, 4, 3, -1}, NULL));
  et_tokenizer_delete(old);
  et_tokenizer_delete(t);
  et_tokenizer_delete(cased);
}

int main(void) {
  test_special_tokens_in_text();
  test_basic_pipeline();
  test_offsets_are_characters();
  test_long_words_become_unk();
  test_invalid_utf8_is_an_error();
  test_buffer_too_small_reports_need();
  test_pair_truncation_longest_first();
  test_batch_equals_serial();
  test_vocab_errors();
  test_linmaxmatch_equals_greedy();
  test_encode_ids_call();
  test_ascii_word_offsets();
  test_abi_version();
  test_status_strings_and_ranges();
  test_struct_size_is_checked();
  test_short_max_length_is_not_an_error();
  test_every_status_is_returned();
  test_packed_batch_equals_pointer_batch();
  test_compiled_model_round_trip();
  test_compiled_model_refused();
  printf("%d passed, %d failed\n", g_pass, g_fail);
  return g_fail ? 1 : 0;
}
