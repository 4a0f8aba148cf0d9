/* libFuzzer harness: arbitrary bytes as text, pair, options and vocabulary.
 * Checks: no crash / sanitizer report, invalid UTF-8 only as an error,
 * ids inside the vocabulary, offsets inside the text, batch == single, a
 * saved-and-loaded compiled model == the compiled one, and a compiled model
 * with one byte changed (checksum recomputed, as a forger would) is refused
 * or tokenizes within bounds.  Special tokens in the text: the bytes
 * 0xF8-0xFC (never UTF-8) stand for [PAD] [UNK] [CLS] [SEP] [MASK]; the
 * default tokenizer (specials matched) == a naive leftmost-longest split of
 * the text on the specials of the vocabulary, each piece tokenized alone by
 * a split_special_tokens tokenizer, offsets shifted. */
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

static const char *const SPECIALS[5] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};

/* data with each byte 0xF8-0xFC replaced by a special; *n: the new size (caller frees) */
static uint8_t *expand_specials(const uint8_t *data, size_t *n) {
  uint8_t *out = malloc(*n * 6 + 1);
  if (!out) abort();
  size_t k = 0;
  for (size_t i = 0; i < *n; i++) {
    if (data[i] >= 0xF8 && data[i] <= 0xFC) {
      const char *sp = SPECIALS[data[i] - 0xF8];
      memcpy(out + k, sp, strlen(sp));
      k += strlen(sp);
    } else {
      out[k++] = data[i];
    }
  }
  *n = k;
  return out;
}

/* The reference for the tokens of text (no [CLS]/[SEP] template, no
 * truncation): split on the specials t has, leftmost-longest, pieces
 * tokenized by `split` (split_special_tokens=1).  Returns the status;
 * ids/offs get *len tokens (cap at most). */
static EtStatus special_reference(const EtTokenizer *t, const EtTokenizer *split, const char *text, size_t size,
                                  int32_t *ids, int32_t *offs, size_t cap, size_t *len) {
  int32_t sid[5];
  for (int k = 0; k < 5; k++) sid[k] = et_tokenizer_token_to_id(t, SPECIALS[k], strlen(SPECIALS[k]));
  EtEncodeOptions eo;
  et_encode_options_init(&eo);
  eo.add_special_tokens = 0;
  size_t from = 0, at = 0, n = 0, chars = 0;
  while (from <= size) {
    int best = -1;
    size_t best_len = 0;
    if (at < size)
      for (int k = 0; k < 5; k++) {
        size_t l = strlen(SPECIALS[k]);
        if (sid[k] >= 0 && l <= size - at && memcmp(text + at, SPECIALS[k], l) == 0 && l > best_len) {
          best = k;
          best_len = l;
        }
      }
    if (best < 0 && at < size) {
      at++;
      continue;
    }
    EtEncoding e = {ids + n, NULL, NULL, offs + 2 * n, cap - n, 0};
    EtStatus st = et_encode(split, text + from, at - from, NULL, 0, &eo, &e, NULL);
    if (st != ET_OK) return st;
    for (size_t i = 0; i < 2 * e.length; i++) offs[2 * n + i] += (int32_t)chars;
    n += e.length;
    chars += utf8_chars((const uint8_t *)text + from, at - from);
    if (best < 0) break;
    if (n == cap) return ET_ERR_BUFFER_TOO_SMALL;
    ids[n] = sid[best];
    offs[2 * n] = (int32_t)chars;
    offs[2 * n + 1] = (int32_t)(chars + best_len); /* specials are ASCII */
    n++;
    chars += best_len;
    at = from = at + best_len;
  }
  *len = n;
  return ET_OK;
}

/* internal (compiled with the sources): the blob checksum, to forge blobs */
uint64_t et_wordpiece_blob_checksum(const unsigned char *blob, size_t size);

/* loaded from t's saved model, with byte `at` (if < size) xor-ed with `x`; NULL if refused */
static EtTokenizer *reload(const EtTokenizer *t, const char *vocab, size_t vocab_size,
                           const EtTokenizerOptions *o, size_t at, unsigned char x) {
  size_t n = 0;
  if (et_tokenizer_save_model(t, NULL, 0, &n, NULL) != ET_ERR_BUFFER_TOO_SMALL) abort();
  unsigned char *blob = malloc(n);
  if (!blob || et_tokenizer_save_model(t, blob, n, &n, NULL) != ET_OK) abort();
  if (at < n - 8) {
    blob[at] ^= x;
    uint64_t c = et_wordpiece_blob_checksum(blob, n);
    for (int i = 0; i < 8; i++) blob[n - 8 + (size_t)i] = (unsigned char)(c >> (8 * i));
  }
  EtTokenizerOptions lo = *o;
  lo.compiled_model = blob;
  lo.compiled_model_size = n;
  EtTokenizer *l = NULL;
  EtStatus st = et_tokenizer_create_from_buffer(vocab, vocab_size, &lo, &l, NULL);
  if (st != ET_OK && (at >= n - 8 || st != ET_ERR_VOCAB)) abort(); /* intact: must load */
  free(blob);
  return l;
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
  uint8_t *expanded = expand_specials(data, &size);
  data = expanded;
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
  /* compiled model: intact == built; one byte changed (where and how: from the input) */
  {
    size_t vsize = sizeof BASE_VOCAB - 1 + vocab_extra;
    EtTokenizer *l = reload(t, vocab, vsize, &o, SIZE_MAX, 0);
    EtEncoding e1 = {ids, NULL, NULL, offs, CAP / 2, 0}, e2 = {ids + CAP / 2, NULL, NULL, offs + CAP, CAP / 2, 0};
    EtStatus s1 = et_encode(t, text, half, pair, size - half, &eo, &e1, NULL);
    EtStatus s2 = et_encode(l, text, half, pair, size - half, &eo, &e2, NULL);
    if (s1 != s2 || (s1 == ET_OK && (e1.length != e2.length || memcmp(e1.ids, e2.ids, e1.length * 4) != 0 ||
                                     memcmp(e1.offsets, e2.offsets, e1.length * 8) != 0)))
      abort();
    et_tokenizer_delete(l);
    size_t at = size >= 3 ? 8 + ((size_t)data[0] | (size_t)data[1] << 8 | (size_t)data[2] << 16) : 8;
    unsigned char x = size >= 4 ? data[3] : 1;
    size_t n = 0;
    et_tokenizer_save_model(t, NULL, 0, &n, NULL);
    l = reload(t, vocab, vsize, &o, 8 + (at - 8) % (n - 16), x ? x : 1);
    if (l) {
      EtEncoding e3 = {ids, NULL, NULL, offs, CAP, 0};
      if (et_encode(l, text, half, pair, size - half, &eo, &e3, NULL) == ET_OK)
        for (size_t i = 0; i < e3.length; i++)
          if (ids[i] < 0 || (size_t)ids[i] > 20 + vocab_extra || offs[2 * i] > offs[2 * i + 1]) abort();
      et_tokenizer_delete(l);
    }
  }
  /* specials matched == the naive split on them (single text, no template, no truncation) */
  {
    EtTokenizerOptions so = o;
    so.split_special_tokens = 1;
    EtTokenizer *split = NULL;
    if (et_tokenizer_create_from_buffer(vocab, sizeof BASE_VOCAB - 1 + vocab_extra, &so, &split, NULL) != ET_OK)
      abort();
    EtEncodeOptions no;
    et_encode_options_init(&no);
    no.add_special_tokens = 0;
    EtEncoding e1 = {ids, NULL, NULL, offs, CAP / 2, 0};
    EtStatus s1 = et_encode(t, text, half, NULL, 0, &no, &e1, NULL);
    size_t n2 = 0;
    EtStatus s2 = special_reference(t, split, text, half, ids + CAP / 2, offs + CAP, CAP / 2, &n2);
    if (s1 != s2 && s1 != ET_ERR_BUFFER_TOO_SMALL && s2 != ET_ERR_BUFFER_TOO_SMALL) abort();
    if (s1 == ET_OK && s2 == ET_OK &&
        (e1.length != n2 || memcmp(ids, ids + CAP / 2, n2 * 4) != 0 || memcmp(offs, offs + CAP, n2 * 8) != 0))
      abort();
    et_tokenizer_delete(split);
  }
  free(ids);
  free(offs);
  free(expanded);
  et_tokenizer_delete(t);
  return 0;
}
