/* The Fast WordPiece model (LinMaxMatch, arXiv 2012.15524) as the runtime
 * reads it, and the pre-token it reads it for.
 *
 *   wordpiece_builder.c  writes an EtWordPieceModel (et_wordpiece_builder.h)
 *   wordpiece.c          reads it: one pre-token (EtWord) -> tokens
 *
 * The model is flat arrays only, read-only after building, so one model
 * serves any number of threads. */
#ifndef EDGETEXT_ET_WORDPIECE_H_
#define EDGETEXT_ET_WORDPIECE_H_

#include <stddef.h>
#include <stdint.h>

#include "edgetext.h"
#include "et_hash.h"
#include "et_tokens.h"

#define ET_NO_NODE UINT32_MAX
#define ET_MAX_NODES ((1u << 24) - 2)
/* failure pops: linear in the vocabulary (et_wordpiece_builder.c), so far
 * below this for any vocabulary that fits the node limit */
#define ET_MAX_POPS (1u << 30)

typedef struct {
  uint32_t key, child; /* key 0: empty slot */
} EtEdge;

#define ET_NO_POP UINT32_MAX

typedef struct {
  uint32_t fail;      /* f(v), ET_NO_NODE for none */
  uint32_t pops_last; /* F(v): the chain of pops_len pops ending at pops[pops_last] */
  uint32_t pops_len;  /* (ET_NO_POP / 0 when F(v) is empty) */
} EtNode;

/* Failure pops are stored as chains that share their beginnings: F(v) is
 * F(parent(v)) followed by what failing from f(parent(v)) on v's byte pops,
 * so F(v)'s chain continues F(parent)'s instead of copying it.  Copies make
 * the pops O(L^2) for a vocabulary like `a`, `##a`, `a`*L+`b` (each a^k pops
 * k-1 tokens); chains keep them linear in the vocabulary's bytes (each node
 * adds at most depth(f(parent)) + 1 - depth(f(v)) pops, which telescopes
 * along every path of the trie).  A chain is read backwards from its last
 * pop, so the runtime writes F(v)'s tokens from the end. */
typedef struct {
  int32_t id;    /* token id */
  uint32_t end;  /* bytes consumed from the start of the chain through this pop */
  uint32_t prev; /* the pop before it in the chain (a smaller index), or ET_NO_POP */
} EtPop;

/* A byte trie of all tokens from `root` and of the continuation tokens
 * (prefix stripped) from `suffix_root`, with failure links f(v) and failure
 * pops F(v) per node. */
typedef struct {
  uint32_t n_nodes;
  uint32_t root;        /* word-start tokens */
  uint32_t suffix_root; /* continuation tokens, prefix stripped */
  /* transitions: open addressing (linear probing) on key = node * 256 +
   * byte + 1 (nodes < 2^24), hashed by simple tabulation over the key's 4
   * bytes with tables drawn from the tokenizer's seed (et_hash.h): with the
   * former fixed hash, a crafted vocabulary put every edge in one cluster */
  EtEdge *edges;
  uint64_t edge_mask;
  uint32_t n_edges;
  uint32_t edge_tab[4][256];
  uint32_t root_next[256]; /* dense transitions of the two roots */
  uint32_t suffix_next[256];
  EtNode *nodes; /* per node: f(v) and F(v) */
  EtPop *pops;
  uint32_t n_pops;
} EtWordPieceModel;

/* The edge tables of seed (the same seed gives the same tables). */
static inline void et_wp_hash_init(EtWordPieceModel *m, uint64_t seed) {
  uint64_t state = seed ^ 0x6564676573ULL; /* not the vocabulary map's keys */
  for (int i = 0; i < 4; i++)
    for (int b = 0; b < 256; b++) {
      uint64_t r = et_splitmix64(&state);
      m->edge_tab[i][b] = (uint32_t)(r ^ (r >> 32));
    }
}

static inline uint64_t et_wp_edge_hash(const EtWordPieceModel *m, uint32_t key) {
  return m->edge_tab[0][key & 255] ^ m->edge_tab[1][(key >> 8) & 255] ^ m->edge_tab[2][(key >> 16) & 255] ^
         m->edge_tab[3][key >> 24];
}

/* Trie transition (node, byte) -> child, or ET_NO_NODE. */
static inline uint32_t et_wp_goto(const EtWordPieceModel *m, uint32_t node, unsigned char b) {
  uint32_t key = (node << 8 | b) + 1;
  uint64_t i = et_wp_edge_hash(m, key) & m->edge_mask;
  for (;;) {
    EtEdge e = m->edges[i];
    if (e.key == key) return e.child;
    if (e.key == 0) return ET_NO_NODE;
    i = (i + 1) & m->edge_mask;
  }
}

/* One pre-token (a word of the pre-tokenizer, normalized), as pretokenize.c
 * collects it and wordpiece.c consumes it, and where its tokens go.
 *   bytes[0..nbytes)            the word's UTF-8 (at most cap_chars chars are
 *                               stored; nchars counts them all); the buffer
 *                               holds at least 8 bytes (8-byte loads)
 *   char_of_byte[b]             index of the char that byte b belongs to
 *   orig[k]                     original char index of the word's k-th char
 *   first_orig / last_orig      original char index of the first / last char
 *   first_cp                    the first char (one-char words)
 *   lazy                        char_of_byte and orig are not written yet: every
 *                               stored char so far is one ASCII byte from
 *                               consecutive original chars (char_of_byte[b] = b,
 *                               orig[b] = first_orig + b); et_word_materialize
 *                               writes them */
typedef struct {
  const EtTokenizer *tok;
  EtTokenList *out;
  unsigned char *bytes;
  uint32_t *char_of_byte, *orig;
  size_t nbytes, nchars, cap_chars;
  uint32_t first_orig, last_orig, first_cp;
  int lazy;
} EtWord;

/* Write the char_of_byte / orig entries a lazy word skipped. */
static inline void et_word_materialize(EtWord *w) {
  for (size_t b = 0; b < w->nbytes; b++) {
    w->char_of_byte[b] = (uint32_t)b;
    w->orig[b] = w->first_orig + (uint32_t)b;
  }
  w->lazy = 0;
}

/* WordPiece on one finished pre-token (w->nchars > 0): appends its tokens to
 * w->out and empties the word.  HF's rules: more than
 * max_input_chars_per_word chars, or any position that cannot be matched,
 * gives one [UNK] spanning the word.  Returns 0, or -1 when out of memory. */
int et_wordpiece_word(EtWord *w);

#endif /* EDGETEXT_ET_WORDPIECE_H_ */
