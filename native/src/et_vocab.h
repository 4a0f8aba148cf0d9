/* vocab.c: vocab.txt parsed into token strings + the exact-lookup hash map
 * the runtime probes for every word (whole-word hits, special tokens,
 * token_to_id).  Depends on status.  The hash helpers are inline: the
 * pre-tokenizer builds a short word's key while it collects the word. */
#ifndef EDGETEXT_ET_VOCAB_H_
#define EDGETEXT_ET_VOCAB_H_

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "edgetext.h"

typedef struct {
  uint64_t inl; /* the token's bytes, zero-padded, when it has at most 8 */
  uint32_t tag; /* 24 bits of the token's hash << 8 | min(length, 255) */
  uint32_t id1; /* id + 1; 0 = empty slot */
} EtMapSlot;

typedef struct {
  char *bytes; /* all token strings, concatenated */
  size_t bytes_len;
  uint32_t *tok_off; /* per id: offset into bytes, UINT32_MAX when the id is shadowed */
  uint32_t *tok_len;
  size_t n_ids;      /* number of lines (max id + 1) */
  size_t n_unique;   /* distinct tokens (HF's vocab size) */
  /* exact lookup: open addressing over ids */
  EtMapSlot *map;
  size_t map_mask;
} EtVocab;

/* The bytes of a string of at most 8 bytes as one little-endian-ordered
 * integer (zero-padded; the same value on every platform). */
static inline uint64_t et_inline_bytes(const char *s, size_t n) {
  uint64_t x = 0;
  if (n > 8) return 0;
  for (size_t i = 0; i < n; i++) x |= (uint64_t)(unsigned char)s[i] << (8 * i);
  return x;
}

static inline uint64_t et_fmix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDULL;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ULL;
  h ^= h >> 33;
  return h;
}

/* Hash of a string of at most 8 bytes from its et_inline_bytes value: the
 * tokenizer builds that value while it collects a word, so a whole-word
 * lookup of a short word needs no second pass over its bytes. */
static inline uint64_t et_hash_inline(uint64_t inl, size_t n) {
  return et_fmix64(inl ^ ((uint64_t)n * 0x9E3779B97F4A7C15ULL));
}

/* 8 bytes of s as an integer in the platform's byte order (hashing only) */
static inline uint64_t et_load64(const char *s) {
  uint64_t x;
  memcpy(&x, s, 8);
  return x;
}

/* Hash of any string: et_hash_inline for n <= 8, else 8 bytes a step. */
uint64_t et_hash_bytes(const char *s, size_t n);

/* One token per line, HF's rules (trailing White_Space trimmed, the last of
 * duplicate lines wins, the id is the line number).  ET_ERR_VOCAB for an
 * empty or too large file or a line that is not UTF-8. */
EtStatus et_vocab_parse(EtVocab *vocab, const char *data, size_t size, EtError *err);
void et_vocab_free(EtVocab *vocab);
/* Id of the token s[0..n) or -1. */
int32_t et_vocab_find(const EtVocab *vocab, const char *s, size_t n);
/* et_vocab_find with inl = et_inline_bytes(s, n) already known (any value when n > 8) */
int32_t et_vocab_find_inl(const EtVocab *vocab, const char *s, size_t n, uint64_t inl);

#endif /* EDGETEXT_ET_VOCAB_H_ */
