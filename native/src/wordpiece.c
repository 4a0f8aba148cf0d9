/* WordPiece runtime: one pre-token -> tokens, HF's WordPiece model step.
 *
 * Words longer than max_input_chars_per_word become [UNK]; a one-character
 * word is one table read; a word that is itself a token (the first thing
 * greedy longest-match-first would find) is one hash probe; anything else
 * goes through Fast WordPiece (LinMaxMatch) over the model compiled by
 * wordpiece_builder.c: one left-to-right pass over the bytes of the word,
 * following trie edges; when no edge matches, emit the failure pops F(u) and
 * jump to f(u); at the end drain until the continuation root is reached.
 * Equal to HF's greedy longest-match-first WordPiece, including "the whole
 * word becomes [UNK] when any position cannot be matched".  The model is
 * only read.  Depends on tokens and vocab.
 */
#include <string.h>

#include "et_tokenizer.h"
#include "et_vocab.h"
#include "et_wordpiece.h"

static inline uint32_t step(const EtWordPieceModel *m, uint32_t u, unsigned char c) {
  if (u == m->root) return m->root_next[c];
  if (u == m->suffix_root) return m->suffix_next[c];
  return et_wp_goto(m, u, c);
}

/* The token of pop p, starting at byte a of the word and ending at byte b
 * (the chars holding its first and last byte: b - 1, not char_of_byte[b] - 1,
 * is in bounds even for a token ending inside a char, which only a forged
 * compiled model could produce). */
static inline void pop_token(EtToken *t, int32_t id, size_t a, size_t b, const uint32_t *char_of_byte,
                             const uint32_t *orig) {
  t->id = id;
  t->start = orig[char_of_byte[a]];
  t->end = orig[char_of_byte[b - 1]] + 1;
}

/* Emits F(u) when it is longer than one pop: a chain read from its last pop
 * (et_wordpiece.h), so its pops_len tokens are reserved and written from
 * the end; each pop's bytes start where the previous one's end.  Out of
 * line: rare in real vocabularies, and it keeps emit_pops small enough to
 * inline into the hot loop. */
static int emit_chain(const EtWordPieceModel *m, const EtNode *nd, size_t *pos, const uint32_t *char_of_byte,
                      const uint32_t *orig, EtTokenList *out) {
  const EtPop *pops = m->pops;
  uint32_t n = nd->pops_len, k = nd->pops_last;
  size_t base = *pos;
  while (out->cap - out->len < n)
    if (et_tokens_grow(out) != 0) return -1;
  EtToken *slot = out->items + out->len;
  *pos = base + pops[k].end;
  for (uint32_t j = n; j-- > 0;) {
    EtPop p = pops[k];
    size_t start = p.prev == ET_NO_POP ? base : base + pops[p.prev].end; /* prev < k: checked at load */
    pop_token(&slot[j], p.id, start, base + p.end, char_of_byte, orig);
    k = p.prev;
  }
  out->len += n;
  return 0;
}

/* Emits F(u) at byte *pos. */
static inline int emit_pops(const EtWordPieceModel *m, uint32_t u, size_t *pos,
                            const uint32_t *char_of_byte, const uint32_t *orig,
                            EtTokenList *out) {
  const EtNode *nd = &m->nodes[u];
  if (nd->pops_len != 1) return emit_chain(m, nd, pos, char_of_byte, orig, out);
  EtPop p = m->pops[nd->pops_last]; /* the usual F(v): one token (a chain of one: no prev) */
  size_t a = *pos, b = a + p.end;
  if (et_tokens_push(out, p.id, orig[char_of_byte[a]], orig[char_of_byte[b - 1]] + 1) != 0) return -1;
  *pos = b;
  return 0;
}

/* LinMaxMatch on w[0..n), n > 0.  char_of_byte[b] = index of the character
 * containing byte b (size n + 1, char_of_byte[n] = number of chars);
 * orig[k] = original char index of the word's k-th char.  Appends tokens;
 * returns 0, or -1 when out of memory. */
static int linmaxmatch(const EtWordPieceModel *m, int32_t unk_id, const unsigned char *w, size_t n,
                       const uint32_t *char_of_byte, const uint32_t *orig, EtTokenList *out) {
  size_t mark = out->len, pos = 0;
  uint32_t u = m->root;
  for (size_t i = 0; i < n; i++) {
    uint32_t v = step(m, u, w[i]);
    while (v == ET_NO_NODE) {
      uint32_t f = m->nodes[u].fail;
      if (f == ET_NO_NODE) goto unk;
      if (emit_pops(m, u, &pos, char_of_byte, orig, out) != 0) return -1;
      u = f;
      v = step(m, u, w[i]);
    }
    u = v;
  }
  while (u != m->suffix_root) {
    uint32_t f = m->nodes[u].fail;
    if (f == ET_NO_NODE) goto unk;
    if (emit_pops(m, u, &pos, char_of_byte, orig, out) != 0) return -1;
    u = f;
  }
  return 0;
unk:
  out->len = mark;
  return et_tokens_push(out, unk_id, orig[0], orig[char_of_byte[n] - 1] + 1);
}

/* et_inline_bytes(b, n) for n <= 8 of a word buffer (always >= 8 bytes long,
 * see EtWord): one load on little-endian targets. */
static inline uint64_t word_inline(const unsigned char *b, size_t n) {
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint64_t x;
  memcpy(&x, b, 8);
  return n >= 8 ? x : x & ((UINT64_C(1) << (8 * n)) - 1);
#else
  return et_inline_bytes((const char *)b, n);
#endif
}

int et_wordpiece_word(EtWord *w) {
  size_t n = w->nchars;
  const EtTokenizer *tok = w->tok;
  int rc;
  size_t nbytes = w->nbytes;
  w->nchars = 0;
  if (n > tok->max_chars_per_word) {
    w->nbytes = 0;
    return et_tokens_push(w->out, tok->unk_id, w->first_orig, w->last_orig + 1);
  }
  if (n == 1) {
    w->nbytes = 0;
    uint32_t c = w->first_cp;
    int32_t id = c < 0x10000u ? tok->bmp_token[c] : et_vocab_find(&tok->vocab, (const char *)w->bytes, nbytes);
    return et_tokens_push(w->out, id >= 0 ? id : tok->unk_id, w->first_orig, w->first_orig + 1);
  }
  int32_t id = et_vocab_find_inl(&tok->vocab, (const char *)w->bytes, nbytes,
                                 nbytes <= 8 ? word_inline(w->bytes, nbytes) : 0);
  if (id >= 0) {
    rc = et_tokens_push(w->out, id, w->first_orig, w->last_orig + 1);
  } else {
    if (w->lazy) et_word_materialize(w);
    w->char_of_byte[nbytes] = (uint32_t)n;
    rc = linmaxmatch(&tok->wp, tok->unk_id, w->bytes, nbytes, w->char_of_byte, w->orig, w->out);
  }
  w->nbytes = 0;
  return rc;
}
