/* The tokenizer handle: options, creation (vocabulary -> lookup tables ->
 * WordPiece model), deletion and the id lookups.  The tables it builds are
 * what the pipeline stages read on every text: the single-character token of
 * each BMP code point, and per ASCII byte its class (word, split,
 * punctuation, removed) and lowercase.  The WordPiece model is compiled
 * (wordpiece_builder) or, when the options carry a compiled model, read
 * (wordpiece_serialize).  Depends on status, vocab, wordpiece_builder and
 * wordpiece_serialize. */
#if defined(__linux__) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE /* syscall(): getrandom without needing glibc 2.25's wrapper */
#endif
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "et_status.h"
#include "et_tokenizer.h"
#include "et_utf8.h"
#include "et_vocab.h"
#include "et_wordpiece_builder.h"
#include "et_wordpiece_serialize.h"
#include "unicode_tables.h"

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#include <time.h>

/* The oldest EtTokenizerOptions layout this library reads (ABI 2's first
 * layout, up to compiled_model_size; mask_token and split_special_tokens
 * were appended later).  A field added later goes at the end, and this
 * stays. */
#define TOKENIZER_OPTIONS_MIN_SIZE (offsetof(EtTokenizerOptions, compiled_model_size) + sizeof(size_t))

void et_tokenizer_options_init(EtTokenizerOptions *o) {
  if (!o) return;
  memset(o, 0, sizeof(*o));
  o->struct_size = sizeof(*o);
  o->lowercase = 1;
  o->strip_accents = -1;
  o->tokenize_chinese_chars = 1;
  o->clean_text = 1;
  o->max_input_chars_per_word = 100;
}

/* A fresh seed for the keyed hashes (et_hash.h), from the OS: getrandom(2)
 * through syscall() (the glibc wrapper needs 2.25; manylinux2014 wheels may
 * only use 2.17), else /dev/urandom.  Where neither answers (a chroot
 * without /dev, seccomp), addresses (ASLR) and clocks: weaker, but still
 * unknown to whoever wrote the vocabulary in advance. */
static uint64_t draw_seed(const void *handle) {
  uint64_t seed = 0;
#if defined(__linux__) && defined(SYS_getrandom)
  if (syscall(SYS_getrandom, &seed, sizeof seed, 1 /* GRND_NONBLOCK */) == (long)sizeof seed && seed) return seed;
#endif
  FILE *f = fopen("/dev/urandom", "rb");
  if (f) {
    size_t got = fread(&seed, 1, sizeof seed, f);
    fclose(f);
    if (got == sizeof seed && seed) return seed;
  }
  struct timespec ts = {0, 0};
  timespec_get(&ts, TIME_UTC);
  uint64_t state = (uint64_t)(uintptr_t)handle ^ (uint64_t)(uintptr_t)&ts ^ (uint64_t)ts.tv_sec << 32 ^
                   (uint64_t)ts.tv_nsec ^ (uint64_t)clock();
  seed = et_splitmix64(&state);
  return seed ? seed : 1;
}

static int32_t special_id(const EtVocab *v, const char *tok) {
  return et_vocab_find(v, tok, strlen(tok));
}

/* The special tokens matched in the raw text (added_tokens.c): those of
 * the 5 in the vocabulary, once each, longest first (leftmost-longest). */
static void set_specials(EtTokenizer *t, const char *const names[5]) {
  t->n_special = 0;
  for (int k = 0; k < 5; k++) {
    size_t len = strlen(names[k]);
    int32_t id = len ? et_vocab_find(&t->vocab, names[k], len) : -1;
    if (id < 0 || len > UINT32_MAX) continue;
    int dup = 0;
    for (uint32_t j = 0; j < t->n_special; j++)
      dup |= t->special[j].len == len && memcmp(t->special[j].bytes, names[k], len) == 0;
    if (dup) continue;
    uint32_t at = t->n_special++;
    while (at > 0 && t->special[at - 1].len < len) { /* insertion: longest first, stable */
      t->special[at] = t->special[at - 1];
      at--;
    }
    t->special[at].bytes = t->vocab.bytes + t->vocab.tok_off[id];
    t->special[at].len = (uint32_t)len;
    uint32_t chars = 0;
    for (size_t i = 0; i < len; i++) chars += ((unsigned char)names[k][i] & 0xC0) != 0x80;
    t->special[at].chars = chars;
    t->special[at].id = id;
  }
  t->special_first = -1;
  memset(t->special_start, 0, sizeof t->special_start);
  for (uint32_t j = 0; j < t->n_special; j++) {
    unsigned char b = (unsigned char)t->special[j].bytes[0];
    t->special_start[b] = 1;
    t->special_first = j == 0 ? b : t->special_first == b ? b : -2;
  }
  if (t->special_first < 0) t->special_first = -1;
}

EtStatus et_tokenizer_create_from_buffer(const char *data, size_t size,
                                         const EtTokenizerOptions *options, EtTokenizer **out,
                                         EtError *err) {
  if (out) *out = NULL;
  if (!out || (!data && size)) {
    et_set_error(err, ET_ERR_INVALID_ARGUMENT, "NULL argument");
    return ET_ERR_INVALID_ARGUMENT;
  }
  EtTokenizerOptions o;
  et_tokenizer_options_init(&o);
  if (options) {
    EtStatus st = et_check_struct_size("EtTokenizerOptions", "et_tokenizer_options_init",
                                       options->struct_size, TOKENIZER_OPTIONS_MIN_SIZE, sizeof o, err);
    if (st != ET_OK) return st;
    memcpy(&o, options, options->struct_size); /* fields of a shorter (older) layout: defaults */
    o.struct_size = sizeof o;
  }
  if (o.strip_accents < -1 || o.strip_accents > 1 || o.max_input_chars_per_word == 0 ||
      (!o.compiled_model && o.compiled_model_size)) {
    et_set_error(err, ET_ERR_INVALID_ARGUMENT,
                 "invalid options (strip_accents must be -1, 0 or 1; max_input_chars_per_word > 0; "
                 "compiled_model_size without compiled_model)");
    return ET_ERR_INVALID_ARGUMENT;
  }
  const char *unk = o.unk_token ? o.unk_token : "[UNK]";
  const char *cls = o.cls_token ? o.cls_token : "[CLS]";
  const char *sep = o.sep_token ? o.sep_token : "[SEP]";
  const char *pad = o.pad_token ? o.pad_token : "[PAD]";
  const char *prefix = o.continuing_subword_prefix ? o.continuing_subword_prefix : "##";
  EtTokenizer *t = calloc(1, sizeof(EtTokenizer));
  if (!t) {
    et_set_error(err, ET_ERR_NO_MEMORY, "out of memory");
    return ET_ERR_NO_MEMORY;
  }
  uint64_t seed = o.hash_seed ? o.hash_seed : draw_seed(t);
  EtStatus st = et_vocab_parse(&t->vocab, data, size, seed, err);
  if (st != ET_OK) {
    free(t);
    return st;
  }
  t->unk_id = special_id(&t->vocab, unk);
  t->cls_id = special_id(&t->vocab, cls);
  t->sep_id = special_id(&t->vocab, sep);
  t->pad_id = special_id(&t->vocab, pad);
  if (!o.split_special_tokens) set_specials(t, (const char *[]){unk, cls, sep, pad, o.mask_token ? o.mask_token : "[MASK]"});
  const char *missing = t->unk_id < 0 ? unk : t->cls_id < 0 ? cls : t->sep_id < 0 ? sep : NULL;
  if (missing) {
    et_set_error(err, ET_ERR_VOCAB, "the vocabulary has no special token '%.64s' (%zu tokens read)",
                 missing, t->vocab.n_ids);
    et_vocab_free(&t->vocab);
    free(t);
    return ET_ERR_VOCAB;
  }
  t->prefix_len = strlen(prefix);
  t->prefix = malloc(t->prefix_len + 1);
  if (!t->prefix) {
    et_tokenizer_delete(t);
    et_set_error(err, ET_ERR_NO_MEMORY, "out of memory");
    return ET_ERR_NO_MEMORY;
  }
  memcpy(t->prefix, prefix, t->prefix_len + 1);
  if (o.compiled_model)
    st = et_wordpiece_load(&t->wp, &t->vocab, prefix, t->prefix_len, o.compiled_model,
                           o.compiled_model_size, seed, err);
  else
    st = et_wordpiece_build(&t->wp, &t->vocab, prefix, t->prefix_len, seed, err);
  if (st != ET_OK) {
    et_tokenizer_delete(t);
    return st;
  }
  t->lowercase = o.lowercase != 0;
  t->strip_accents = o.strip_accents < 0 ? t->lowercase : o.strip_accents;
  t->chinese = o.tokenize_chinese_chars != 0;
  t->clean_text = o.clean_text != 0;
  t->max_chars_per_word = o.max_input_chars_per_word;
  t->bmp_token = malloc(0x10000 * sizeof(int32_t));
  if (!t->bmp_token) {
    et_tokenizer_delete(t);
    et_set_error(err, ET_ERR_NO_MEMORY, "out of memory");
    return ET_ERR_NO_MEMORY;
  }
  for (size_t c = 0; c < 0x10000; c++) t->bmp_token[c] = -1;
  for (size_t id = 0; id < t->vocab.n_ids; id++) {
    if (t->vocab.tok_off[id] == UINT32_MAX || t->vocab.tok_len[id] == 0) continue;
    const unsigned char *s = (const unsigned char *)t->vocab.bytes + t->vocab.tok_off[id];
    size_t i = 0, n = t->vocab.tok_len[id];
    int32_t c = et_utf8_next(s, n, &i);
    if (c >= 0 && c < 0x10000 && i == n) t->bmp_token[c] = (int32_t)id;
  }
  for (uint32_t c = 0; c < 128; c++) {
    uint8_t f = et_uprop_of(c)->flags;
    uint8_t cl = ET_ASCII_WORD;
    if (t->clean_text && (f & ET_UF_REMOVE)) cl = ET_ASCII_REMOVE;
    else if ((t->clean_text && (f & ET_UF_SPACE)) || (f & ET_UF_WS)) cl = ET_ASCII_SPLIT;
    else if (f & ET_UF_PUNCT) cl = ET_ASCII_PUNCT;
    t->ascii_class[c] = cl;
    t->ascii_lower[c] = (unsigned char)((t->lowercase && c >= 'A' && c <= 'Z') ? c + 32 : c);
    t->word_byte[c] = cl == ET_ASCII_WORD ? t->ascii_lower[c] : 0;
  }
  *out = t;
  return ET_OK;
}

EtStatus et_tokenizer_create_from_file(const char *path, const EtTokenizerOptions *options,
                                       EtTokenizer **out, EtError *err) {
  if (out) *out = NULL;
  if (!path || !out) {
    et_set_error(err, ET_ERR_INVALID_ARGUMENT, "NULL argument");
    return ET_ERR_INVALID_ARGUMENT;
  }
  FILE *f = fopen(path, "rb");
  if (!f) {
    et_set_error(err, ET_ERR_IO, "cannot open vocabulary file '%.200s'", path);
    return ET_ERR_IO;
  }
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  while (buf) {
    size_t n = fread(buf + len, 1, cap - len, f);
    len += n;
    if (len < cap) break;
    char *nb = cap < ((size_t)1 << 31) ? realloc(buf, cap * 2) : NULL;
    if (!nb) {
      free(buf);
      buf = NULL;
      break;
    }
    buf = nb;
    cap *= 2;
  }
  int bad = ferror(f);
  fclose(f);
  if (!buf || bad) {
    free(buf);
    et_set_error(err, bad ? ET_ERR_IO : ET_ERR_NO_MEMORY, "cannot read vocabulary file '%.200s'", path);
    return bad ? ET_ERR_IO : ET_ERR_NO_MEMORY;
  }
  EtStatus st = et_tokenizer_create_from_buffer(buf, len, options, out, err);
  free(buf);
  return st;
}

void et_tokenizer_delete(EtTokenizer *t) {
  if (!t) return;
  free(t->bmp_token);
  free(t->prefix);
  et_wordpiece_free(&t->wp);
  et_vocab_free(&t->vocab);
  free(t);
}

size_t et_tokenizer_vocab_size(const EtTokenizer *t) { return t ? t->vocab.n_unique : 0; }

int32_t et_tokenizer_token_to_id(const EtTokenizer *t, const char *token, size_t size) {
  if (!t || (!token && size)) return -1;
  return et_vocab_find(&t->vocab, token ? token : "", size);
}

const char *et_tokenizer_id_to_token(const EtTokenizer *t, int32_t id, size_t *size) {
  if (size) *size = 0;
  if (!t || id < 0 || (size_t)id >= t->vocab.n_ids || t->vocab.tok_off[id] == UINT32_MAX) return NULL;
  if (size) *size = t->vocab.tok_len[id];
  return t->vocab.bytes + t->vocab.tok_off[id];
}

int32_t et_tokenizer_unk_id(const EtTokenizer *t) { return t ? t->unk_id : -1; }
int32_t et_tokenizer_cls_id(const EtTokenizer *t) { return t ? t->cls_id : -1; }
int32_t et_tokenizer_sep_id(const EtTokenizer *t) { return t ? t->sep_id : -1; }
int32_t et_tokenizer_pad_id(const EtTokenizer *t) { return t ? t->pad_id : -1; }

EtStatus et_tokenizer_save_model(const EtTokenizer *t, void *buffer, size_t capacity, size_t *size,
                                 EtError *err) {
  if (!t || !size || (!buffer && capacity)) {
    et_set_error(err, ET_ERR_INVALID_ARGUMENT, "NULL argument");
    return ET_ERR_INVALID_ARGUMENT;
  }
  *size = et_wordpiece_saved_size(&t->wp);
  if (capacity < *size) {
    et_set_error(err, ET_ERR_BUFFER_TOO_SMALL, "the compiled model needs %zu bytes, capacity is %zu",
                 *size, capacity);
    return ET_ERR_BUFFER_TOO_SMALL;
  }
  et_wordpiece_save(&t->wp, &t->vocab, t->prefix, t->prefix_len, buffer);
  return ET_OK;
}
