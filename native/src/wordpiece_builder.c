/* Builder: compiles a vocabulary into the flat Fast WordPiece model.
 *
 * Kept apart from the tokenizer (wordpiece.c), which only reads the model,
 * the way tensorflow/text separates fast_wordpiece_tokenizer_model_builder
 * from fast_wordpiece_tokenizer.  LinMaxMatch (Song et al., arXiv 2012.15524):
 * a trie of all tokens from `root`, a second trie of the continuation tokens
 * (prefix "##" stripped) from `suffix_root`, and for every node v a failure
 * link f(v) and failure pops F(v): the tokens greedy longest-match-first
 * emits when the match cannot be extended past v, and the node where matching
 * resumes afterwards.
 */
#include <stdlib.h>
#include <string.h>

#include "et_internal.h"
#include "unicode_tables.h"

uint64_t et_hash_bytes(const char *s, size_t n) {
  if (n <= 8) return et_hash_inline(et_inline_bytes(s, n), n);
  uint64_t h = (uint64_t)n * 0x9E3779B97F4A7C15ULL;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    h = (h ^ et_load64(s + i)) * 0xFF51AFD7ED558CCDULL;
    h ^= h >> 32;
  }
  if (i < n) h ^= et_load64(s + n - 8) * 0xC4CEB9FE1A85EC53ULL; /* the last 8 bytes (n > 8) */
  return et_fmix64(h);
}

static inline uint32_t map_tag(uint64_t h, size_t n) {
  return (uint32_t)(h >> 40) << 8 | (uint32_t)(n < 255 ? n : 255);
}

/* Exact lookup; a hit on a token of up to 8 bytes reads only its slot. */
static inline int32_t map_find_h(const EtVocab *v, const char *s, size_t n, uint64_t h, uint64_t inl,
                                 size_t *slot) {
  uint32_t tag = map_tag(h, n);
  size_t i = (size_t)h & v->map_mask;
  for (;;) {
    const EtMapSlot *e = &v->map[i];
    if (e->id1 == 0) {
      if (slot) *slot = i;
      return -1;
    }
    if (e->tag == tag && e->inl == inl) {
      uint32_t id = e->id1 - 1;
      if (n <= 8 || (v->tok_len[id] == n && memcmp(v->bytes + v->tok_off[id], s, n) == 0)) {
        if (slot) *slot = i;
        return (int32_t)id;
      }
    }
    i = (i + 1) & v->map_mask;
  }
}

static int32_t map_find(const EtVocab *v, const char *s, size_t n, size_t *slot) {
  return map_find_h(v, s, n, et_hash_bytes(s, n), et_inline_bytes(s, n), slot);
}

int32_t et_vocab_find(const EtVocab *vocab, const char *s, size_t n) {
  if (vocab->map == NULL) return -1;
  return map_find(vocab, s, n, NULL);
}

int32_t et_vocab_find_inl(const EtVocab *vocab, const char *s, size_t n, uint64_t inl) {
  if (vocab->map == NULL) return -1;
  if (n > 8) return map_find(vocab, s, n, NULL);
  return map_find_h(vocab, s, n, et_hash_inline(inl, n), inl, NULL);
}

void et_vocab_free(EtVocab *vocab) {
  free(vocab->bytes);
  free(vocab->tok_off);
  free(vocab->tok_len);
  free(vocab->map);
  memset(vocab, 0, sizeof(*vocab));
}

/* Length of the line without trailing White_Space (Rust str::trim_end, as HF
 * WordPiece::read_file); -1 when the line is not valid UTF-8. */
static long trimmed_length(const unsigned char *s, size_t n) {
  size_t i = 0, keep = 0;
  while (i < n) {
    int32_t c = et_utf8_next(s, n, &i);
    if (c < 0) return -1;
    if (!(et_uprop_of((uint32_t)c)->flags & ET_UF_WS)) keep = i;
  }
  return (long)keep;
}

EtStatus et_vocab_parse(EtVocab *v, const char *data, size_t size, EtError *err) {
  memset(v, 0, sizeof(*v));
  if (size >= UINT32_MAX) {
    et_set_error(err, ET_ERR_VOCAB, "vocabulary too large (%zu bytes)", size);
    return ET_ERR_VOCAB;
  }
  size_t lines = 0;
  for (size_t i = 0; i < size; i++)
    if (data[i] == '\n') lines++;
  if (size > 0 && data[size - 1] != '\n') lines++;
  if (lines == 0) {
    et_set_error(err, ET_ERR_VOCAB, "the vocabulary is empty");
    return ET_ERR_VOCAB;
  }
  size_t cap = 16;
  while (cap < lines * 2) cap <<= 1;
  v->bytes = malloc(size + 1);
  v->tok_off = malloc(lines * sizeof(uint32_t));
  v->tok_len = malloc(lines * sizeof(uint32_t));
  v->map = calloc(cap, sizeof(EtMapSlot));
  if (!v->bytes || !v->tok_off || !v->tok_len || !v->map) {
    et_vocab_free(v);
    et_set_error(err, ET_ERR_NO_MEMORY, "out of memory reading the vocabulary");
    return ET_ERR_NO_MEMORY;
  }
  v->map_mask = cap - 1;
  size_t pos = 0, out = 0, id = 0;
  while (pos < size) {
    const char *nl = memchr(data + pos, '\n', size - pos);
    size_t end = nl ? (size_t)(nl - data) : size;
    long len = trimmed_length((const unsigned char *)data + pos, end - pos);
    if (len < 0) {
      et_set_error(err, ET_ERR_VOCAB, "vocabulary line %zu is not valid UTF-8", id + 1);
      et_vocab_free(v);
      return ET_ERR_VOCAB;
    }
    memcpy(v->bytes + out, data + pos, (size_t)len);
    v->tok_off[id] = (uint32_t)out;
    v->tok_len[id] = (uint32_t)len;
    size_t slot;
    int32_t prev = map_find(v, v->bytes + out, (size_t)len, &slot);
    if (prev >= 0) {
      v->tok_off[prev] = UINT32_MAX; /* HF: the last line of a duplicate wins */
      v->tok_len[prev] = UINT32_MAX;
    } else {
      v->n_unique++;
    }
    v->map[slot].tag = map_tag(et_hash_bytes(v->bytes + out, (size_t)len), (size_t)len);
    v->map[slot].inl = et_inline_bytes(v->bytes + out, (size_t)len);
    v->map[slot].id1 = (uint32_t)id + 1;
    out += (size_t)len;
    id++;
    pos = end + 1;
  }
  v->n_ids = id;
  v->bytes_len = out;
  return ET_OK;
}

/* ---- trie under construction ---- */
typedef struct {
  EtWordPieceModel *m;
  uint32_t cap;
  uint32_t *first_child, *next_sibling, *depth;
  unsigned char *label;
  uint64_t n_edges;
} Build;

static void edge_put_raw(EtWordPieceModel *m, uint32_t key, uint32_t child) {
  uint64_t i = ET_EDGE_HASH(key) & m->edge_mask;
  while (m->edges[i].key != 0) i = (i + 1) & m->edge_mask;
  m->edges[i].key = key;
  m->edges[i].child = child;
}

static int edges_grow(Build *b) {
  EtWordPieceModel *m = b->m;
  uint64_t old_cap = m->edge_mask + 1, cap = old_cap * 2;
  EtEdge *edges = calloc(cap, sizeof(EtEdge));
  if (!edges) return -1;
  EtEdge *old = m->edges;
  m->edges = edges;
  m->edge_mask = cap - 1;
  for (uint64_t i = 0; i < old_cap; i++)
    if (old[i].key) edge_put_raw(m, old[i].key, old[i].child);
  free(old);
  return 0;
}

static uint32_t new_node(Build *b, uint32_t depth) {
  EtWordPieceModel *m = b->m;
  if (m->n_nodes >= ET_MAX_NODES) return ET_NO_NODE;
  if (m->n_nodes == b->cap) {
    uint32_t cap = b->cap * 2;
    int32_t *tok = realloc(m->node_token, cap * sizeof(int32_t));
    if (tok) m->node_token = tok;
    uint32_t *fc = realloc(b->first_child, cap * sizeof(uint32_t));
    if (fc) b->first_child = fc;
    uint32_t *ns = realloc(b->next_sibling, cap * sizeof(uint32_t));
    if (ns) b->next_sibling = ns;
    uint32_t *dp = realloc(b->depth, cap * sizeof(uint32_t));
    if (dp) b->depth = dp;
    unsigned char *lb = realloc(b->label, cap);
    if (lb) b->label = lb;
    if (!tok || !fc || !ns || !dp || !lb) return ET_NO_NODE;
    b->cap = cap;
  }
  uint32_t n = m->n_nodes++;
  m->node_token[n] = -1;
  b->first_child[n] = ET_NO_NODE;
  b->next_sibling[n] = ET_NO_NODE;
  b->depth[n] = depth;
  b->label[n] = 0;
  return n;
}

static int insert(Build *b, uint32_t from, const unsigned char *s, size_t n, int32_t id) {
  EtWordPieceModel *m = b->m;
  uint32_t u = from;
  for (size_t i = 0; i < n; i++) {
    uint32_t v = et_wp_goto(m, u, s[i]);
    if (v == ET_NO_NODE) {
      if ((b->n_edges + 1) * 3 > (m->edge_mask + 1) * 2 && edges_grow(b) != 0) return -1;
      v = new_node(b, b->depth[u] + 1);
      if (v == ET_NO_NODE) return -1;
      edge_put_raw(m, (u << 8 | s[i]) + 1, v);
      b->n_edges++;
      b->label[v] = s[i];
      b->next_sibling[v] = b->first_child[u];
      b->first_child[u] = v;
    }
    u = v;
  }
  m->node_token[u] = id;
  return 0;
}

void et_wordpiece_free(EtWordPieceModel *m) {
  free(m->nodes);
  free(m->pops);
  free(m->edges);
  free(m->node_token);
  free(m->fail_link);
  free(m->pops_off);
  free(m->pops_len);
  free(m->pops_id);
  free(m->pops_bytes);
  memset(m, 0, sizeof(*m));
}

static EtStatus oom(EtWordPieceModel *m, Build *b, EtError *err) {
  free(b->first_child);
  free(b->next_sibling);
  free(b->depth);
  free(b->label);
  int too_big = m->n_nodes >= ET_MAX_NODES;
  et_wordpiece_free(m);
  if (too_big) {
    et_set_error(err, ET_ERR_VOCAB, "vocabulary too large (more than %u trie nodes)", ET_MAX_NODES);
    return ET_ERR_VOCAB;
  }
  et_set_error(err, ET_ERR_NO_MEMORY, "out of memory compiling the vocabulary");
  return ET_ERR_NO_MEMORY;
}

typedef struct {
  int32_t *id;
  uint32_t *bytes;
  uint32_t len, cap;
} Pops;

static int pops_push(Pops *p, int32_t id, uint32_t bytes) {
  if (p->len == p->cap) {
    if (p->cap >= UINT32_MAX / 4) return -1;
    uint32_t cap = p->cap ? p->cap * 2 : 1024;
    int32_t *a = realloc(p->id, cap * sizeof(int32_t));
    if (a) p->id = a;
    uint32_t *c = realloc(p->bytes, cap * sizeof(uint32_t));
    if (c) p->bytes = c;
    if (!a || !c) return -1;
    p->cap = cap;
  }
  p->id[p->len] = id;
  p->bytes[p->len] = bytes;
  p->len++;
  return 0;
}

EtStatus et_wordpiece_build(EtWordPieceModel *m, const EtVocab *vocab, const char *prefix,
                            size_t prefix_len, EtError *err) {
  memset(m, 0, sizeof(*m));
  Build b = {m, 0, NULL, NULL, NULL, NULL, 0};
  b.cap = 1024;
  m->node_token = malloc(b.cap * sizeof(int32_t));
  b.first_child = malloc(b.cap * sizeof(uint32_t));
  b.next_sibling = malloc(b.cap * sizeof(uint32_t));
  b.depth = malloc(b.cap * sizeof(uint32_t));
  b.label = malloc(b.cap);
  m->edge_mask = 4095;
  m->edges = calloc(m->edge_mask + 1, sizeof(EtEdge));
  if (!m->node_token || !b.first_child || !b.next_sibling || !b.depth || !b.label ||
      !m->edges)
    return oom(m, &b, err);
  m->root = new_node(&b, 0);
  m->suffix_root = new_node(&b, 0);
  for (size_t id = 0; id < vocab->n_ids; id++) {
    if (vocab->tok_off[id] == UINT32_MAX || vocab->tok_len[id] == 0) continue;
    const unsigned char *s = (const unsigned char *)vocab->bytes + vocab->tok_off[id];
    size_t n = vocab->tok_len[id];
    if (insert(&b, m->root, s, n, (int32_t)id) != 0) return oom(m, &b, err);
    if (n > prefix_len && memcmp(s, prefix, prefix_len) == 0 &&
        insert(&b, m->suffix_root, s + prefix_len, n - prefix_len, (int32_t)id) != 0)
      return oom(m, &b, err);
  }
  uint32_t nn = m->n_nodes;
  m->fail_link = malloc(nn * sizeof(uint32_t));
  m->pops_off = calloc(nn, sizeof(uint32_t));
  m->pops_len = calloc(nn, sizeof(uint32_t));
  uint32_t *queue = malloc(nn * sizeof(uint32_t));
  Pops pops = {NULL, NULL, 0, 0};
  if (!m->fail_link || !m->pops_off || !m->pops_len || !queue) {
    free(queue);
    return oom(m, &b, err);
  }
  /* breadth-first over both tries at once: f(v) is always shallower than v */
  uint32_t head = 0, tail = 0;
  m->fail_link[m->root] = ET_NO_NODE;
  m->fail_link[m->suffix_root] = ET_NO_NODE;
  queue[tail++] = m->root;
  queue[tail++] = m->suffix_root;
  while (head < tail) {
    uint32_t u = queue[head++];
    for (uint32_t v = b.first_child[u]; v != ET_NO_NODE; v = b.next_sibling[v]) {
      queue[tail++] = v;
      unsigned char c = b.label[v];
      uint32_t start = pops.len;
      if (m->node_token[v] >= 0) {
        if (pops_push(&pops, m->node_token[v], b.depth[v]) != 0) goto fail;
        m->fail_link[v] = m->suffix_root;
      } else {
        uint32_t z = m->fail_link[u], target = ET_NO_NODE;
        /* F(v) = F(u) + F(z) + F(f(z)) + ... until z can read c */
        for (uint32_t k = 0; k < m->pops_len[u]; k++)
          if (pops_push(&pops, pops.id[m->pops_off[u] + k], pops.bytes[m->pops_off[u] + k]) != 0)
            goto fail;
        while (z != ET_NO_NODE) {
          target = et_wp_goto(m, z, c);
          if (target != ET_NO_NODE) break;
          for (uint32_t k = 0; k < m->pops_len[z]; k++)
            if (pops_push(&pops, pops.id[m->pops_off[z] + k], pops.bytes[m->pops_off[z] + k]) != 0)
              goto fail;
          z = m->fail_link[z];
        }
        m->fail_link[v] = target;
        if (target == ET_NO_NODE) pops.len = start; /* matching fails from v: no pops needed */
      }
      m->pops_off[v] = start;
      m->pops_len[v] = pops.len - start;
    }
  }
  free(queue);
  m->pops_id = pops.id;
  m->pops_bytes = pops.bytes;
  m->n_pops = pops.len;
  /* pack into the cache-friendly layout the tokenizer reads */
  m->nodes = malloc(nn * sizeof(EtNode));
  m->pops = malloc((pops.len ? pops.len : 1) * sizeof(EtPop));
  if (!m->nodes || !m->pops) return oom(m, &b, err);
  for (uint32_t v = 0; v < nn; v++) {
    m->nodes[v].fail = m->fail_link[v];
    m->nodes[v].pops_off = m->pops_off[v];
    m->nodes[v].pops_len = m->pops_len[v];
  }
  for (uint32_t k = 0; k < pops.len; k++) {
    m->pops[k].id = pops.id[k];
    m->pops[k].bytes = pops.bytes[k];
  }
  free(m->fail_link);
  free(m->pops_off);
  free(m->pops_len);
  free(m->pops_id);
  free(m->pops_bytes);
  free(m->node_token);
  m->fail_link = m->pops_off = m->pops_len = m->pops_bytes = NULL;
  m->pops_id = m->node_token = NULL;
  for (int c = 0; c < 256; c++) {
    m->root_next[c] = et_wp_goto(m, m->root, (unsigned char)c);
    m->suffix_next[c] = et_wp_goto(m, m->suffix_root, (unsigned char)c);
  }
  free(b.first_child);
  free(b.next_sibling);
  free(b.depth);
  free(b.label);
  return ET_OK;
fail:
  free(queue);
  free(pops.id);
  free(pops.bytes);
  return oom(m, &b, err);
}
