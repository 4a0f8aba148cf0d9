/* Batches: n examples encoded by up to num_threads threads (pthreads, each
 * worker a contiguous range of rows, the calling thread one of them), rows
 * kept ragged in an EtBatch, then padded into dense matrices on request
 * (et_batch_fill_*).  Build with -DET_NO_THREADS for targets without
 * pthreads (the workers then run one after another).  Depends on status,
 * tokens and encode. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgetext_bindings.h"
#include "et_encode.h"
#include "et_status.h"
#include "et_tokenizer.h"
#include "et_tokens.h"

#if !defined(ET_NO_THREADS)
#include <pthread.h>
#include <unistd.h>
#endif

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
  EtPairTokens s = {{NULL, 0, 0, NULL}, {NULL, 0, 0, NULL}};
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
    EtStatus st = et_encode_tokens(w->t, text, text_size, pair, pair_size, w->o, &s, &n1, &n2, &w->err);
    if (st != ET_OK) {
      w->st = st;
      w->failed_row = i;
      break;
    }
    EtEncodeOptions o = *w->o;
    size_t n = et_encode_row_length(&o, pair != NULL, n1, n2);
    if (n > rcap) {
      size_t cap = n * 2;
      if (n > SIZE_MAX / (4 * sizeof(int32_t))) cap = 0; /* cannot be allocated */
      int32_t *a = cap ? realloc(rid, cap * sizeof(int32_t)) : NULL;
      if (a) rid = a;
      int32_t *b = cap ? realloc(rty, cap * sizeof(int32_t)) : NULL;
      if (b) rty = b;
      int32_t *c = cap ? realloc(rof, cap * 2 * sizeof(int32_t)) : NULL;
      if (c) rof = c;
      if (!a || !b || !c) {
        w->st = ET_ERR_NO_MEMORY;
        et_set_error(&w->err, ET_ERR_NO_MEMORY, "out of memory");
        break;
      }
      rcap = cap;
    }
    et_encode_write_row(w->t, &o, &s, pair != NULL, n1, n2, rid, rty, NULL, rof);
    if (w->ids.len + n > w->offs_cap) {
      size_t cap = (w->ids.len + n) * 2;
      int32_t *c = w->ids.len + n <= SIZE_MAX / (4 * sizeof(int32_t))
                       ? realloc(w->offs, cap * 2 * sizeof(int32_t)) : NULL;
      if (!c) {
        w->st = ET_ERR_NO_MEMORY;
        et_set_error(&w->err, ET_ERR_NO_MEMORY, "out of memory");
        break;
      }
      w->offs = c;
      w->offs_cap = cap;
    }
    /* n == 0 (an empty text without special tokens): rof and w->offs may
     * still be NULL, and memcpy's pointers must be valid even for 0 bytes */
    if (n) memcpy(w->offs + 2 * w->ids.len, rof, n * 2 * sizeof(int32_t));
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
  EtStatus st = et_encode_read_options(options, &o, err);
  if (st != ET_OK) return st;
  o.padding = ET_PAD_NONE; /* rows stay ragged; et_batch_fill_* pads */
  /* the row tables (lens, starts: n + 1 size_t each) must be computable
   * without overflow; refuse before asking the allocator for ~2^64 bytes */
  if (n >= SIZE_MAX / (4 * sizeof(size_t))) {
    et_set_error(err, ET_ERR_NO_MEMORY, "out of memory (a batch of %zu texts)", n);
    return ET_ERR_NO_MEMORY;
  }
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
