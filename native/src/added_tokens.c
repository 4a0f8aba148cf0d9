/* AddedVocabulary stage (before the normalizer): Hugging Face matches the
 * special tokens (added tokens with normalized=false, lstrip/rstrip/
 * single_word false: BERT's [PAD] [UNK] [CLS] [SEP] [MASK]) in the raw text,
 * case-sensitively, leftmost-longest, before BertNormalizer runs; each
 * occurrence is one token with its id and its offsets in the original text,
 * and each piece between two occurrences is normalized, pre-tokenized and
 * cut into wordpieces on its own (pretokenize.c).  A text without the first
 * byte of any special costs one memchr.  Depends on status, tokens and
 * pretokenize. */
#include <stdint.h>
#include <string.h>

#include "et_added_tokens.h"
#include "et_pretokenize.h"
#include "et_status.h"
#include "et_tokenizer.h"

/* The next byte at or after i that may start a special (size if none). */
static inline size_t next_start(const EtTokenizer *tok, const unsigned char *s, size_t size, size_t i) {
  if (tok->special_first >= 0) {
    const unsigned char *p = i < size ? memchr(s + i, tok->special_first, size - i) : NULL;
    return p ? (size_t)(p - s) : size;
  }
  while (i < size && !tok->special_start[s[i]]) i++;
  return i;
}

/* The special (index) that matches at s[i..size), longest first; -1 if none. */
static inline int match_at(const EtTokenizer *tok, const unsigned char *s, size_t size, size_t i) {
  for (uint32_t k = 0; k < tok->n_special; k++) {
    size_t len = tok->special[k].len;
    if (len <= size - i && memcmp(s + i, tok->special[k].bytes, len) == 0) return (int)k;
  }
  return -1;
}

/* The tokens of the piece s[from, to) appended to out (at most about cap:
 * et_tokenize_sequence's early stop), their offsets moved by `chars` (the
 * characters before the piece). */
static EtStatus piece(const EtTokenizer *tok, const unsigned char *s, size_t from, size_t to, size_t cap,
                      uint32_t chars, EtTokenList *out, EtError *err) {
  size_t first = out->len;
  EtStatus st = et_tokenize_sequence(tok, (const char *)s + from, to - from, cap, out, err);
  if (st != ET_OK) return st;
  for (size_t j = first; j < out->len; j++) {
    out->items[j].start += chars;
    out->items[j].end += chars;
  }
  return ET_OK;
}

/* ET_ERR_INVALID_UTF8 naming the first bad byte of the whole text (the
 * pieces and specials before `from` are valid). */
static EtStatus bad_utf8(const unsigned char *s, size_t size, size_t from, EtError *err) {
  size_t bad_at = from;
  et_utf8_rest_ok(s, size, from, &bad_at);
  et_set_error(err, ET_ERR_INVALID_UTF8, "invalid UTF-8 at byte %zu", bad_at);
  return ET_ERR_INVALID_UTF8;
}

EtStatus et_tokenize_text(const EtTokenizer *tok, const char *text, size_t size, size_t max_tokens,
                          EtTokenList *out, EtError *err) {
  const unsigned char *s = (const unsigned char *)text;
  size_t at = tok->n_special ? next_start(tok, s, size, 0) : size;
  if (at >= size) return et_tokenize_sequence(tok, text, size, max_tokens, out, err);
  if (size > (UINT32_MAX / 8)) { /* same check and message as et_tokenize_sequence */
    et_set_error(err, ET_ERR_INVALID_ARGUMENT, "text too long (%zu bytes)", size);
    return ET_ERR_INVALID_ARGUMENT;
  }
  size_t mark = out->len;
  size_t from = 0;   /* start of the piece in progress */
  uint32_t chars = 0; /* chars of s[0..from) */
  while (at < size) {
    int k = match_at(tok, s, size, at);
    if (k < 0) {
      at = next_start(tok, s, size, at + 1);
      continue;
    }
    size_t done = out->len - mark;
    if (done >= max_tokens) break;
    if (at > from) {
      EtStatus st = piece(tok, s, from, at, max_tokens - done, chars, out, err);
      if (st != ET_OK) {
        out->len = mark;
        return st == ET_ERR_INVALID_UTF8 ? bad_utf8(s, size, from, err) : st;
      }
      for (size_t j = from; j < at; j++) chars += (s[j] & 0xC0) != 0x80; /* valid UTF-8 now */
      if (out->len - mark >= max_tokens) {
        from = at;
        break;
      }
    }
    if (et_tokens_push(out, tok->special[k].id, chars, chars + tok->special[k].chars) != 0) {
      out->len = mark;
      et_set_error(err, ET_ERR_NO_MEMORY, "out of memory");
      return ET_ERR_NO_MEMORY;
    }
    chars += tok->special[k].chars;
    from = at + tok->special[k].len;
    at = next_start(tok, s, size, from);
  }
  size_t done = out->len - mark;
  if (done >= max_tokens) { /* enough: only the status of the rest matters */
    size_t bad_at = 0;
    if (et_utf8_rest_ok(s, size, from, &bad_at)) return ET_OK;
    out->len = mark;
    return bad_utf8(s, size, from, err);
  }
  if (from >= size) return ET_OK;
  EtStatus st = piece(tok, s, from, size, max_tokens - done, chars, out, err);
  if (st != ET_OK) {
    out->len = mark;
    return st == ET_ERR_INVALID_UTF8 ? bad_utf8(s, size, from, err) : st;
  }
  return ET_OK;
}
