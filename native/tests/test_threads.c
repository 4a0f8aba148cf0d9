/* One tokenizer shared by many threads at once (edgetext.h: "any number of
 * threads may encode with one handle at the same time, with no locking").
 * Each thread runs et_encode (single and pair, truncation, padding),
 * et_encode_ids_call and et_encode_batch / et_encode_batch_packed (which
 * start their own workers) over the same texts, and compares every row with
 * the results computed serially before the threads start.  Built plain (part
 * of `make test`) and with -fsanitize=thread (`make tsan`), where any data
 * race in the library is reported.  Prints "N passed, M failed". */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgetext.h"
#include "edgetext_bindings.h"

static const char VOCAB[] =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\nworld\n##s\n##ing\nplay\n,\n!\n\xe4\xb8\xad\n\xe5\x9b\xbd\na\n##a\nab\n"
    "caf\xc3\xa9\ncafe\n##\xe3\x80\xaf\n";
static const char *TEXTS[] = {
    "Hello, World!", "playing plays", "中国 hello", "", "CAFÉ café", "aaaa ab abab",
    "a\xcc\x81\xcc\x96\xe3\x80\xaf hello", "\xc3\xa1\xe3\x80\xaf", "hello world hello world hello world",
    "x\xcc\x81\xcc\x81\xcc\x81\xcc\x96\xcc\x96 unknownword!!",
};
enum { N_TEXTS = sizeof TEXTS / sizeof TEXTS[0], THREADS = 6, ROUNDS = 40, CAP = 64 };

typedef struct {
  int32_t ids[CAP], types[CAP], offs[2 * CAP];
  size_t len;
} Row;

typedef struct {
  const EtTokenizer *t;
  const Row *want;      /* [N_TEXTS] single, [N_TEXTS] pairs (text i, text i+1), truncated to 8 */
  const Row *want_ids;  /* [N_TEXTS] et_encode_ids_call, defaults */
  int index, failures;
} Job;

static EtEncodeOptions pair_options(void) {
  EtEncodeOptions eo;
  et_encode_options_init(&eo);
  eo.max_length = 8;
  eo.truncation = 1;
  eo.padding = ET_PAD_TO_MAX_LENGTH;
  return eo;
}

static int encode_row(const EtTokenizer *t, int i, int pair, Row *r) {
  EtEncodeOptions eo = pair_options();
  EtEncoding e = {r->ids, r->types, NULL, r->offs, CAP, 0};
  const char *b = pair ? TEXTS[(i + 1) % N_TEXTS] : NULL;
  EtStatus st = et_encode(t, TEXTS[i], strlen(TEXTS[i]), b, b ? strlen(b) : 0, pair ? &eo : NULL, &e, NULL);
  r->len = e.length;
  return st == ET_OK;
}

static int same(const Row *a, const Row *b) {
  return a->len == b->len && memcmp(a->ids, b->ids, a->len * 4) == 0 && memcmp(a->types, b->types, a->len * 4) == 0 &&
         memcmp(a->offs, b->offs, a->len * 8) == 0;
}

static void *run(void *arg) {
  Job *j = arg;
  EtError err;
  int32_t ids[CAP];
  EtIdsCall call = {j->t, NULL, ids, CAP, 0, &err}; /* per-thread argument block */
  for (int round = 0; round < ROUNDS; round++) {
    for (int k = 0; k < N_TEXTS; k++) {
      int i = (k + j->index + round) % N_TEXTS; /* threads walk the texts out of step */
      Row r;
      if (!encode_row(j->t, i, 0, &r) || !same(&r, &j->want[i])) j->failures++;
      if (!encode_row(j->t, i, 1, &r) || !same(&r, &j->want[N_TEXTS + i])) j->failures++;
      int64_t n = et_encode_ids_call(&call, TEXTS[i], strlen(TEXTS[i]));
      if (n != (int64_t)j->want_ids[i].len || memcmp(ids, j->want_ids[i].ids, (size_t)n * 4) != 0) j->failures++;
    }
    /* a batch inside a thread: its own workers, the same shared tokenizer */
    size_t sizes[N_TEXTS], bounds[N_TEXTS + 1] = {0};
    char packed[1024];
    for (int i = 0; i < N_TEXTS; i++) {
      sizes[i] = strlen(TEXTS[i]);
      memcpy(packed + bounds[i], TEXTS[i], sizes[i]);
      bounds[i + 1] = bounds[i] + sizes[i];
    }
    EtBatch *b = NULL, *p = NULL;
    if (et_encode_batch(j->t, N_TEXTS, TEXTS, sizes, NULL, NULL, NULL, 1 + (size_t)(round % 3), &b, &err) != ET_OK ||
        et_encode_batch_packed(j->t, N_TEXTS, packed, bounds, NULL, NULL, NULL, 2, &p, &err) != ET_OK) {
      j->failures++;
    } else {
      for (int i = 0; i < N_TEXTS; i++) {
        const int32_t *ri, *rt, *ro, *pi;
        size_t len = et_batch_row(b, (size_t)i, &ri, &rt, &ro);
        size_t plen = et_batch_row(p, (size_t)i, &pi, NULL, NULL);
        const Row *w = &j->want[i];
        if (len != w->len || plen != len || (len && (memcmp(ri, w->ids, len * 4) != 0 ||
                                                     memcmp(ro, w->offs, len * 8) != 0 || memcmp(pi, w->ids, len * 4) != 0)))
          j->failures++;
      }
    }
    et_batch_delete(b);
    et_batch_delete(p);
  }
  return NULL;
}

int main(void) {
  EtTokenizer *t = NULL;
  EtError err;
  if (et_tokenizer_create_from_buffer(VOCAB, sizeof VOCAB - 1, NULL, &t, &err) != ET_OK) {
    fprintf(stderr, "create: %s\n", err.message);
    return 1;
  }
  static Row want[2 * N_TEXTS], want_ids[N_TEXTS];
  int pass = 0, fail = 0;
  for (int i = 0; i < N_TEXTS; i++) {
    int ok = encode_row(t, i, 0, &want[i]) && encode_row(t, i, 1, &want[N_TEXTS + i]);
    EtIdsCall call = {t, NULL, want_ids[i].ids, CAP, 0, NULL};
    want_ids[i].len = (size_t)et_encode_ids_call(&call, TEXTS[i], strlen(TEXTS[i]));
    ok = ok && want_ids[i].len == want[i].len;
    ok ? pass++ : fail++;
  }
  pthread_t th[THREADS];
  Job jobs[THREADS];
  int started = 0;
  for (int k = 0; k < THREADS; k++) {
    jobs[k] = (Job){t, want, want_ids, k, 0};
    if (pthread_create(&th[k], NULL, run, &jobs[k]) != 0) break;
    started++;
  }
  started == THREADS ? pass++ : fail++;
  for (int k = 0; k < started; k++) {
    pthread_join(th[k], NULL);
    if (jobs[k].failures) fprintf(stderr, "thread %d: %d results differ from serial\n", k, jobs[k].failures);
    jobs[k].failures ? fail++ : pass++;
  }
  et_tokenizer_delete(t);
  printf("%d passed, %d failed\n", pass, fail);
  return fail ? 1 : 0;
}
