/*
 * tokenize.c -- a C application linking libedgetext directly (no Python anywhere).
 *
 * It reads texts (one per line) from stdin, encodes them as one batch with the native
 * Fast WordPiece tokenizer, and prints one line of ids per text:
 *
 *   ./tokenize VOCAB [--max-length N] [--threads N] [--cased] < texts.txt
 *   ./tokenize VOCAB --dense 16 < texts.txt     also fill the padded int64 [n, 16] matrices
 *                                               an inference engine (ONNX Runtime C API) takes
 *   ./tokenize VOCAB --errors                   show each error path and its status code
 *
 * Output (stdout, stable across machines: the ARM tests compare it with the host's):
 *   <line number> <token count> <id> <id> ...
 * A summary goes to stderr. Exit status: 0 ok, 1 a libedgetext call failed, 2 bad usage.
 *
 * Build: `make` (this machine) or `make CROSS=aarch64-linux-gnu-` / `CROSS=arm-linux-gnueabihf-`;
 * see samples/README.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgetext.h"

/* Report a failed call the way an app should: status code, its name, and the message. */
static int fail(const char *what, const EtError *err) {
  fprintf(stderr, "tokenize: %s failed: status %d (%s): %s\n", what, (int)err->status,
          et_status_string(err->status), err->message);
  return 1;
}

/* Read stdin into lines (without their newline), all pointing into one buffer that starts at
 * lines[0]. The caller frees lines[0], lines and sizes. */
static size_t read_lines(char ***out_lines, size_t **out_sizes) {
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  if (!buf) { fprintf(stderr, "tokenize: out of memory\n"); exit(1); }
  size_t got;
  while ((got = fread(buf + len, 1, cap - len, stdin)) > 0) {
    len += got;
    if (len == cap) {
      char *bigger = realloc(buf, cap * 2);
      if (!bigger) { free(buf); fprintf(stderr, "tokenize: out of memory\n"); exit(1); }
      buf = bigger;
      cap *= 2;
    }
  }
  size_t n = 0;
  for (size_t i = 0; i < len; i++) n += buf[i] == '\n';
  if (len > 0 && buf[len - 1] != '\n') n++;
  char **lines = malloc((n + 1) * sizeof *lines);
  size_t *sizes = malloc((n + 1) * sizeof *sizes);
  if (!lines || !sizes) { fprintf(stderr, "tokenize: out of memory\n"); exit(1); }
  size_t row = 0, start = 0;
  for (size_t i = 0; i <= len && row < n; i++) {
    if (i == len || buf[i] == '\n') {
      size_t end = (i > start && buf[i - 1] == '\r') ? i - 1 : i; /* tolerate CRLF */
      lines[row] = buf + start;
      sizes[row++] = end - start;
      start = i + 1;
    }
  }
  if (n == 0) { lines[0] = buf; } /* keep buf reachable for free() */
  *out_lines = lines;
  *out_sizes = sizes;
  return n;
}

/* Each error the ABI reports, triggered on purpose: what an app sees and can print. */
static int show_errors(const char *vocab, const EtTokenizerOptions *opts) {
  EtTokenizer *tok = NULL;
  EtError err;
  int unexpected = 0;

  if (et_tokenizer_create_from_file("/nonexistent/vocab.txt", opts, &tok, &err) != ET_OK)
    printf("missing vocab      -> %d %s: %s\n", (int)err.status, et_status_string(err.status), err.message);
  else unexpected++;

  if (et_tokenizer_create_from_file(vocab, opts, &tok, &err) != ET_OK) return fail("create", &err);

  EtEncodeOptions eo;
  et_encode_options_init(&eo);
  int32_t ids[8];
  EtEncoding enc = {ids, NULL, NULL, NULL, 8, 0};

  const char bad_utf8[] = "ok \xff\xfe bad";
  if (et_encode(tok, bad_utf8, sizeof bad_utf8 - 1, NULL, 0, &eo, &enc, &err) != ET_OK)
    printf("invalid UTF-8      -> %d %s: %s\n", (int)err.status, et_status_string(err.status), err.message);
  else unexpected++;

  /* A buffer that is too small tells how much is needed: grow and retry. */
  const char *text = "the quick brown fox jumps over the lazy dog again and again";
  EtStatus st = et_encode(tok, text, strlen(text), NULL, 0, &eo, &enc, &err);
  if (st == ET_ERR_BUFFER_TOO_SMALL) {
    printf("buffer too small   -> %d %s: need %zu tokens, retrying\n", (int)st, et_status_string(st), enc.length);
    int32_t *big = malloc(enc.length * sizeof *big);
    EtEncoding retry = {big, NULL, NULL, NULL, enc.length, 0};
    st = et_encode(tok, text, strlen(text), NULL, 0, &eo, &retry, &err);
    printf("retry              -> %d %s: %zu tokens\n", (int)st, et_status_string(st), retry.length);
    unexpected += st != ET_OK;
    free(big);
  } else unexpected++;

  /* max_length 1 cannot hold [CLS] and [SEP]: as in HF, nothing is truncated then (no error of
   * its own), so the whole row is needed. */
  eo.max_length = 1;
  eo.truncation = 1;
  st = et_encode(tok, text, strlen(text), NULL, 0, &eo, &enc, &err);
  printf("max_length 1       -> %d %s%s%s\n", (int)st, et_status_string(st), st ? ": " : "", st ? err.message : "");

  if (et_tokenizer_create_from_file(vocab, NULL, NULL, &err) != ET_OK)
    printf("NULL out pointer   -> %d %s: %s\n", (int)err.status, et_status_string(err.status), err.message);
  else unexpected++;

  et_tokenizer_delete(tok);
  printf("%d unexpected\n", unexpected);
  return unexpected ? 1 : 0;
}

int main(int argc, char **argv) {
  if (argc < 2 || argv[1][0] == '-') {
    fprintf(stderr, "usage: %s VOCAB [--max-length N] [--threads N] [--cased] [--dense WIDTH] [--errors] < texts\n",
            argv[0]);
    return 2;
  }
  const char *vocab = argv[1];
  size_t max_length = 0, threads = 0, dense = 0;
  int errors = 0;
  EtTokenizerOptions opts;
  et_tokenizer_options_init(&opts); /* HF BertWordPiece defaults: lowercase, strip accents, CJK split */
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--max-length") && i + 1 < argc) max_length = strtoul(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = strtoul(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--dense") && i + 1 < argc) dense = strtoul(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--cased")) opts.lowercase = 0;
    else if (!strcmp(argv[i], "--errors")) errors = 1;
    else { fprintf(stderr, "tokenize: unknown argument %s\n", argv[i]); return 2; }
  }
  if (errors) return show_errors(vocab, &opts);

  EtTokenizer *tok = NULL;
  EtError err;
  if (et_tokenizer_create_from_file(vocab, &opts, &tok, &err) != ET_OK) return fail("et_tokenizer_create_from_file", &err);

  char **lines;
  size_t *sizes;
  size_t n = read_lines(&lines, &sizes);

  EtEncodeOptions eo;
  et_encode_options_init(&eo);
  eo.max_length = max_length;
  eo.truncation = max_length > 0;

  EtBatch *batch = NULL;
  if (et_encode_batch(tok, n, (const char *const *)lines, sizes, NULL, NULL, &eo, threads, &batch, &err) != ET_OK) {
    int rc = fail("et_encode_batch", &err);
    et_tokenizer_delete(tok);
    return rc;
  }
  for (size_t i = 0; i < et_batch_size(batch); i++) {
    const int32_t *ids;
    size_t len = et_batch_row(batch, i, &ids, NULL, NULL);
    printf("%zu %zu", i + 1, len);
    for (size_t j = 0; j < len; j++) printf(" %d", (int)ids[j]);
    putchar('\n');
  }
  if (dense > 0 && n > 0) {
    /* Right-padded [n, dense] int64 inputs, ready for an inference engine. */
    int64_t *ids = calloc(n * dense, sizeof *ids), *mask = calloc(n * dense, sizeof *mask);
    if (!ids || !mask) { fprintf(stderr, "tokenize: out of memory\n"); return 1; }
    et_batch_fill_i64(batch, dense, ids, NULL, mask, NULL);
    long long real = 0;
    for (size_t k = 0; k < n * dense; k++) real += mask[k];
    printf("dense [%zu, %zu] int64: %lld real tokens, first row", n, dense, real);
    for (size_t j = 0; j < dense; j++) printf(" %lld", (long long)ids[j]);
    putchar('\n');
    free(ids);
    free(mask);
  }
  fprintf(stderr, "tokenize: %zu texts, %zu tokens, longest %zu (vocab %zu, unicode %s)\n", et_batch_size(batch),
          et_batch_total_tokens(batch), et_batch_max_length(batch), et_tokenizer_vocab_size(tok),
          et_unicode_version());
  et_batch_delete(batch);
  et_tokenizer_delete(tok);
  free(lines[0]); /* the whole input buffer: line 1 starts at its beginning */
  free(lines);
  free(sizes);
  return 0;
}
