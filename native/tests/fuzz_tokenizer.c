/* libFuzzer harness: arbitrary bytes as text, pair, options and vocabulary.
 * Checks: no crash / sanitizer report, invalid UTF-8 only as an error,
 * ids inside the vocabulary, offsets inside the text, batch == single. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgetext.h"

static const char BASE_VOCAB[] =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\na\nb\nab\n##a\n##b\n##ab\nc\n##c\ni\n##\xcc\x87\n\xe4\xb8\xad\n!\n";

static size_t utf8_chars(const uint8_t *s, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) k += (s[i] & 0xC0) != 0x80;
  return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  uint8_t flags = data[0], maxlen = data[1];
  data += 2;
  size -= 2;
  EtTokenizerOptions o;
  et_tokenizer_options_init(&o);
  o.lowercase = flags & 1;
  o.strip_accents = (int)((flags >> 1) & 3) - 1;
  if (o.strip_accents > 1) o.strip_accents = 1;
  o.tokenize_chinese_chars = (flags >> 3) & 1;
  o.clean_text = (flags >> 4) & 1;
  o.max_input_chars_per_word = 1 + (flags >> 5);
  /* the vocabulary: the base one, plus (flag) the first part of the input */
  size_t vocab_extra = 0;
  if ((flags & 0x80) && size > 0) vocab_extra = data[0] % (size < 64 ? size : 64);
  char vocab[sizeof BASE_VOCAB + 64];
  memcpy(vocab, BASE_VOCAB, sizeof BASE_VOCAB - 1);
  memcpy(vocab + sizeof BASE_VOCAB - 1, data, vocab_extra);
  EtTokenizer *t = NULL;
  EtStatus st = et_tokenizer_create_from_buffer(vocab, sizeof BASE_VOCAB - 1 + vocab_extra, &o, &t, NULL);
  if (st != ET_OK) return 0; /* e.g. invalid UTF-8 in the extra lines */
  data += vocab_extra;
  size -= vocab_extra;
  size_t half = size / 2;
  const char *text = (const char *)data, *pair = (const char *)data + half;
  EtEncodeOptions eo;
  et_encode_options_init(&eo);
  eo.max_length = maxlen & 0x3F;
  eo.truncation = (maxlen >> 6) & 1;
  eo.padding = (maxlen >> 7) ? ET_PAD_TO_MAX_LENGTH : ET_PAD_NONE;
  enum { CAP = 1 << 14 };
  int32_t *ids = malloc(CAP * sizeof(int32_t)), *offs = malloc(2 * CAP * sizeof(int32_t));
  EtEncoding enc = {ids, NULL, NULL, offs, CAP, 0};
  EtError err;
  st = et_encode(t, text, half, pair, size - half, &eo, &enc, &err);
  if (st == ET_OK) {
    size_t vocab_ids = 20 + vocab_extra;
    size_t n1 = utf8_chars(data, half), n2 = utf8_chars(data + half, size - half);
    for (size_t i = 0; i < enc.length; i++) {
      if (ids[i] < 0 || (size_t)ids[i] > vocab_ids) abort();
      if (offs[2 * i] > offs[2 * i + 1]) abort();
      if ((size_t)offs[2 * i + 1] > (n1 > n2 ? n1 : n2)) abort();
    }
    /* the batch path gives the same row */
    const char *texts[1] = {text}, *pairs[1] = {pair};
    size_t ts[1] = {half}, ps[1] = {size - half};
    EtBatch *b = NULL;
    eo.padding = ET_PAD_NONE;
    EtEncoding enc2 = {ids + CAP / 2, NULL, NULL, NULL, CAP / 2, 0};
    if (et_encode(t, text, half, pair, size - half, &eo, &enc2, NULL) == ET_OK &&
        et_encode_batch(t, 1, texts, ts, pairs, ps, &eo, 2, &b, NULL) == ET_OK) {
      const int32_t *row;
      size_t n = et_batch_row(b, 0, &row, NULL, NULL);
      if (n != enc2.length || memcmp(row, enc2.ids, n * sizeof(int32_t)) != 0) abort();
      et_batch_delete(b);
    }
  } else if (st != ET_ERR_INVALID_UTF8 && st != ET_ERR_BUFFER_TOO_SMALL) {
    abort();
  }
  free(ids);
  free(offs);
  et_tokenizer_delete(t);
  return 0;
}
