/* Tokenizer: Fast WordPiece (LinMaxMatch) over the model compiled by
 * wordpiece_builder.c.  One left-to-right pass over the bytes of a word:
 * follow trie edges; when no edge matches, emit the failure pops F(u) and
 * jump to f(u); at the end drain until the continuation root is reached.
 * Equal to HF's greedy longest-match-first WordPiece, including "the whole
 * word becomes [UNK] when any position cannot be matched".
 */
#include "et_internal.h"

static inline uint32_t step(const EtWordPieceModel *m, uint32_t u, unsigned char c) {
  if (u == m->root) return m->root_next[c];
  if (u == m->suffix_root) return m->suffix_next[c];
  return et_wp_goto(m, u, c);
}

static inline int emit_pops(const EtWordPieceModel *m, uint32_t u, size_t *pos,
                            const uint32_t *char_of_byte, const uint32_t *orig,
                            EtTokenList *out) {
  const EtNode *nd = &m->nodes[u];
  const EtPop *p = &m->pops[nd->pops_off];
  for (uint32_t k = 0; k < nd->pops_len; k++) {
    size_t a = *pos, b = a + p[k].bytes;
    uint32_t ca = char_of_byte[a], cb = char_of_byte[b];
    if (et_tokens_push(out, p[k].id, orig[ca], orig[cb - 1] + 1) != 0) return -1;
    *pos = b;
  }
  return 0;
}

int et_wordpiece_tokenize(const EtTokenizer *tok, const unsigned char *w, size_t n,
                          const uint32_t *char_of_byte, const uint32_t *orig,
                          EtTokenList *out) {
  const EtWordPieceModel *m = &tok->wp;
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
  return et_tokens_push(out, tok->unk_id, orig[0], orig[char_of_byte[n] - 1] + 1);
}
