/* The public API: tokenizer creation, encode (single / pair), HF-style
 * truncation and padding, and the multi-threaded batch encoder. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "et_internal.h"
#include "unicode_tables.h"

#if !defined(ET_NO_THREADS)
#include <pthread.h>
#include <unistd.h>
#endif

void et_set_error(EtError *err, EtStatus status, const char *fmt, ...) {
  if (!err) return;
  err->status = status;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof(err->message), fmt, ap);
  va_end(ap);
}

const char *et_status_string(EtStatus status) {
  switch (status) {
    case ET_OK: return "ok";
    case ET_ERR_INVALID_ARGUMENT: return "invalid argument";
    case ET_ERR_INVALID_UTF8: return "invalid UTF-8";
    case ET_ERR_NO_MEMORY: return "out of memory";
    case ET_ERR_IO: return "cannot read file";
    case ET_ERR_VOCAB: return "invalid vocabulary";
    case ET_ERR_BUFFER_TOO_SMALL: return "output buffer too small";
    case ET_ERR_TRUNCATION: return "max_length too small";
    case ET_ERR_THREAD: return "cannot start thread";
  }
  return "unknown status";
}

const char *et_unicode_version(void) { return ET_UNICODE_VERSION; }

void et_tokenizer_options_init(EtTokenizerOptions *o) {
  if (!o) return;
  memset(o, 0, sizeof(*o));
  o->lowercase = 1;
  o->strip_accents = -1;
  o->tokenize_chinese_chars = 1;
  o->clean_text = 1;
  o->max_input_chars_per_word = 100;
}

void et_encode_options_init(EtEncodeOptions *o) {
  if (!o) return;
  memset(o, 0, sizeof(*o));
  o->add_special_tokens = 1;
}

static int32_t special_id(const EtVocab *v, const char *tok) {
  return et_vocab_find(v, tok, strlen(tok));
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
  if (options) o = *options;
  else et_tokenizer_options_init(&o);
  if (o.strip_accents < -1 || o.strip_accents > 1 || o.max_input_chars_per_word == 0) {
    et_set_error(err, ET_ERR_INVALID_ARGUMENT,
                 "invalid options (strip_accents must be -1, 0 or 1; max_input_chars_per_word > 0)");
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
  EtStatus st = et_vocab_parse(&t->vocab, data, size, err);
  if (st != ET_OK) {
    free(t);
    return st;
  }
  t->unk_id = special_id(&t->vocab, unk);
  t->cls_id = special_id(&t->vocab, cls);
  t->sep_id = special_id(&t->vocab, sep);
  t->pad_id = special_id(&t->vocab, pad);
  const char *missing = t->unk_id < 0 ? unk : t->cls_id < 0 ? cls : t->sep_id < 0 ? sep : NULL;
  if (missing) {
    et_set_error(err, ET_ERR_VOCAB, "the vocabulary has no special token '%.64s' (%zu tokens read)",
                 missing, t->vocab.n_ids);
    et_vocab_free(&t->vocab);
    free(t);
    return ET_ERR_VOCAB;
  }
  st = et_wordpiece_build(&t->wp, &t->vocab, prefix, strlen(prefix), err);
  if (st != ET_OK) {
    et_vocab_free(&t->vocab);
    free(t);
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

/* Tokens of one (text, pair) example with specials, truncation and padding
 * applied; row layout written through the callback-free writer below. */
typedef struct {
  EtTokenList a, b;
} Scratch;

static EtStatus encode_lists(const EtTokenizer *t, const char *text, size_t text_size,
                             const char *pair, size_t pair_size, const EtEncodeOptions *o,
                             Scratch *s, size_t *n1, size_t *n2, EtError *err) {
  s->a.len = 0;
  s->b.len = 0;
  if ((!text && text_size) || (!pair && pair_size)) {
    et_set_error(err, ET_ERR_INVALID_ARGUMENT, "NULL text with a non-zero size");
    return ET_ERR_INVALID_ARGUMENT;
  }
  EtStatus st = et_tokenize_sequence(t, text ? text : "", text_size, &s->a, err);
  if (st != ET_OK) return st;
  int is_pair = pair != NULL;
  if (is_pair) {
    st = et_tokenize_sequence(t, pair, pair_size, &s->b, err);
    if (st != ET_OK) {
      if (err) {
        char msg[sizeof err->message];
        snprintf(msg, sizeof msg, "text_pair: %.200s", err->message);
        memcpy(err->message, msg, sizeof msg);
      }
      return st;
    }
  }
  *n1 = s->a.len;
  *n2 = s->b.len;
  size_t added = o->add_special_tokens ? (is_pair ? 3 : 2) : 0;
  /* HF: a max_length smaller than the special tokens truncates nothing
   * (its budget max_length - added wraps around) */
  if (o->truncation && o->max_length > 0 && o->max_length >= added)
    truncate_lengths(o->max_length - added, n1, n2, is_pair);
  return ET_OK;
}

static size_t row_length(const EtEncodeOptions *o, int is_pair, size_t n1, size_t n2) {
  size_t n = n1 + n2 + (o->add_special_tokens ? (is_pair ? 3 : 2) : 0);
  if (o->padding == ET_PAD_TO_MAX_LENGTH && o->max_length > n) n = o->max_length;
  return n;
}

static void write_row(const EtTokenizer *t, const EtEncodeOptions *o, const Scratch *s, int is_pair,
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
  if (options) o = *options;
  else et_encode_options_init(&o);
  EtToken abuf[256], bbuf[64]; /* most texts need no heap allocation */
  Scratch s = {{abuf, 0, 256, abuf}, {bbuf, 0, 64, bbuf}};
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

/* ---- batch ---- */
struct EtBatch {
  size_t n, total, max_len;
  size_t *starts; /* n + 1 */
  int32_t *ids, *types, *offsets;
  int32_t pad_id;
};

typedef struct {
  const EtTokenizer *t;
  const EtEncodeOptions *o;
  const char *const *texts, *const *pairs; /* pointer form, or NULL */
  const size_t *text_sizes, *pair_sizes;
  const char *data, *pair_data; /* packed form */
  const size_t *bounds, *pair_bounds;
  size_t begin, end;
  /* per-row results of this worker, concatenated */
  EtTokenList ids;  /* id in .id, type in .start, unused .end */
  int32_t *offs;
  size_t offs_cap;
  size_t *lens;
  EtStatus st;
  size_t failed_row;
  EtError err;
} Worker;

static void *worker_run(void *arg) {
  Worker *w = arg;
  Scratch s = {{NULL, 0, 0, NULL}, {NULL, 0, 0, NULL}};
  int32_t *rid = NULL, *rty = NULL, *rof = NULL;
  size_t rcap = 0;
  w->st = ET_OK;
  for (size_t i = w->begin; i < w->end; i++) {
    size_t n1 = 0, n2 = 0;
    const char *text, *pair = NULL;
    size_t text_size, pair_size = 0;
    if (w->texts) {
      text = w->texts[i];
      text_size = w->text_sizes[i];
      if (w->pairs) {
        pair = w->pairs[i] ? w->pairs[i] : "";
        pair_size = w->pairs[i] ? w->pair_sizes[i] : 0;
      }
    } else {
      text = w->data + w->bounds[i];
      text_size = w->bounds[i + 1] - w->bounds[i];
      if (w->pair_data) {
        pair = w->pair_data + w->pair_bounds[i];
        pair_size = w->pair_bounds[i + 1] - w->pair_bounds[i];
      }
    }
    EtStatus st = encode_lists(w->t, text, text_size, pair, pair_size, w->o, &s, &n1, &n2, &w->err);
    if (st != ET_OK) {
      w->st = st;
      w->failed_row = i;
      break;
    }
    EtEncodeOptions o = *w->o;
    size_t n = row_length(&o, pair != NULL, n1, n2);
    if (n > rcap) {
      size_t cap = n * 2;
      int32_t *a = realloc(rid, cap * sizeof(int32_t));
      if (a) rid = a;
      int32_t *b = realloc(rty, cap * sizeof(int32_t));
      if (b) rty = b;
      int32_t *c = realloc(rof, cap * 2 * sizeof(int32_t));
      if (c) rof = c;
      if (!a || !b || !c) {
        w->st = ET_ERR_NO_MEMORY;
        et_set_error(&w->err, ET_ERR_NO_MEMORY, "out of memory");
        break;
      }
      rcap = cap;
    }
    write_row(w->t, &o, &s, pair != NULL, n1, n2, rid, rty, NULL, rof);
    if (w->ids.len + n > w->offs_cap) {
      size_t cap = (w->ids.len + n) * 2;
      int32_t *c = realloc(w->offs, cap * 2 * sizeof(int32_t));
      if (!c) {
        w->st = ET_ERR_NO_MEMORY;
        et_set_error(&w->err, ET_ERR_NO_MEMORY, "out of memory");
        break;
      }
      w->offs = c;
      w->offs_cap = cap;
    }
    memcpy(w->offs + 2 * w->ids.len, rof, n * 2 * sizeof(int32_t));
    int oom = 0;
    for (size_t k = 0; k < n && !oom; k++) oom = et_tokens_push(&w->ids, rid[k], (uint32_t)rty[k], 0);
    if (oom) {
      w->st = ET_ERR_NO_MEMORY;
      et_set_error(&w->err, ET_ERR_NO_MEMORY, "out of memory");
      break;
    }
    w->lens[i - w->begin] = n;
  }
  free(s.a.items);
  free(s.b.items);
  free(rid);
  free(rty);
  free(rof);
  return NULL;
}

static size_t cpu_count(void) {
#if !defined(ET_NO_THREADS) && defined(_SC_NPROCESSORS_ONLN)
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (size_t)n : 1;
#else
  return 1;
#endif
}

void et_batch_delete(EtBatch *b) {
  if (!b) return;
  free(b->starts);
  free(b->ids);
  free(b->types);
  free(b->offsets);
  free(b);
}

static EtStatus run_batch(const EtTokenizer *t, size_t n, const Worker *proto,
                          const EtEncodeOptions *options, size_t num_threads, EtBatch **out,
                          EtError *err);

EtStatus et_encode_batch(const EtTokenizer *t, size_t n, const char *const *texts,
                         const size_t *text_sizes, const char *const *pairs,
                         const size_t *pair_sizes, const EtEncodeOptions *options,
                         size_t num_threads, EtBatch **out, EtError *err) {
  if (out) *out = NULL;
  if (!t || !out || (n && (!texts || !text_sizes)) || (pairs && !pair_sizes)) {
    et_set_error(err, ET_ERR_INVALID_ARGUMENT, "NULL argument");
    return ET_ERR_INVALID_ARGUMENT;
  }
  static const char *const empty[1] = {""};
  static const size_t zero[1] = {0};
  Worker proto;
  memset(&proto, 0, sizeof proto);
  proto.texts = n ? texts : empty; /* non-NULL selects the pointer form */
  proto.text_sizes = n ? text_sizes : zero;
  proto.pairs = pairs;
  proto.pair_sizes = pair_sizes;
  return run_batch(t, n, &proto, options, num_threads, out, err);
}

EtStatus et_encode_batch_packed(const EtTokenizer *t, size_t n, const char *data,
                                const size_t *bounds, const char *pair_data,
                                const size_t *pair_bounds, const EtEncodeOptions *options,
                                size_t num_threads, EtBatch **out, EtError *err) {
  if (out) *out = NULL;
  if (!t || !out || !bounds || (!data && n && bounds[n] > bounds[0]) || (pair_data && !pair_bounds)) {
    et_set_error(err, ET_ERR_INVALID_ARGUMENT, "NULL argument");
    return ET_ERR_INVALID_ARGUMENT;
  }
  for (size_t i = 0; i < n; i++)
    if (bounds[i + 1] < bounds[i] || (pair_data && pair_bounds[i + 1] < pair_bounds[i])) {
      et_set_error(err, ET_ERR_INVALID_ARGUMENT, "bounds must not decrease (text %zu)", i);
      return ET_ERR_INVALID_ARGUMENT;
    }
  Worker proto;
  memset(&proto, 0, sizeof proto);
  proto.data = data ? data : "";
  proto.bounds = bounds;
  proto.pair_data = pair_data;
  proto.pair_bounds = pair_bounds;
  return run_batch(t, n, &proto, options, num_threads, out, err);
}

static EtStatus run_batch(const EtTokenizer *t, size_t n, const Worker *proto,
                          const EtEncodeOptions *options, size_t num_threads, EtBatch **out,
                          EtError *err) {
  EtEncodeOptions o;
  if (options) o = *options;
  else et_encode_options_init(&o);
  o.padding = ET_PAD_NONE; /* rows stay ragged; et_batch_fill_* pads */
  if (num_threads == 0) num_threads = cpu_count();
  if (num_threads > n) num_threads = n ? n : 1;
  if (num_threads > 256) num_threads = 256;
  Worker *ws = calloc(num_threads, sizeof(Worker));
  size_t *lens = calloc(n ? n : 1, sizeof(size_t));
  EtBatch *b = calloc(1, sizeof(EtBatch));
  if (!ws || !lens || !b) {
    free(ws);
    free(lens);
    free(b);
    et_set_error(err, ET_ERR_NO_MEMORY, "out of memory");
    return ET_ERR_NO_MEMORY;
  }
  for (size_t k = 0; k < num_threads; k++) {
    Worker *w = &ws[k];
    *w = *proto;
    w->t = t;
    w->o = &o;
    w->begin = n * k / num_threads;
    w->end = n * (k + 1) / num_threads;
    w->lens = lens + w->begin;
  }
  EtStatus st = ET_OK;
#if !defined(ET_NO_THREADS)
  pthread_t *th = calloc(num_threads, sizeof(pthread_t));
  size_t started = 0;
  if (!th) st = ET_ERR_NO_MEMORY;
  for (size_t k = 1; th && k < num_threads; k++) {
    if (pthread_create(&th[k], NULL, worker_run, &ws[k]) != 0) {
      st = ET_ERR_THREAD;
      break;
    }
    started = k;
  }
  if (th) worker_run(&ws[0]);
  for (size_t k = 1; th && k <= started; k++) pthread_join(th[k], NULL);
  free(th);
  if (st == ET_ERR_THREAD) et_set_error(err, st, "cannot start a worker thread");
  else if (st == ET_ERR_NO_MEMORY) et_set_error(err, st, "out of memory");
#else
  for (size_t k = 0; k < num_threads; k++) worker_run(&ws[k]);
#endif
  for (size_t k = 0; st == ET_OK && k < num_threads; k++) {
    if (ws[k].st != ET_OK) {
      st = ws[k].st;
      if (err) {
        *err = ws[k].err;
        char msg[256];
        snprintf(msg, sizeof msg, "text %zu: %.200s", ws[k].failed_row, ws[k].err.message);
        memcpy(err->message, msg, sizeof msg);
      }
    }
  }
  if (st == ET_OK) {
    size_t total = 0, maxl = 0;
    for (size_t k = 0; k < num_threads; k++) total += ws[k].ids.len;
    b->n = n;
    b->total = total;
    b->pad_id = t->pad_id >= 0 ? t->pad_id : 0;
    b->starts = malloc((n + 1) * sizeof(size_t));
    b->ids = malloc((total ? total : 1) * sizeof(int32_t));
    b->types = malloc((total ? total : 1) * sizeof(int32_t));
    b->offsets = malloc((total ? total : 1) * 2 * sizeof(int32_t));
    if (!b->starts || !b->ids || !b->types || !b->offsets) {
      st = ET_ERR_NO_MEMORY;
      et_set_error(err, st, "out of memory");
    } else {
      size_t pos = 0;
      for (size_t i = 0; i < n; i++) {
        b->starts[i] = pos;
        pos += lens[i];
        if (lens[i] > maxl) maxl = lens[i];
      }
      b->starts[n] = pos;
      b->max_len = maxl;
      pos = 0;
      for (size_t k = 0; k < num_threads; k++) {
        Worker *w = &ws[k];
        for (size_t j = 0; j < w->ids.len; j++) {
          b->ids[pos + j] = w->ids.items[j].id;
          b->types[pos + j] = (int32_t)w->ids.items[j].start;
        }
        if (w->ids.len) memcpy(b->offsets + 2 * pos, w->offs, w->ids.len * 2 * sizeof(int32_t));
        pos += w->ids.len;
      }
    }
  }
  for (size_t k = 0; k < num_threads; k++) {
    free(ws[k].ids.items);
    free(ws[k].offs);
  }
  free(ws);
  free(lens);
  if (st != ET_OK) {
    et_batch_delete(b);
    return st;
  }
  *out = b;
  return ET_OK;
}

size_t et_batch_size(const EtBatch *b) { return b ? b->n : 0; }
size_t et_batch_total_tokens(const EtBatch *b) { return b ? b->total : 0; }
size_t et_batch_max_length(const EtBatch *b) { return b ? b->max_len : 0; }
const int32_t *et_batch_all_ids(const EtBatch *b) { return b ? b->ids : NULL; }
const size_t *et_batch_row_starts(const EtBatch *b) { return b ? b->starts : NULL; }

size_t et_batch_row(const EtBatch *b, size_t i, const int32_t **ids, const int32_t **types,
                    const int32_t **offsets) {
  if (!b || i >= b->n) return 0;
  size_t s = b->starts[i];
  if (ids) *ids = b->ids + s;
  if (types) *types = b->types + s;
  if (offsets) *offsets = b->offsets + 2 * s;
  return b->starts[i + 1] - s;
}

#define FILL_IMPL(NAME, T)                                                                   \
  void NAME(const EtBatch *b, size_t width, T *ids, T *types, T *mask, T *offs) {           \
    if (!b) return;                                                                         \
    for (size_t i = 0; i < b->n; i++) {                                                     \
      size_t s = b->starts[i], len = b->starts[i + 1] - s;                                  \
      if (len > width) len = width;                                                         \
      size_t r = i * width;                                                                 \
      for (size_t k = 0; k < width; k++) {                                                  \
        int in = k < len;                                                                   \
        if (ids) ids[r + k] = in ? (T)b->ids[s + k] : (T)b->pad_id;                         \
        if (types) types[r + k] = in ? (T)b->types[s + k] : 0;                              \
        if (mask) mask[r + k] = in;                                                         \
        if (offs) {                                                                         \
          offs[2 * (r + k)] = in ? (T)b->offsets[2 * (s + k)] : 0;                          \
          offs[2 * (r + k) + 1] = in ? (T)b->offsets[2 * (s + k) + 1] : 0;                  \
        }                                                                                   \
      }                                                                                     \
    }                                                                                       \
  }
FILL_IMPL(et_batch_fill_i64, int64_t)
FILL_IMPL(et_batch_fill_i32, int32_t)
