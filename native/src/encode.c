/* One example -> one row: a text (or a pair) through the pipeline
 * (pretokenize.c), then HF's post-processing: longest-first truncation, the
 * [CLS] A [SEP] (B [SEP]) template, type ids, attention mask, offsets and
 * padding to max_length.  The row steps are shared with batch.c
 * (et_encode.h).  Depends on status, tokens and added_tokens. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgetext_bindings.h"
#include "et_encode.h"
#include "et_added_tokens.h"
#include "et_status.h"
#include "et_tokenizer.h"
#include "et_tokens.h"

/* The oldest EtEncodeOptions layout this library reads (ABI 2: all of
 * today's fields).  A field added later goes at the end, and this stays. */
#define ENCODE_OPTIONS_MIN_SIZE sizeof(EtEncodeOptions)

void et_encode_options_init(EtEncodeOptions *o) {
  if (!o) return;
  memset(o, 0, sizeof(*o));
  o->struct_size = sizeof(*o);
  o->add_special_tokens = 1;
}

EtStatus et_encode_read_options(const EtEncodeOptions *options, EtEncodeOptions *o, EtError *err) {
  et_encode_options_init(o);
  if (!options) return ET_OK;
  EtStatus st = et_check_struct_size("EtEncodeOptions", "et_encode_options_init",
                                     options->struct_size, ENCODE_OPTIONS_MIN_SIZE, sizeof *o, err);
  if (st != ET_OK) return st;
  memcpy(o, options, options->struct_size); /* fields of a shorter (older) layout: defaults */
  o->struct_size = sizeof *o;
  return ET_OK;
}

/* HF truncate_encodings (longest_first) on the sequence lengths, with
 * max_length already reduced by the special tokens. */
static void truncate_lengths(size_t max_len, size_t *n1, size_t *n2, int pair) {
  size_t total = *n1 + (pair ? *n2 : 0);
  if (max_len == 0) {
    *n1 = 0;
    *n2 = 0;
    return;
  }
  if (total <= max_len) return;
  if (!pair) {
    *n1 = max_len;
    return;
  }
  size_t a = *n1, b = *n2;
  int swap = 0;
  if (a > b) {
    size_t x = a;
    a = b;
    b = x;
    swap = 1;
  }
  if (a > max_len) b = a;
  else b = (max_len - a) > a ? (max_len - a) : a;
  if (a + b > max_len) {
    a = max_len / 2;
    b = a + max_len % 2;
  }
  if (swap) {
    size_t x = a;
    a = b;
    b = x;
  }
  if (a < *n1) *n1 = a;
  if (b < *n2) *n2 = b;
}

/* How many tokens of each sequence truncation can need (SIZE_MAX: all), so
 * that tokenizing stops there (et_tokenize_text).  Exact, not a
 * heuristic: truncate_lengths gives the same result on min(n, cap) as on n.
 * A single text keeps min(n1, budget).  For a pair, longest-first keeps at
 * most budget of each, but which sequence is longer still matters when both
 * exceed the budget (the odd token goes to the longer one), so the cap is
 * budget + 1 and that one case (both reach the cap, budget odd) needs the
 * full counts (checked exhaustively for budgets < 40, lengths < 90). */
static inline size_t token_cap(const EtEncodeOptions *o, int is_pair, size_t *budget) {
  size_t added = o->add_special_tokens ? (is_pair ? 3 : 2) : 0;
  /* HF: a max_length smaller than the special tokens truncates nothing
   * (its budget max_length - added wraps around) */
  if (!o->truncation || o->max_length == 0 || o->max_length < added) return SIZE_MAX;
  *budget = o->max_length - added;
  return is_pair ? *budget + 1 : *budget;
}

static inline EtStatus tokenize_pair(const EtTokenizer *t, const char *text, size_t text_size, const char *pair,
                              size_t pair_size, size_t cap, EtPairTokens *s, EtError *err) {
  s->a.len = 0;
  s->b.len = 0;
  EtStatus st = et_tokenize_text(t, text ? text : "", text_size, cap, &s->a, err);
  if (st != ET_OK || !pair) return st;
  st = et_tokenize_text(t, pair, pair_size, cap, &s->b, err);
  if (st != ET_OK && err) {
    char msg[sizeof err->message];
    snprintf(msg, sizeof msg, "text_pair: %.200s", err->message);
    memcpy(err->message, msg, sizeof msg);
  }
  return st;
}

static EtStatus encode_lists(const EtTokenizer *t, const char *text, size_t text_size,
                             const char *pair, size_t pair_size, const EtEncodeOptions *o,
                             EtPairTokens *s, size_t *n1, size_t *n2, EtError *err) {
  s->a.len = 0;
  s->b.len = 0;
  if ((!text && text_size) || (!pair && pair_size)) {
    et_set_error(err, ET_ERR_INVALID_ARGUMENT, "NULL text with a non-zero size");
    return ET_ERR_INVALID_ARGUMENT;
  }
  int is_pair = pair != NULL;
  size_t budget = 0, cap = token_cap(o, is_pair, &budget);
  int truncate = cap != SIZE_MAX;
  EtStatus st = tokenize_pair(t, text, text_size, pair, pair_size, cap, s, err);
  if (st != ET_OK) return st;
  if (is_pair && truncate && budget % 2 && s->a.len >= cap && s->b.len >= cap) {
    cap = SIZE_MAX; /* both longer than the budget: which one is longer decides */
    st = tokenize_pair(t, text, text_size, pair, pair_size, cap, s, err);
    if (st != ET_OK) return st;
  }
  /* a sequence that stopped early counts as cap tokens (it has at least that many) */
  *n1 = s->a.len < cap ? s->a.len : cap;
  *n2 = s->b.len < cap ? s->b.len : cap;
  if (truncate) truncate_lengths(budget, n1, n2, is_pair);
  return ET_OK;
}

static size_t row_length(const EtEncodeOptions *o, int is_pair, size_t n1, size_t n2) {
  size_t n = n1 + n2 + (o->add_special_tokens ? (is_pair ? 3 : 2) : 0);
  if (o->padding == ET_PAD_TO_MAX_LENGTH && o->max_length > n) n = o->max_length;
  return n;
}

static void write_row(const EtTokenizer *t, const EtEncodeOptions *o, const EtPairTokens *s, int is_pair,
                      size_t n1, size_t n2, int32_t *ids, int32_t *types, int32_t *mask,
                      int32_t *offs) {
  size_t k = 0;
  int sp = o->add_special_tokens;
  if (!types && !mask && !offs && !is_pair) { /* ids only (et_encode_ids) */
    if (sp) ids[k++] = t->cls_id;
    for (size_t i = 0; i < n1; i++) ids[k++] = s->a.items[i].id;
    if (sp) ids[k++] = t->sep_id;
    size_t n = row_length(o, 0, n1, 0);
    while (k < n) ids[k++] = t->pad_id >= 0 ? t->pad_id : 0;
    return;
  }
#define PUT(ID, TY, M, S, E)      \
  do {                            \
    ids[k] = (ID);                \
    if (types) types[k] = (TY);   \
    if (mask) mask[k] = (M);      \
    if (offs) {                   \
      offs[2 * k] = (int32_t)(S); \
      offs[2 * k + 1] = (int32_t)(E); \
    }                             \
    k++;                          \
  } while (0)
  if (sp) PUT(t->cls_id, 0, 1, 0, 0);
  for (size_t i = 0; i < n1; i++) PUT(s->a.items[i].id, 0, 1, s->a.items[i].start, s->a.items[i].end);
  if (sp) PUT(t->sep_id, 0, 1, 0, 0);
  if (is_pair) {
    for (size_t i = 0; i < n2; i++)
      PUT(s->b.items[i].id, 1, 1, s->b.items[i].start, s->b.items[i].end);
    if (sp) PUT(t->sep_id, 1, 1, 0, 0);
  }
  size_t n = row_length(o, is_pair, n1, n2);
  while (k < n) PUT(t->pad_id >= 0 ? t->pad_id : 0, 0, 0, 0, 0);
#undef PUT
}

EtStatus et_encode(const EtTokenizer *t, const char *text, size_t text_size, const char *pair,
                   size_t pair_size, const EtEncodeOptions *options, EtEncoding *out,
                   EtError *err) {
  if (!t || !out || !out->ids) {
    et_set_error(err, ET_ERR_INVALID_ARGUMENT, "NULL tokenizer or output");
    return ET_ERR_INVALID_ARGUMENT;
  }
  EtEncodeOptions o;
  if (options && options->struct_size == sizeof o) {
    o = *options;
  } else {
    EtStatus st = et_encode_read_options(options, &o, err);
    if (st != ET_OK) return st;
  }
  EtToken abuf[256], bbuf[64]; /* most texts need no heap allocation */
  EtPairTokens s = {{abuf, 0, 256, abuf}, {bbuf, 0, 64, bbuf}};
  size_t n1 = 0, n2 = 0;
  EtStatus st = encode_lists(t, text, text_size, pair, pair_size, &o, &s, &n1, &n2, err);
  if (st == ET_OK) {
    size_t n = row_length(&o, pair != NULL, n1, n2);
    out->length = n;
    if (n > out->capacity) {
      et_set_error(err, ET_ERR_BUFFER_TOO_SMALL, "output needs %zu tokens, capacity is %zu", n,
                   out->capacity);
      st = ET_ERR_BUFFER_TOO_SMALL;
    } else {
      write_row(t, &o, &s, pair != NULL, n1, n2, out->ids, out->type_ids, out->attention_mask,
                out->offsets);
    }
  }
  et_tokens_release(&s.a);
  et_tokens_release(&s.b);
  return st;
}

EtStatus et_encode_ids(const EtTokenizer *t, const char *text, size_t text_size,
                       const EtEncodeOptions *options, int32_t *ids, size_t capacity,
                       size_t *length, EtError *err) {
  if (!length) {
    et_set_error(err, ET_ERR_INVALID_ARGUMENT, "NULL length");
    return ET_ERR_INVALID_ARGUMENT;
  }
  EtEncoding enc = {ids, NULL, NULL, NULL, capacity, 0};
  EtStatus st = et_encode(t, text, text_size, NULL, 0, options, &enc, err);
  *length = enc.length;
  return st;
}

int64_t et_encode_ids_call(EtIdsCall *c, const char *text, size_t text_size) {
  if (!c) return -(int64_t)ET_ERR_INVALID_ARGUMENT;
  EtStatus st = et_encode_ids(c->tokenizer, text, text_size, c->options, c->ids, c->capacity,
                              &c->length, c->err);
  return st == ET_OK ? (int64_t)c->length : -(int64_t)st;
}

/* for batch.c (et_encode.h); et_encode above uses the static versions */
EtStatus et_encode_tokens(const EtTokenizer *t, const char *text, size_t text_size, const char *pair,
                          size_t pair_size, const EtEncodeOptions *o, EtPairTokens *s, size_t *n1,
                          size_t *n2, EtError *err) {
  return encode_lists(t, text, text_size, pair, pair_size, o, s, n1, n2, err);
}

size_t et_encode_row_length(const EtEncodeOptions *o, int is_pair, size_t n1, size_t n2) {
  return row_length(o, is_pair, n1, n2);
}

void et_encode_write_row(const EtTokenizer *t, const EtEncodeOptions *o, const EtPairTokens *s,
                         int is_pair, size_t n1, size_t n2, int32_t *ids, int32_t *types,
                         int32_t *mask, int32_t *offs) {
  write_row(t, o, s, is_pair, n1, n2, ids, types, mask, offs);
}
