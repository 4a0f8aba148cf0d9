/* vocab.c: vocab.txt parsed into token strings + the exact-lookup hash map
 * the runtime probes for every word (whole-word hits, special tokens,
 * token_to_id).  Depends on status.  The hash helpers are inline: the
 * pre-tokenizer builds a short word's key while it collects the word.  The
 * map's hash is keyed per tokenizer (et_hash.h: a vocabulary crafted to
 * collide under a fixed function made building quadratic). */
#ifndef EDGETEXT_ET_VOCAB_H_
#define EDGETEXT_ET_VOCAB_H_

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "edgetext.h"
#include "et_hash.h"

typedef struct {
  uint64_t inl; /* the token's bytes, zero-padded, when it has at most 8 */
  uint32_t tag; /* 24 bits of the token's hash << 8 | min(length, 255) */
  uint32_t id1; /* id + 1; 0 = empty slot */
} EtMapSlot;

/* The map's hash keys, derived from the tokenizer's seed (et_hash.h). */
typedef struct {
  uint64_t k0, k1;      /* SipHash-1-3 key: tokens of more than 8 bytes */
  uint64_t tab[9][256]; /* simple tabulation, at most 8 bytes: tab[i][byte i] for i < 8, tab[8][length] */
} EtVocabHash;

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
  EtVocabHash hash;
} EtVocab;

/* The bytes of a string of at most 8 bytes as one little-endian-ordered
 * integer (zero-padded; the same value on every platform). */
static inline uint64_t et_inline_bytes(const char *s, size_t n) {
  uint64_t x = 0;
  if (n > 8) return 0;
  for (size_t i = 0; i < n; i++) x |= (uint64_t)(unsigned char)s[i] << (8 * i);
  return x;
}

/* Hash of a string of at most 8 bytes from its et_inline_bytes value: the
 * tokenizer builds that value while it collects a word, so a whole-word
 * lookup of a short word needs no second pass over its bytes. */
static inline uint64_t et_hash_inline(const EtVocabHash *k, uint64_t inl, size_t n) {
  return k->tab[8][n & 255] ^ k->tab[0][inl & 255] ^ k->tab[1][(inl >> 8) & 255] ^
         k->tab[2][(inl >> 16) & 255] ^ k->tab[3][(inl >> 24) & 255] ^ k->tab[4][(inl >> 32) & 255] ^
         k->tab[5][(inl >> 40) & 255] ^ k->tab[6][(inl >> 48) & 255] ^ k->tab[7][inl >> 56];
}

/* Hash of any string: et_hash_inline for n <= 8, else SipHash-1-3. */
static inline uint64_t et_hash_bytes(const EtVocabHash *k, const char *s, size_t n) {
  if (n <= 8) return et_hash_inline(k, et_inline_bytes(s, n), n);
  return et_siphash13(k->k0, k->k1, (const unsigned char *)s, n);
}

/* The keys of seed (any value; the same seed gives the same keys). */
void et_vocab_hash_init(EtVocabHash *k, uint64_t seed);

/* One token per line, HF's rules (trailing White_Space trimmed, the last of
 * duplicate lines wins, the id is the line number), the map hashed with the
 * keys of seed.  ET_ERR_VOCAB for an empty or too large file or a line that
 * is not UTF-8. */
EtStatus et_vocab_parse(EtVocab *vocab, const char *data, size_t size, uint64_t seed, EtError *err);
void et_vocab_free(EtVocab *vocab);
/* Id of the token s[0..n) or -1. */
int32_t et_vocab_find(const EtVocab *vocab, const char *s, size_t n);
/* et_vocab_find with inl = et_inline_bytes(s, n) already known (any value when n > 8) */
int32_t et_vocab_find_inl(const EtVocab *vocab, const char *s, size_t n, uint64_t inl);

#endif /* EDGETEXT_ET_VOCAB_H_ */
