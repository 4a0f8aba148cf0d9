/* Internal structures of libedgetext.  Not part of the ABI.
 *
 * Stages (named after Hugging Face tokenizers' pipeline):
 *   normalizer.c      BertNormalizer (clean_text, handle_chinese_chars,
 *                     strip_accents = NFD + drop Mn, lowercase) and
 *                     BertPreTokenizer (whitespace split, punctuation isolated)
 *   wordpiece_builder.c  compiles vocab.txt into the flat LinMaxMatch model
 *   wordpiece.c       Fast WordPiece tokenization of one word with that model
 *   encode.c          the public API: encode, pairs, truncation, padding, batch
 */
#ifndef EDGETEXT_INTERNAL_H_
#define EDGETEXT_INTERNAL_H_

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edgetext.h"

#define ET_NO_NODE UINT32_MAX

typedef struct {
  uint32_t key, child; /* key 0: empty slot */
} EtEdge;

typedef struct {
  uint32_t fail;     /* f(v), ET_NO_NODE for none */
  uint32_t pops_off; /* F(v) = pops[pops_off .. pops_off + pops_len) */
  uint32_t pops_len;
} EtNode;

typedef struct {
  int32_t id;     /* token id */
  uint32_t bytes; /* bytes of the word the token consumes */
} EtPop;

#define ET_MAX_NODES ((1u << 24) - 2)

/* The compiled vocabulary: a byte trie with LinMaxMatch failure links and
 * failure pops (arXiv 2012.15524, section 3).  Flat arrays only, read-only
 * after building. */
typedef struct {
  uint32_t n_nodes;
  uint32_t root;        /* word-start tokens */
  uint32_t suffix_root; /* continuation tokens, prefix stripped */
  /* transitions: open addressing on key = node * 256 + byte + 1 (nodes < 2^24) */
  EtEdge *edges;
  uint64_t edge_mask;
  uint32_t root_next[256];   /* dense transitions of the two roots */
  uint32_t suffix_next[256];
  int32_t *node_token;       /* token id ending at this node, or -1 */
  EtNode *nodes;             /* per node: f(v) and F(v) */
  EtPop *pops;
  uint32_t n_pops;
  /* build-time only (NULL afterwards) */
  uint32_t *fail_link, *pops_off, *pops_len;
  int32_t *pops_id;
  uint32_t *pops_bytes;
} EtWordPieceModel;

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

struct EtTokenizer {
  EtVocab vocab;
  EtWordPieceModel wp;
  int lowercase, strip_accents, chinese, clean_text;
  size_t max_chars_per_word;
  int32_t unk_id, cls_id, sep_id, pad_id;
  int32_t *bmp_token;         /* [0x10000]: id of the one-character token c (-1) */
  uint8_t ascii_class[128];   /* ET_ASCII_*: what the pipeline does with an ASCII byte */
  unsigned char ascii_lower[128];
  /* [256]: the lowercased byte of an ASCII word character other than NUL,
   * else 0 (non-ASCII, split, punctuation, removed): ends a fast ASCII run */
  unsigned char word_byte[256];
};

enum { ET_ASCII_WORD = 0, ET_ASCII_SPLIT = 1, ET_ASCII_PUNCT = 2, ET_ASCII_REMOVE = 3 };

/* A token of one sequence: id and character offsets into the original text. */
typedef struct {
  int32_t id;
  uint32_t start, end;
} EtToken;

typedef struct {
  EtToken *items;
  size_t len, cap;
  EtToken *inline_items; /* caller storage used before the first heap allocation (may be NULL) */
} EtTokenList;

static inline void et_tokens_release(EtTokenList *l) {
  if (l->items != l->inline_items) free(l->items);
  l->items = NULL;
}

int et_tokens_grow(EtTokenList *list);

static inline int et_tokens_push(EtTokenList *list, int32_t id, uint32_t start, uint32_t end) {
  if (list->len == list->cap && et_tokens_grow(list) != 0) return -1;
  EtToken *t = &list->items[list->len++];
  t->id = id;
  t->start = start;
  t->end = end;
  return 0;
}

/* utilities */
void et_set_error(EtError *err, EtStatus status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

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
/* et_vocab_find with inl = et_inline_bytes(s, n) already known */
int32_t et_vocab_find_inl(const EtVocab *vocab, const char *s, size_t n, uint64_t inl);

/* Decode one UTF-8 scalar from s[*i..n); returns -1 on invalid input
 * (overlong, surrogate, > U+10FFFF, truncated). */
static inline int32_t et_utf8_next(const unsigned char *s, size_t n, size_t *i) {
  size_t p = *i;
  uint32_t c = s[p];
  if (c < 0x80) {
    *i = p + 1;
    return (int32_t)c;
  }
  if (c < 0xC2) return -1;
  if (c < 0xE0) {
    if (p + 1 >= n || (s[p + 1] & 0xC0) != 0x80) return -1;
    *i = p + 2;
    return (int32_t)(((c & 0x1F) << 6) | (s[p + 1] & 0x3F));
  }
  if (c < 0xF0) {
    if (p + 2 >= n || (s[p + 1] & 0xC0) != 0x80 || (s[p + 2] & 0xC0) != 0x80) return -1;
    uint32_t v = ((c & 0x0F) << 12) | ((uint32_t)(s[p + 1] & 0x3F) << 6) | (s[p + 2] & 0x3F);
    if (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF)) return -1;
    *i = p + 3;
    return (int32_t)v;
  }
  if (c < 0xF5) {
    if (p + 3 >= n || (s[p + 1] & 0xC0) != 0x80 || (s[p + 2] & 0xC0) != 0x80 ||
        (s[p + 3] & 0xC0) != 0x80)
      return -1;
    uint32_t v = ((c & 0x07) << 18) | ((uint32_t)(s[p + 1] & 0x3F) << 12) |
                 ((uint32_t)(s[p + 2] & 0x3F) << 6) | (s[p + 3] & 0x3F);
    if (v < 0x10000 || v > 0x10FFFF) return -1;
    *i = p + 4;
    return (int32_t)v;
  }
  return -1;
}

static inline size_t et_utf8_put(uint32_t c, unsigned char *out) {
  if (c < 0x80) {
    out[0] = (unsigned char)c;
    return 1;
  }
  if (c < 0x800) {
    out[0] = (unsigned char)(0xC0 | (c >> 6));
    out[1] = (unsigned char)(0x80 | (c & 0x3F));
    return 2;
  }
  if (c < 0x10000) {
    out[0] = (unsigned char)(0xE0 | (c >> 12));
    out[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
    out[2] = (unsigned char)(0x80 | (c & 0x3F));
    return 3;
  }
  out[0] = (unsigned char)(0xF0 | (c >> 18));
  out[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
  out[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
  out[3] = (unsigned char)(0x80 | (c & 0x3F));
  return 4;
}

#define ET_EDGE_HASH(key) ((uint64_t)(key) * 0x9E3779B97F4A7C15ULL >> 24)

/* Trie transition (node, byte) -> child, or ET_NO_NODE. */
static inline uint32_t et_wp_goto(const EtWordPieceModel *m, uint32_t node, unsigned char b) {
  uint32_t key = (node << 8 | b) + 1;
  uint64_t i = ET_EDGE_HASH(key) & m->edge_mask;
  for (;;) {
    EtEdge e = m->edges[i];
    if (e.key == key) return e.child;
    if (e.key == 0) return ET_NO_NODE;
    i = (i + 1) & m->edge_mask;
  }
}

/* wordpiece_builder.c */
EtStatus et_vocab_parse(EtVocab *vocab, const char *data, size_t size, EtError *err);
void et_vocab_free(EtVocab *vocab);
int32_t et_vocab_find(const EtVocab *vocab, const char *s, size_t n);
EtStatus et_wordpiece_build(EtWordPieceModel *model, const EtVocab *vocab, const char *prefix,
                            size_t prefix_len, EtError *err);
void et_wordpiece_free(EtWordPieceModel *model);

/* wordpiece.c: tokenize one pre-token (UTF-8 bytes w[0..n), n > 0).
 * char_of_byte[b] = index of the character containing byte b (size n + 1,
 * char_of_byte[n] = number of chars); orig[k] = original char index of the
 * word's k-th char.  Appends tokens; returns 0, or -1 when out of memory. */
int et_wordpiece_tokenize(const EtTokenizer *tok, const unsigned char *w, size_t n,
                          const uint32_t *char_of_byte, const uint32_t *orig,
                          EtTokenList *out);

/* normalizer.c: text -> tokens of one sequence (no special tokens). */
EtStatus et_tokenize_sequence(const EtTokenizer *tok, const char *text, size_t size,
                              EtTokenList *out, EtError *err);

#endif
